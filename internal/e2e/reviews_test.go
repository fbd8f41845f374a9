package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/client"
	"github.com/kycreview/kycreview/internal/service"
)

// TestFeedMatchesSeed stores rows equal to seed 000's three rows (same ids
// and times) and checks that the feed renders exactly the seed's response.
func TestFeedMatchesSeed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const sessionID = "8c2f3a14-7e9b-4d23-9e83-3f7d5e8a1c6d"
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	unknown := kycreview.Actor{Type: kycreview.ActorConsoleUser, Display: "Unknown"}
	rows := []kycreview.Activity{
		{ID: "00338f82-f1c5-4f57-8614-c49bb258af1a", Type: kycreview.ActivityStatusUpdated, Actor: unknown,
			NewStatus: ptr(kycreview.StatusInReview), Comment: ptr("Flagging for manual document re-check."), CreatedAt: at("2026-06-12T00:18:44.466537Z")},
		{ID: "35370f58-5098-44ee-8a06-8c9af80b2455", Type: kycreview.ActivityStatusUpdated, Actor: unknown,
			Comment: ptr("Note without status."), CreatedAt: at("2026-06-12T00:18:44.504157Z")},
		{ID: "de0561bc-5583-4409-9171-1a31a4c8a5f4", Type: kycreview.ActivityStatusUpdated, Actor: kycreview.APIKeyActor(""),
			PreviousStatus: ptr(kycreview.StatusInReview), NewStatus: ptr(kycreview.StatusApproved),
			Comment:       ptr("Document re-checked manually; address matches."),
			PreviousValue: []byte(`{"status":"In Review"}`), NewValue: []byte(`{"status":"Approved"}`), ChangedFields: []string{"status"},
			CreatedAt: at("2026-06-12T00:19:31.918735Z")},
	}
	err := e.store.WriteTx(ctx, func(tx service.Tx) error {
		s := kycreview.Session{ID: sessionID, ApplicationID: e.app.Application.ID, WorkflowID: e.app.Workflows[kycreview.KindUser].ID,
			Kind: kycreview.KindUser, Status: kycreview.StatusInReview, CreatedAt: at("2026-06-12T00:18:00Z")}
		if err := tx.CreateSession(ctx, &s); err != nil {
			return err
		}
		for i := range rows {
			rows[i].SessionPK, rows[i].Seq = s.PK, int64(i+1)
			if err := tx.InsertActivity(ctx, &rows[i]); err != nil {
				return err
			}
		}
		s.Status, s.ActivityCount, s.LastActivityAt = kycreview.StatusApproved, 3, rows[2].CreatedAt
		return tx.UpdateSession(ctx, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/seed000_feed.json")
	if err != nil {
		t.Fatal(err)
	}
	got := e.do("GET", "/v3/sessions/"+sessionID+"/reviews/?limit=50", "", e.key())
	expect(t, got, 200, compact(t, want))
}

// TestReviewMatchesSeed posts seed 001's request and checks the response has
// the seed's fields, order and values, with a millisecond created_at.
func TestReviewMatchesSeed(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	res := e.do("POST", "/v3/sessions/"+id+"/reviews/",
		`{"new_status": "Approved", "comment": "POA cross-checked against utility bill; matches address on file."}`, e.key(), jsonType)
	if res.status != 201 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	ms := regexp.MustCompile(`"created_at":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"`)
	m := ms.FindStringSubmatch(res.body)
	if m == nil {
		t.Fatalf("created_at is not millisecond UTC: %s", res.body)
	}
	want, err := os.ReadFile("testdata/seed001_review.json")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Replace(res.body, m[1], "2026-04-21T16:42:50.445Z", 1)
	if w := compact(t, want); got != w {
		t.Errorf("response\n got %s\nwant %s", got, w)
	}
	// The feed shows the row with the same instant, at microsecond precision.
	page, err := e.client.Feed(context.Background(), id, client.FeedParams{})
	if err != nil {
		t.Fatal(err)
	}
	if page.Count != 1 || !strings.HasPrefix(kycreview.FormatMicro(page.Results[0].CreatedAt), strings.TrimSuffix(m[1], "Z")) {
		t.Errorf("feed after review: %+v", page)
	}
	r := page.Results[0]
	if r.ActorType != "API_KEY" || r.ActorDisplay != "API Client" || r.ActorEmail != nil || *r.PreviousStatus != "Not Started" ||
		*r.NewStatus != "Approved" || string(r.PreviousValue) != `{"status":"Not Started"}` || string(r.NewValue) != `{"status":"Approved"}` ||
		!cmp.Equal(r.ChangedFields, []string{"status"}) || string(r.Metadata) != "null" {
		t.Errorf("feed row: %+v", r)
	}
}

// TestReviewSameStatus: a review that does not change the status still
// writes a row and queues a webhook, with null snapshots.
func TestReviewSameStatus(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	for i := 0; i < 2; i++ {
		if _, err := e.client.CreateReview(context.Background(), id, client.ReviewRequest{NewStatus: "In Review"}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := e.client.Feed(context.Background(), id, client.FeedParams{})
	if err != nil {
		t.Fatal(err)
	}
	second := page.Results[0]
	if page.Count != 2 || *second.PreviousStatus != "In Review" || string(second.PreviousValue) != "null" ||
		string(second.NewValue) != "null" || len(second.ChangedFields) != 0 || second.Comment != nil {
		t.Errorf("second row: %+v", second)
	}
	if n := e.count(`SELECT count(*) FROM webhook_outbox`); n != 2 {
		t.Errorf("outbox rows = %d, want 2", n)
	}
}

// TestConcurrentReviews sends 50 reviews of one session at once: every one
// lands, and the chain of statuses is exact in commit order.
func TestConcurrentReviews(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	const n = 50
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status := kycreview.ReviewStatuses()[rand.IntN(len(kycreview.ReviewStatuses()))]
			_, err := e.client.CreateReview(context.Background(), id, client.ReviewRequest{NewStatus: string(status), Comment: ptr(fmt.Sprint("review ", i))})
			if err != nil {
				t.Errorf("review %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	var rows []client.FeedEntry
	for r, err := range e.client.FeedEntries(context.Background(), id, client.FeedParams{Ordering: "created_at", Limit: 7}) {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if len(rows) != n {
		t.Fatalf("feed has %d rows, want %d", len(rows), n)
	}
	prev := "Not Started"
	for i, r := range rows {
		if *r.PreviousStatus != prev {
			t.Errorf("row %d: previous_status %q, want %q (the status before it)", i, *r.PreviousStatus, prev)
		}
		if i > 0 && !r.CreatedAt.After(rows[i-1].CreatedAt) {
			t.Errorf("row %d: created_at %v not after %v", i, r.CreatedAt, rows[i-1].CreatedAt)
		}
		prev = *r.NewStatus
	}
	d, err := e.client.Decision(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != prev || len(d.Reviews) != n {
		t.Errorf("session status %q with %d reviews, want %q and %d", d.Status, len(d.Reviews), prev, n)
	}
	if got := e.count(`SELECT count(*) FROM webhook_outbox`); got != n {
		t.Errorf("outbox rows = %d, want %d", got, n)
	}
}

// TestFailedRequestWritesNothing makes an insert fail inside the review's
// transaction (a trigger stands in for a full disk), first the webhook
// event's and then the last write of all, a mentioned user's notification:
// the request fails with a 500 and leaves no row, no status change, no
// event and no notification.
func TestFailedRequestWritesNothing(t *testing.T) {
	for _, table := range []string{"webhook_outbox", "notifications"} {
		t.Run(table, func(t *testing.T) {
			e := newEnv(t)
			if _, err := e.svc.CreateConsoleUser(context.Background(), e.app.Application.ID, "ana@example.com", "Ana"); err != nil {
				t.Fatal(err)
			}
			id := e.newSession(kycreview.KindUser)
			body := `{"new_status":"Approved","comment":"checked; @ana@example.com please confirm"}`
			e.breakInserts(table)
			res := e.do("POST", "/v3/sessions/"+id+"/reviews/", body, e.key(), jsonType)
			expect(t, res, 500, `{"detail":"Internal error."}`)
			if strings.Contains(res.body, "disk full") {
				t.Error("the cause leaked into the response")
			}
			e.checkUntouched(id)

			// Validation failures write nothing either.
			e.mendInserts(table)
			for _, bad := range []string{`{"new_status":"Resubmitted"}`, `{"new_status":"Approved","comment":[]}`, `[1]`, `{`} {
				if res := e.do("POST", "/v3/sessions/"+id+"/reviews/", bad, e.key(), jsonType); res.status != 400 {
					t.Errorf("%s: status %d", bad, res.status)
				}
			}
			e.checkUntouched(id)

			// And with the fault gone the same review goes through, whole.
			if res := e.do("POST", "/v3/sessions/"+id+"/reviews/", body, e.key(), jsonType); res.status != 201 {
				t.Fatalf("after the fault: %d %s", res.status, res.body)
			}
			for _, q := range []string{`SELECT count(*) FROM activities`, `SELECT count(*) FROM webhook_outbox`, `SELECT count(*) FROM notifications`} {
				if n := e.count(q); n != 1 {
					t.Errorf("%s = %d, want 1", q, n)
				}
			}
		})
	}
}

// checkUntouched asserts the session has no feed row, no event and its
// first status.
func (e *env) checkUntouched(id string) {
	e.t.Helper()
	for _, q := range []string{`SELECT count(*) FROM activities`, `SELECT count(*) FROM webhook_outbox`, `SELECT count(*) FROM notifications`} {
		if n := e.count(q); n != 0 {
			e.t.Errorf("%s = %d, want 0", q, n)
		}
	}
	d, err := e.client.Decision(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	if d.Status != "Not Started" || len(d.Reviews) != 0 {
		e.t.Errorf("session after failed requests: status %q, %d reviews", d.Status, len(d.Reviews))
	}
}

// TestMentions: only console users of the session's application are
// mentions; they are listed with their stored address and notified once.
func TestMentions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.CreateConsoleUser(ctx, e.app.Application.ID, "Ana.Lead@Example.com", "Ana Lead"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateConsoleUser(ctx, e.app.Application.ID, "bob@example.com", "Bob"); err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.CreateApplication(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateConsoleUser(ctx, other.Application.ID, "eve@example.com", "Eve"); err != nil {
		t.Fatal(err)
	}
	id := e.newSession(kycreview.KindUser)
	comment := "@bob@example.com and @ana.lead@example.com, please check. Also @eve@example.com, @stranger@example.org and again @BOB@example.com."
	if _, err := e.client.CreateReview(ctx, id, client.ReviewRequest{NewStatus: "In Review", Comment: &comment}); err != nil {
		t.Fatal(err)
	}
	page, err := e.client.Feed(ctx, id, client.FeedParams{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"bob@example.com", "Ana.Lead@Example.com"}, page.Results[0].MentionedEmails); diff != "" {
		t.Errorf("mentioned_emails (-want +got):\n%s", diff)
	}
	if *page.Results[0].Comment != comment {
		t.Errorf("comment changed: %q", *page.Results[0].Comment)
	}
	if n := e.count(`SELECT count(*) FROM notifications`); n != 2 {
		t.Errorf("notifications = %d, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM notifications n JOIN console_users u ON u.id = n.user_id WHERE u.email = 'eve@example.com'`); n != 0 {
		t.Errorf("a user of another application was notified")
	}
}

// TestCommentTrimmedAndCoerced: DRF trims comments and turns numbers into
// text; what is stored is what is returned.
func TestCommentTrimmedAndCoerced(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	for _, tc := range []struct{ body, want string }{
		{`{"new_status":"Approved","comment":"  \n spaced \t "}`, `"spaced"`},
		{`{"new_status":"Approved","comment":12}`, `"12"`},
		{`{"new_status":"Approved","comment":1.0}`, `"1.0"`},
		{`{"new_status":"Approved","comment":null}`, `null`},
		{`{"new_status":"Approved","comment":"<b>&</b>"}`, `"<b>&</b>"`},
	} {
		res := e.do("POST", "/v3/sessions/"+id+"/reviews", tc.body, e.key(), jsonType)
		if res.status != 201 || !strings.Contains(res.body, `"comment":`+tc.want+`,`) {
			t.Errorf("%s → %d %s, want comment %s", tc.body, res.status, res.body, tc.want)
		}
	}
	var feed struct{ Results []struct{ Comment *string } }
	res := e.do("GET", "/v3/sessions/"+id+"/reviews?ordering=created_at", "", e.key())
	if err := json.Unmarshal([]byte(res.body), &feed); err != nil {
		t.Fatal(err)
	}
	if len(feed.Results) != 5 || *feed.Results[0].Comment != "spaced" || feed.Results[3].Comment != nil || *feed.Results[4].Comment != "<b>&</b>" {
		t.Errorf("stored comments: %s", res.body)
	}
}
