package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// The delivery log (issue 5, acceptance 5): GET …/deliveries/ in DRF pages,
// newest first, every attempt shown; POST …/deliveries/{id}/resend/. These
// tests run no dispatcher: deliveries are queued by reviews, and attempts
// are recorded through the service calls the dispatcher makes.

var (
	deliveryKeys = []string{"attempts", "attempts_log", "completed_at", "created_at", "event_id", "event_type",
		"next_attempt_at", "session_id", "state", "uuid"}
	attemptKeys = []string{"error", "latency_ms", "number", "response_head", "started_at", "status_code", "uuid"}
)

type deliveryView struct {
	UUID          string        `json:"uuid"`
	EventID       string        `json:"event_id"`
	EventType     string        `json:"event_type"`
	SessionID     string        `json:"session_id"`
	State         string        `json:"state"`
	Attempts      int           `json:"attempts"`
	NextAttemptAt *string       `json:"next_attempt_at"`
	CreatedAt     string        `json:"created_at"`
	CompletedAt   *string       `json:"completed_at"`
	AttemptsLog   []attemptView `json:"attempts_log"`
}

type attemptView struct {
	UUID         string  `json:"uuid"`
	Number       int     `json:"number"`
	StartedAt    string  `json:"started_at"`
	StatusCode   *int    `json:"status_code"`
	LatencyMS    float64 `json:"latency_ms"`
	Error        *string `json:"error"`
	ResponseHead string  `json:"response_head"`
}

type deliveryPage struct {
	Count    int            `json:"count"`
	Next     *string        `json:"next"`
	Previous *string        `json:"previous"`
	Results  []deliveryView `json:"results"`
}

// review records a review of the session through the API: one status.updated
// event, and a delivery for each active destination subscribed to it.
func (e *env) review(sessionID, status string) {
	e.t.Helper()
	res := e.do("POST", "/v3/sessions/"+sessionID+"/reviews/", `{"new_status":"`+status+`"}`, e.key(), jsonType)
	if res.status != 201 {
		e.t.Fatalf("review %s: %d %s", sessionID, res.status, res.body)
	}
}

// deliveryPage reads a page of a destination's delivery log.
func (e *env) deliveryPage(destID, query string) (deliveryPage, string) {
	e.t.Helper()
	res := e.do("GET", destinationsPath+destID+"/deliveries/"+query, "", e.key())
	if res.status != 200 {
		e.t.Fatalf("delivery log: %d %s", res.status, res.body)
	}
	var p deliveryPage
	if err := json.Unmarshal([]byte(res.body), &p); err != nil {
		e.t.Fatalf("delivery log: %v: %s", err, res.body)
	}
	return p, res.body
}

// deliveries returns a page of a destination's delivery log, newest first.
func (e *env) deliveries(destID, query string) []deliveryView {
	e.t.Helper()
	p, _ := e.deliveryPage(destID, query)
	return p.Results
}

// claimAll claims every due delivery, as a dispatcher would.
func (e *env) claimAll() []kycreview.ClaimedDelivery {
	e.t.Helper()
	claimed, err := e.svc.ClaimDeliveries(context.Background(), time.Minute, 100)
	if err != nil {
		e.t.Fatalf("claim: %v", err)
	}
	return claimed
}

// record records attempt outcomes, as a dispatcher would.
func (e *env) record(disableBefore time.Time, results ...service.AttemptResult) {
	e.t.Helper()
	if _, err := e.svc.RecordAttempts(context.Background(), results, disableBefore); err != nil {
		e.t.Fatalf("record attempts: %v", err)
	}
}

