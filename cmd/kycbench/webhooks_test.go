package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReviewStatusNames(t *testing.T) {
	for i, body := range reviewBodies {
		var b struct {
			NewStatus string `json:"new_status"`
		}
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatal(err)
		}
		if b.NewStatus != reviewStatusNames[i] {
			t.Errorf("reviewBodies[%d] sets %q, reviewStatusNames says %q", i, b.NewStatus, reviewStatusNames[i])
		}
	}
}

// TestReviewCursor checks the two properties the webhook benchmark relies
// on: a session is reviewed again only after every other one, and two
// consecutive reviews of one session set different statuses, whatever the
// number of sessions (3 would give every review of a session the same
// status with a plain c mod 3).
func TestReviewCursor(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 6, 7} {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("s%d", i)
		}
		c := &reviewCursor{ids: ids}
		last := map[string]int{}
		for k := range 5 * n {
			id, status := c.take()
			if want := ids[k%n]; id != want {
				t.Fatalf("n=%d: review %d goes to %s, want %s", n, k, id, want)
			}
			if prev, ok := last[id]; ok && prev == status {
				t.Fatalf("n=%d: review %d sets %s on %s again", n, k, reviewStatusNames[status], id)
			}
			last[id] = status
		}
	}
}

func TestMatchReceipts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	review := func(sid, status string, sent, answered int, counted bool) reviewOutcome {
		r := reviewOutcome{sentReview: sentReview{SessionID: sid, Status: status, Sent: at(sent), Counted: counted}}
		if answered >= 0 {
			r.Answered = at(answered)
		}
		return r
	}
	sent := []reviewOutcome{
		// Session a: two reviews, received in order; the second's event
		// beat its 201 to the client.
		review("a", "Approved", 0, 10, true),
		review("a", "Declined", 100, 110, true),
		// Session b: the second review was answered first (a listing out
		// of send order); receipts follow the answers.
		review("b", "In Review", 50, 90, true),
		review("b", "Approved", 40, 60, true),
		// Session c: received out of order.
		review("c", "Approved", 0, 5, true),
		review("c", "Declined", 20, 25, true),
		// Session d: never received. Session e: failed, so owes nothing.
		review("d", "Approved", 0, 5, true),
		review("e", "Approved", 0, -1, true),
		// Session f: in the warmup; matched but not measured.
		review("f", "Approved", 0, 5, false),
	}
	got := map[string][]receipt{
		"a": {{Status: "Approved", At: at(30)}, {Status: "Declined", At: at(108)}},
		"b": {{Status: "Approved", At: at(70)}, {Status: "In Review", At: at(95)}},
		"c": {{Status: "Declined", At: at(30)}, {Status: "Approved", At: at(31)}},
		"f": {{Status: "Approved", At: at(6)}},
		"z": {{Status: "Approved", At: at(1)}},
	}
	m := matchReceipts(sent, got)
	if m.Matched != 5 || m.Mismatched != 2 || m.Missing != 1 || m.Unexpected != 1 {
		t.Errorf("matched %d, mismatched %d, missing %d, unexpected %d; want 5, 2, 1, 1", m.Matched, m.Mismatched, m.Missing, m.Unexpected)
	}
	ms := func(ds []time.Duration) map[time.Duration]int {
		out := map[time.Duration]int{}
		for _, d := range ds {
			out[d/time.Millisecond]++
		}
		return out
	}
	if diff := cmp.Diff(map[time.Duration]int{20: 1, -2: 1, 10: 1, 5: 1}, ms(m.AfterAnswer)); diff != "" {
		t.Errorf("receipt − 201 (ms) mismatch (-want +got):\n%s", diff)
	}
	// a: 30−0 and 108−100; b: 70−40 and 95−50.
	if diff := cmp.Diff(map[time.Duration]int{30: 2, 8: 1, 45: 1}, ms(m.AfterSend)); diff != "" {
		t.Errorf("receipt − send (ms) mismatch (-want +got):\n%s", diff)
	}
}

// TestReceiver posts deliveries to a real receiver: new events, a copy, a
// malformed body, a mismatched webhook-id, across two phases.
func TestReceiver(t *testing.T) {
	r, err := startReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer r.stop()
	post := func(eventID, body string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, r.url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("webhook-id", eventID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("receiver answered %s", resp.Status)
		}
	}
	event := func(id, session, status string) string {
		return fmt.Sprintf(`{"created_at":1,"decision":{"x":[1,2]},"event_id":%q,"session_id":%q,"status":%q,"webhook_type":"status.updated"}`, id, session, status)
	}

	p1 := r.nextPhase()
	post("e1", event("e1", "s1", "Approved"))
	post("e2", event("e2", "s1", "Declined"))
	post("e1", event("e1", "s1", "Approved")) // a copy
	post("e3", "not json")
	post("other", event("e4", "s2", "Approved")) // webhook-id is not the event_id
	p2 := r.nextPhase()
	post("e5", event("e5", "s2", "In Review"))
	post("e2", event("e2", "s1", "Declined")) // a late copy of phase 1's event

	s1, s2 := r.stats(p1), r.stats(p2)
	if s1.Events != 2 || s1.Requests != 5 || s1.Duplicates != 2 || s1.Bad != 2 {
		t.Errorf("phase 1: %+v; want 2 events, 5 requests, 2 duplicates, 2 bad", s1)
	}
	if s2.Events != 1 || s2.Requests != 2 || s2.Duplicates != 0 || s2.Bad != 0 {
		t.Errorf("phase 2: %+v; want 1 event, 2 requests, no duplicates", s2)
	}
	if !s1.First.Before(s1.Last) || s2.First.Before(s1.Last) {
		t.Errorf("receipt times out of order: phase 1 %v…%v, phase 2 %v", s1.First, s1.Last, s2.First)
	}
	got := r.sessionReceipts(p1)
	var statuses []string
	for _, rc := range got["s1"] {
		statuses = append(statuses, rc.Status)
	}
	if diff := cmp.Diff([]string{"Approved", "Declined"}, statuses); diff != "" || len(got) != 1 {
		t.Errorf("phase 1 receipts %v (-want +got statuses of s1):\n%s", got, diff)
	}
	if p := r.firstProblem(); !strings.Contains(p, "not JSON") {
		t.Errorf("first problem %q, want the body that was not JSON", p)
	}
}

func TestWebhookTargets(t *testing.T) {
	status := func(pass bool) string {
		if pass {
			return "PASS"
		}
		return "MISS"
	}
	run := func(dps float64, missing int, rate float64, p99Ms float64) backendRun {
		w := &webhookRun{}
		w.Throughput.DeliveriesPerSecond, w.Throughput.Missing = dps, missing
		w.Latency.RatePerSecond, w.Latency.CommitToReceipt = rate, latencyMs{Count: 100, P99Ms: p99Ms}
		return backendRun{Backend: "sqlite", Webhooks: w}
	}
	tests := []struct {
		name string
		run  backendRun
		want []string
	}{
		{"both met", run(2500, 0, 100, 900), []string{"PASS", "PASS"}},
		{"both missed", run(1999, 0, 100, 1000), []string{"MISS", "MISS"}},
		{"a missing backlog event fails the throughput", run(5000, 1, 100, 10), []string{"MISS", "PASS"}},
		{"another rate is not the target's", run(5000, 0, 50, 10), []string{"PASS", "n/a"}},
		{"no webhooks, no targets", backendRun{Backend: "sqlite"}, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range webhookTargets(tt.run, status) {
			got = append(got, c.Status)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: statuses mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}
