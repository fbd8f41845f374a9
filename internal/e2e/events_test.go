package e2e

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/client"
)

// TestEventBodies: every status change queues an event whose body, rendered
// for delivery, is the session as it was just after that change, and stays
// byte for byte the same after later reviews and after the session is
// deleted.
func TestEventBodies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.newSession(kycreview.KindUser)
	e.moveTo(id, kycreview.StatusInProgress) // no decision in the body
	steps := []string{"In Review", "Declined", "Approved"}
	for _, st := range steps {
		if _, err := e.client.CreateReview(ctx, id, client.ReviewRequest{NewStatus: st, Comment: ptr("to " + st)}); err != nil {
			t.Fatal(err)
		}
	}
	eventIDs := func() []string {
		rows, err := e.raw().Query(`SELECT id FROM webhook_outbox ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var ids []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, s)
		}
		return ids
	}()
	if len(eventIDs) != 4 {
		t.Fatalf("%d events, want 4", len(eventIDs))
	}
	render := func() []string {
		var out []string
		for _, ev := range eventIDs {
			body, err := e.svc.EventBody(ctx, ev)
			if err != nil {
				t.Fatalf("EventBody(%s): %v", ev, err)
			}
			out = append(out, string(body))
		}
		return out
	}
	first := render()
	wantStatus := append([]string{"In Progress"}, steps...)
	for i, body := range first {
		var b struct {
			WebhookType string `json:"webhook_type"`
			EventID     string `json:"event_id"`
			SessionID   string `json:"session_id"`
			Status      string
			Decision    *struct {
				Status  string
				Reviews []struct {
					NewStatus string `json:"new_status"`
					Comment   *string
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, body)
		}
		if b.WebhookType != "status.updated" || b.EventID != eventIDs[i] || b.SessionID != id || b.Status != wantStatus[i] {
			t.Errorf("event %d: %s", i, body)
		}
		if i == 0 {
			if b.Decision != nil {
				t.Errorf("In Progress event carries a decision: %s", body)
			}
			continue
		}
		if b.Decision == nil || b.Decision.Status != wantStatus[i] || len(b.Decision.Reviews) != i+1 ||
			b.Decision.Reviews[i].NewStatus != wantStatus[i] || *b.Decision.Reviews[i].Comment != "to "+wantStatus[i] {
			t.Errorf("event %d decision: %s", i, body)
		}
	}

	// Later history and a deletion change nothing already queued.
	if _, err := e.client.CreateReview(ctx, id, client.ReviewRequest{NewStatus: "In Review"}); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeleteSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	for i, body := range render() {
		if body != first[i] {
			t.Errorf("event %d changed:\n was %s\n now %s", i, first[i], body)
		}
	}
	if _, err := e.svc.EventBody(ctx, "00000000-0000-4000-8000-000000000000"); kycreview.ErrorCode(err) != kycreview.ENOTFOUND {
		t.Errorf("unknown event: %v", err)
	}
}