// TestDeliveryLog: reviews queue one pending delivery per subscribed active
// destination; the log pages them newest first and shows each attempt with
// its time, status code, latency, error and response head; resend queues a
// delivery again and keeps its log; the dispatcher's disabling shows on the
// destination until the customer enables it again.
func TestDeliveryLog(t *testing.T) {
	e := newEnv(t)
	dest := e.createDestination(e.key(), `{"label":"Prod","url":"`+hookURL+`","subscribed_events":["status.updated"]}`)
	dataOnly := e.createDestination(e.key(), `{"label":"Data","url":"`+hookURL+`/data","subscribed_events":["data.updated"]}`)
	paused := e.createDestination(e.key(), `{"label":"Paused","url":"`+hookURL+`/paused","subscribed_events":["status.updated"],"enabled":false}`)
	log := destinationsPath + dest.UUID + "/deliveries/"

	expect(t, e.do("GET", log, "", e.key()), 200, `{"count":0,"next":null,"previous":null,"results":[]}`)

	first, second := e.newSession(kycreview.KindUser), e.newSession(kycreview.KindUser)
	e.review(first, "In Review")
	e.review(first, "Approved")
	e.review(second, "Declined")

	page, body := e.deliveryPage(dest.UUID, "")
	if page.Count != 3 || len(page.Results) != 3 || page.Next != nil || page.Previous != nil {
		t.Fatalf("log: %s", body)
	}
	var raw struct{ Results []map[string]json.RawMessage }
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(deliveryKeys, objectKeys(raw.Results[0])); diff != "" {
		t.Errorf("delivery keys (-want +got):\n%s", diff)
	}
	// Newest first; each event's id is the one in its webhook body.
	rows, err := e.raw().Query(`SELECT o.id, s.id FROM webhook_outbox o JOIN sessions s ON s.pk = o.session_pk ORDER BY o.pk DESC`)
	if err != nil {
		t.Fatal(err)
	}
	var wantEvents, wantSessions, gotEvents, gotSessions []string
	for rows.Next() {
		var ev, sess string
		if err := rows.Scan(&ev, &sess); err != nil {
			t.Fatal(err)
		}
		wantEvents, wantSessions = append(wantEvents, ev), append(wantSessions, sess)
	}
	rows.Close()
	for _, d := range page.Results {
		gotEvents, gotSessions = append(gotEvents, d.EventID), append(gotSessions, d.SessionID)
		if d.State != "pending" || d.Attempts != 0 || d.AttemptsLog == nil || len(d.AttemptsLog) != 0 || d.EventType != "status.updated" ||
			d.NextAttemptAt == nil || !drfDateTimeRE.MatchString(`"`+*d.NextAttemptAt+`"`) || d.CompletedAt != nil ||
			!drfDateTimeRE.MatchString(`"`+d.CreatedAt+`"`) || !lowerUUIDRE.MatchString(`"`+d.UUID+`"`) {
			t.Errorf("a new delivery: %s", show(d))
		}
	}
	if !cmp.Equal(gotEvents, wantEvents) || !cmp.Equal(gotSessions, wantSessions) || gotSessions[0] != second {
		t.Errorf("log events %v of sessions %v, want %v of %v", gotEvents, gotSessions, wantEvents, wantSessions)
	}
	// Nothing for a destination not subscribed, or paused.
	for _, d := range []destinationView{dataOnly, paused} {
		if got := e.deliveries(d.UUID, ""); len(got) != 0 {
			t.Errorf("%s got deliveries: %s", d.Label, show(got))
		}
	}

	// DRF pages.
	base := e.url + log
	p, _ := e.deliveryPage(dest.UUID, "?limit=2")
	if p.Count != 3 || len(p.Results) != 2 || deref(p.Next) != base+"?limit=2&offset=2" || p.Previous != nil || p.Results[0].EventID != wantEvents[0] {
		t.Errorf("first page: %s", show(p))
	}
	p, _ = e.deliveryPage(dest.UUID, "?limit=2&offset=2")
	if p.Count != 3 || len(p.Results) != 1 || p.Next != nil || deref(p.Previous) != base+"?limit=2" || p.Results[0].EventID != wantEvents[2] {
		t.Errorf("second page: %s", show(p))
	}
	if p, _ = e.deliveryPage(dest.UUID, "?offset=10"); p.Count != 3 || len(p.Results) != 0 {
		t.Errorf("past the end: %s", show(p))
	}

	// The dispatcher's first round: only the head of each session's chain
	// is due. One answers 503, the other never answers and is out of retries.
	claimed := e.claimAll()
	if len(claimed) != 2 {
		t.Fatalf("claimed %d deliveries, want the first of each session's chain: %s", len(claimed), show(claimed))
	}
	start := time.Now().UTC().Truncate(time.Microsecond)
	var firstID, secondID string
	for _, c := range claimed {
		a := kycreview.Attempt{Number: 1, StartedAt: start, Latency: 12345 * time.Microsecond}
		var next time.Time
		if c.SessionID == first {
			firstID = c.ID
			a.StatusCode, a.Error, a.ResponseHead = ptr(503), "HTTP 503", `<h1>Down & "out"</h1>`
			next = start.Add(time.Hour)
		} else {
			secondID = c.ID
			a.Error = "dial tcp 93.184.216.34:443: connect: connection refused"
		}
		e.record(time.Time{}, service.AttemptResult{Delivery: c, Attempt: a, Next: next})
	}
	page, body = e.deliveryPage(dest.UUID, "")
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	golden(t, "webhook_deliveries_200.json", normalise(body))
	for _, r := range raw.Results {
		var attempts []map[string]json.RawMessage
		if err := json.Unmarshal(r["attempts_log"], &attempts); err != nil {
			t.Fatal(err)
		}
		for _, a := range attempts {
			if diff := cmp.Diff(attemptKeys, objectKeys(a)); diff != "" {
				t.Errorf("attempt keys (-want +got):\n%s", diff)
			}
		}
	}
	byID := map[string]deliveryView{}
	for _, d := range page.Results {
		byID[d.UUID] = d
	}
	started := kycreview.FormatMicro(start)
	wantFailing := attemptView{Number: 1, StartedAt: started, StatusCode: ptr(503), LatencyMS: 12.345, Error: ptr("HTTP 503"),
		ResponseHead: `<h1>Down & "out"</h1>`}
	got := byID[firstID]
	if got.State != "pending" || got.Attempts != 1 || deref(got.NextAttemptAt) != kycreview.FormatMicro(start.Add(time.Hour)) ||
		got.CompletedAt != nil || len(got.AttemptsLog) != 1 {
		t.Errorf("retrying delivery: %s", show(got))
	} else if diff := cmp.Diff(wantFailing, got.AttemptsLog[0], cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".UUID" }, cmp.Ignore())); diff != "" {
		t.Errorf("the 503 attempt (-want +got):\n%s", diff)
	}
	if !strings.Contains(body, `"response_head":"<h1>Down & \"out\"</h1>"`) {
		t.Errorf("response_head is escaped beyond JSON's rules: %s", body)
	}
	got = byID[secondID]
	if got.State != "failed" || got.Attempts != 1 || got.NextAttemptAt != nil || deref(got.CompletedAt) != kycreview.FormatMicro(start.Add(12345*time.Microsecond)) ||
		len(got.AttemptsLog) != 1 || got.AttemptsLog[0].StatusCode != nil || deref(got.AttemptsLog[0].Error) == "" {
		t.Errorf("failed delivery: %s", show(got))
	}
	d := decodeDestination(t, e.do("GET", destinationsPath+dest.UUID+"/", "", e.key()).body)
	if !d.Enabled || d.DisabledReason != nil || d.DisabledAt != nil || deref(d.FailingSince) != started {
		t.Errorf("a failing destination: %s, want failing_since %s and still enabled", show(d), started)
	}

	// Resend the failed delivery: 202, pending and due again with a fresh
	// attempt count, its log kept.
	resend := log + secondID + "/resend/"
	res := e.do("POST", resend, "", e.key())
	expect(t, res, 202, res.body)
	var resent deliveryView
	if err := json.Unmarshal([]byte(res.body), &resent); err != nil {
		t.Fatal(err)
	}
	if resent.UUID != secondID || resent.State != "pending" || resent.Attempts != 0 || resent.CompletedAt != nil || resent.NextAttemptAt == nil ||
		len(resent.AttemptsLog) != 1 {
		t.Errorf("resent: %s", res.body)
	}
	if after := e.deliveries(dest.UUID, ""); !cmp.Equal(after[0], resent) {
		t.Errorf("the log after resend:\n%s\nwant\n%s", show(after[0]), show(resent))
	}
	// It succeeds now; the destination's failure streak ends.
	claimed = e.claimAll()
	if len(claimed) != 1 || claimed[0].ID != secondID {
		t.Fatalf("claimed %s, want only the resent delivery", show(claimed))
	}
	ok := time.Now().UTC().Truncate(time.Microsecond)
	e.record(time.Time{}, service.AttemptResult{Delivery: claimed[0], Attempt: kycreview.Attempt{Number: 1, StartedAt: ok, Latency: time.Millisecond,
		StatusCode: ptr(204)}})
	got = e.deliveries(dest.UUID, "")[0]
	if got.State != "succeeded" || got.NextAttemptAt != nil || got.CompletedAt == nil || len(got.AttemptsLog) != 2 ||
		got.AttemptsLog[1].Error != nil || got.AttemptsLog[1].StatusCode == nil || *got.AttemptsLog[1].StatusCode != 204 || got.AttemptsLog[1].LatencyMS != 1 {
		t.Errorf("succeeded: %s", show(got))
	}
	if d := decodeDestination(t, e.do("GET", destinationsPath+dest.UUID+"/", "", e.key()).body); d.FailingSince != nil {
		t.Errorf("failing_since after a success: %s", deref(d.FailingSince))
	}

	// A destination failing for longer than the operator allows is disabled
	// by the dispatcher: enabled=false, with the reason and the time, in the
	// detail and in the list. It gets no new deliveries.
	if res := e.do("POST", log+firstID+"/resend", "", e.key()); res.status != 202 {
		t.Fatalf("resend: %d %s", res.status, res.body)
	}
	claimed = e.claimAll()
	if len(claimed) != 1 || claimed[0].ID != firstID {
		t.Fatalf("claimed %s, want the first session's head", show(claimed))
	}
	e.record(time.Now().Add(time.Hour), service.AttemptResult{Delivery: claimed[0],
		Attempt: kycreview.Attempt{Number: 1, StartedAt: time.Now().UTC(), Latency: time.Second, Error: "timeout"}, Next: time.Now().Add(time.Minute)})
	d = decodeDestination(t, e.do("GET", destinationsPath+dest.UUID+"/", "", e.key()).body)
	if d.Enabled || deref(d.DisabledReason) != "failing" || d.DisabledAt == nil || d.FailingSince == nil {
		t.Errorf("a disabled destination: %s", show(d))
	}
	var list []destinationView
	if err := json.Unmarshal([]byte(e.do("GET", destinationsPath, "", e.key()).body), &list); err != nil || list[0].UUID != dest.UUID ||
		list[0].Enabled || deref(list[0].DisabledReason) != "failing" {
		t.Errorf("the list shows %s", show(list))
	}
	e.review(second, "Approved")
	if n := len(e.deliveries(dest.UUID, "")); n != 3 {
		t.Errorf("a disabled destination got a new delivery: %d, want 3", n)
	}
	// Pausing it keeps the reason that matters; enabling clears everything.
	res = e.do("PATCH", destinationsPath+dest.UUID+"/", `{"enabled":false}`, e.key(), jsonType)
	if d := decodeDestination(t, res.body); deref(d.DisabledReason) != "failing" || d.Enabled {
		t.Errorf("paused after being disabled: %s", res.body)
	}
	res = e.do("PATCH", destinationsPath+dest.UUID+"/", `{"enabled":true}`, e.key(), jsonType)
	if d := decodeDestination(t, res.body); !d.Enabled || d.DisabledReason != nil || d.DisabledAt != nil || d.FailingSince != nil {
		t.Errorf("enabled again: %s", res.body)
	}
	e.review(second, "Declined")
	if n := len(e.deliveries(dest.UUID, "")); n != 4 {
		t.Errorf("an enabled destination got no delivery: %d, want 4", n)
	}

	// Resend finds only this destination's deliveries.
	mine := e.deliveries(dest.UUID, "")[0].UUID
	for _, c := range []struct{ name, path string }{
		{"unknown delivery", log + errUnknownID + "/resend/"},
		{"malformed delivery id", log + "abc/resend/"},
		{"another destination's delivery", destinationsPath + paused.UUID + "/deliveries/" + mine + "/resend/"},
	} {
		expectAt(t, c.name, e.do("POST", c.path, "", e.key()), 404, detailDeliveryMissing)
	}
	expectAt(t, "unknown destination", e.do("POST", destinationsPath+errUnknownID+"/deliveries/"+mine+"/resend/", "", e.key()), 404, detailDestNotFound)
	expectAt(t, "unknown destination's log", e.do("GET", destinationsPath+errUnknownID+"/deliveries/", "", e.key()), 404, detailDestNotFound)

	// A deleted destination's log is kept for audit, but no longer served.
	if res := e.do("DELETE", destinationsPath+dest.UUID+"/", "", e.key()); res.status != 204 {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	expect(t, e.do("GET", log, "", e.key()), 404, detailDestNotFound)
	expect(t, e.do("POST", log+mine+"/resend/", "", e.key()), 404, detailDestNotFound)
	if n := e.count(`SELECT count(*) FROM webhook_deliveries d JOIN webhook_destinations w ON w.pk = d.destination_pk WHERE w.id = ?`, dest.UUID); n != 4 {
		t.Errorf("the deleted destination's deliveries: %d rows, want 4 kept", n)
	}
}
