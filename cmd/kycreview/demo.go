package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

const demoAppName = "Demo"

// seedDemo gives a newcomer something to look at. On an empty database it
// creates a demo application with console users and sessions in several
// statuses, all through the service (the same code paths as the API). If
// the demo application exists already, it only mints a fresh key, since a
// key's secret cannot be shown twice. Either way it prints curl commands.
func seedDemo(ctx context.Context, svc *service.Service, baseURL string, w io.Writer) error {
	n, appID, err := svc.DemoState(ctx, demoAppName)
	if err != nil {
		return err
	}
	var token string
	switch {
	case n == 0:
		token, err = createDemo(ctx, svc)
		if err != nil {
			return err
		}
	case appID != "":
		_, token, err = svc.CreateAPIKey(ctx, appID, kycreview.RoleClient)
		if err != nil {
			return err
		}
	default:
		fmt.Fprintln(w, "The database already has applications and no demo; --demo created nothing.")
		return nil
	}
	key, err := svc.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	// A fresh console password for the demo reviewer on every start, for
	// the same reason as the key: a secret is shown once.
	var pw [12]byte
	_, _ = rand.Read(pw[:]) // crypto/rand.Read never fails (Go 1.24+)
	password := base64.RawURLEncoding.EncodeToString(pw[:])
	if err := svc.SetPassword(ctx, demoReviewer, password); err != nil {
		return err
	}
	// A session in review if there is one; after the walk-through has
	// approved it, the newest KYC session, which the commands work on too.
	var sess kycreview.Session
	for _, statuses := range [][]kycreview.Status{{kycreview.StatusInReview}, nil} {
		found, _, err := svc.ListSessions(ctx, key, kycreview.SessionFilter{
			Kinds: []kycreview.Kind{kycreview.KindUser}, Statuses: statuses, Limit: 1,
		})
		if err != nil {
			return err
		}
		if len(found) > 0 {
			sess = found[0]
			break
		}
	}
	if sess.ID == "" {
		return fmt.Errorf("the demo application has no KYC session (was its seeding interrupted?); start on a fresh database file")
	}
	id := sess.ID
	fmt.Fprintf(w, `
kycreview demo application
  API key:  %[1]s
  Session:  %[2]s (%[4]s)

Read its activity feed, oldest first:
  curl -s '%[3]s/v3/sessions/%[2]s/reviews/?ordering=created_at' -H 'x-api-key: %[1]s'

Approve it with a comment that mentions a console user:
  curl -s -X POST '%[3]s/v3/sessions/%[2]s/reviews/' -H 'x-api-key: %[1]s' \
    -H 'Content-Type: application/json' \
    -d '{"new_status": "Approved", "comment": "Address matches. @ana.reviewer@example.com FYI"}'

List the application's sessions:
  curl -s '%[3]s/v3/sessions/' -H 'x-api-key: %[1]s'

Sign in to the reviewers' console:
  %[3]s/console/   as %[5]s, password %[6]s

`, token, id, baseURL, sess.Status, demoReviewer, password)
	return nil
}

// demoReviewer is the demo console user whose password --demo prints.
const demoReviewer = "ana.reviewer@example.com"

// createDemo seeds the demo application and returns its client key.
func createDemo(ctx context.Context, svc *service.Service) (string, error) {
	app, err := svc.CreateApplication(ctx, demoAppName)
	if err != nil {
		return "", err
	}
	appID := app.Application.ID
	for _, u := range []struct{ email, name string }{
		{demoReviewer, "Ana Reviewer"},
		{"compliance.lead@example.com", "Compliance Lead"},
	} {
		if _, err := svc.CreateConsoleUser(ctx, appID, u.email, u.name); err != nil {
			return "", err
		}
	}
	_, systemToken, err := svc.CreateAPIKey(ctx, appID, kycreview.RoleSystem)
	if err != nil {
		return "", err
	}
	client, err := svc.Authenticate(ctx, app.Token)
	if err != nil {
		return "", err
	}
	pipeline, err := svc.Authenticate(ctx, systemToken)
	if err != nil {
		return "", err
	}

	str := func(s string) *string { return &s }
	// Each demo session: its workflow kind, vendor_data, the statuses the
	// pipeline moves it through, then an optional reviewer decision.
	type step struct {
		status  kycreview.Status
		comment string
	}
	demos := []struct {
		kind   kycreview.Kind
		vendor string
		steps  []step
		review *step
	}{
		{kycreview.KindUser, "user-1001", nil, nil},
		{kycreview.KindUser, "user-1002", []step{{kycreview.StatusInProgress, ""}, {kycreview.StatusInReview, "Document glare: automatic check inconclusive."}}, nil},
		{kycreview.KindUser, "user-1003", []step{{kycreview.StatusInProgress, ""}, {kycreview.StatusInReview, ""}},
			&step{kycreview.StatusApproved, "Document re-checked manually; address matches. cc @compliance.lead@example.com"}},
		{kycreview.KindUser, "user-1004", []step{{kycreview.StatusInProgress, ""}, {kycreview.StatusInReview, ""}},
			&step{kycreview.StatusDeclined, "Selfie does not match the document portrait."}},
		{kycreview.KindBusiness, "company-2001", []step{{kycreview.StatusInProgress, ""}, {kycreview.StatusInReview, "Registry lookup pending."}}, nil},
	}
	for _, d := range demos {
		sess, err := svc.CreateSession(ctx, pipeline, service.SessionInput{
			WorkflowID: app.Workflows[d.kind].ID,
			VendorData: str(d.vendor),
			Metadata:   []byte(`{"source":"demo"}`),
		})
		if err != nil {
			return "", err
		}
		for _, st := range d.steps {
			change := kycreview.Change{NewStatus: &st.status}
			if st.comment != "" {
				change.Comment = str(st.comment)
			}
			if err := svc.UpdateStatus(ctx, pipeline, sess.ID, change, nil); err != nil {
				return "", err
			}
		}
		if d.review != nil {
			change := kycreview.Change{NewStatus: &d.review.status, Comment: str(d.review.comment)}
			if _, err := svc.Review(ctx, client, sess.ID, change, nil); err != nil {
				return "", err
			}
		}
	}
	return app.Token, nil
}
