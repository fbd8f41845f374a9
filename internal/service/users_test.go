package service_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

func newService(t *testing.T) *service.Service {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kycreview.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return service.New(db, time.Now)
}

func TestConsoleUserLifecycle(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	app, err := svc.CreateApplication(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	appID := app.Application.ID

	// A user without an application, with a password.
	u, err := svc.CreateUser(ctx, service.UserInput{Email: "Ana@Example.com", FullName: "Ana", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, service.UserInput{Email: "ana@EXAMPLE.com", FullName: "Ana 2"}); kycreview.ErrorCode(err) != kycreview.ECONFLICT {
		t.Errorf("the same email in another case: %v, want ECONFLICT", err)
	}
	if _, err := svc.CreateUser(ctx, service.UserInput{Email: "bob@example.com", Password: "short"}); kycreview.ErrorCode(err) != kycreview.EINVALID {
		t.Errorf("a short password: %v, want EINVALID", err)
	}

	// Sign-in: one answer for every failure.
	if got, err := svc.SignIn(ctx, " ANA@example.com ", "correct horse battery"); err != nil || got.ID != u.ID {
		t.Errorf("sign in: %+v %v", got, err)
	}
	for _, c := range [][2]string{{"ana@example.com", "wrong password"}, {"nobody@example.com", "correct horse battery"}} {
		if _, err := svc.SignIn(ctx, c[0], c[1]); err != service.ErrBadCredentials {
			t.Errorf("sign in as %s with %q: %v, want ErrBadCredentials", c[0], c[1], err)
		}
	}
	nopw, err := svc.CreateConsoleUser(ctx, appID, "carol@example.com", "Carol")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SignIn(ctx, "carol@example.com", ""); err != service.ErrBadCredentials {
		t.Errorf("sign in without a password set: %v", err)
	}
	if err := svc.SetPassword(ctx, nopw.ID, "another good one"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SignIn(ctx, "carol@example.com", "another good one"); err != nil {
		t.Errorf("sign in after SetPassword: %v", err)
	}

	// Membership by email or id.
	if _, err := svc.AddMember(ctx, appID, "ana@example.com"); err != nil {
		t.Fatal(err)
	}
	list, err := svc.ConsoleUsers(ctx, appID)
	if err != nil || len(list) != 2 || list[0].User.ID != u.ID || len(list[0].Applications) != 1 || list[0].Applications[0] != appID {
		t.Errorf("members: %+v %v", list, err)
	}
	if _, err := svc.RemoveMember(ctx, appID, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RemoveMember(ctx, appID, u.ID); kycreview.ErrorCode(err) != kycreview.ENOTFOUND {
		t.Errorf("removing twice: %v", err)
	}
	if _, err := svc.ConsoleUsers(ctx, "00000000-0000-4000-8000-000000000000"); kycreview.ErrorCode(err) != kycreview.ENOTFOUND {
		t.Errorf("members of an unknown application: %v", err)
	}
	if _, err := svc.AddMember(ctx, appID, "nobody@example.com"); err != service.ErrUserNotFound {
		t.Errorf("adding an unknown user: %v", err)
	}

	// Disabled: cannot sign in, cannot be mentioned.
	d, _, err := svc.DisableConsoleUser(ctx, "carol@example.com")
	if err != nil || d.DisabledAt == nil {
		t.Fatalf("disable: %+v %v", d, err)
	}
	if _, err := svc.SignIn(ctx, "carol@example.com", "another good one"); err != service.ErrBadCredentials {
		t.Errorf("a disabled user signed in: %v", err)
	}
	key, err := svc.Authenticate(ctx, app.Token)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := svc.CreateSession(ctx, key, service.SessionInput{WorkflowID: app.Workflows[kycreview.KindUser].ID})
	if err != nil {
		t.Fatal(err)
	}
	status, comment := kycreview.StatusApproved, "ok @carol@example.com"
	row, err := svc.Review(ctx, key, sess.ID, kycreview.Change{NewStatus: &status, Comment: &comment}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(row.MentionedEmails) != 0 {
		t.Errorf("a disabled user was mentioned: %v", row.MentionedEmails)
	}
}

func TestInbox(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	app, err := svc.CreateApplication(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	ana, err := svc.CreateConsoleUser(ctx, app.Application.ID, "ana@example.com", "Ana")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := svc.Authenticate(ctx, app.Token)
	sess, err := svc.CreateSession(ctx, key, service.SessionInput{WorkflowID: app.Workflows[kycreview.KindUser].ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"one @ana@example.com", "two @ana@example.com"} {
		status, comment := kycreview.StatusInReview, c
		if _, err := svc.Review(ctx, key, sess.ID, kycreview.Change{NewStatus: &status, Comment: &comment}, nil); err != nil {
			t.Fatal(err)
		}
	}
	in, err := svc.Notifications(ctx, ana.ID, 10, 0)
	if err != nil || in.Count != 2 || in.Unread != 2 || *in.Notifications[0].Comment != "two @ana@example.com" || in.Notifications[0].SessionID != sess.ID {
		t.Fatalf("inbox: %+v %v", in, err)
	}
	if _, err := svc.MarkNotificationsRead(ctx, ana.ID, []string{"not-an-id"}); kycreview.ErrorCode(err) != kycreview.EINVALID {
		t.Errorf("a bad id: %v", err)
	}
	if n, err := svc.MarkNotificationsRead(ctx, ana.ID, []string{in.Notifications[1].ID}); err != nil || n != 1 {
		t.Errorf("mark one: %d %v", n, err)
	}
	if in, _ = svc.Notifications(ctx, ana.ID, 10, 0); in.Unread != 1 || in.Notifications[1].ReadAt == nil {
		t.Errorf("after marking the older one read: %+v", in)
	}
	if n, err := svc.MarkNotificationsRead(ctx, ana.ID, nil); err != nil || n != 1 {
		t.Errorf("mark all: %d %v", n, err)
	}
}
