package kycreview

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	eventTestSessionID  = "8c2f3a14-7e9b-4d23-9e83-3f7d5e8a1c6d"
	eventTestWorkflowID = "b1d7e7c2-3f0a-4c55-9a3e-6f1e2d3c4b5a"
	eventTestEventID    = "0d8e1b5e-4c9a-4f3e-8b7d-2a6c5e4f3d21"
)

// eventTestAt is 2026-06-12T00:19:31.918735Z, Unix 1781223571.
var eventTestAt = time.Date(2026, 6, 12, 0, 19, 31, 918735000, time.UTC)

// eventTestDecision is a session with three status rows and a comment row.
func eventTestDecision(status Status) Decision {
	vendor := "user-42 ñ"
	callback := "https://example.com/cb"
	email := "ana@example.com"
	ana := Actor{Type: ActorConsoleUser, ID: "u-ana", Display: "Ana Ruiz", Email: &email}
	st := func(s Status) *Status { return &s }
	str := func(s string) *string { return &s }
	return Decision{
		Session: Session{
			PK:            42,
			ID:            eventTestSessionID,
			ApplicationID: "app-1",
			Number:        7,
			WorkflowID:    eventTestWorkflowID,
			Kind:          KindUser,
			Status:        status,
			VendorData:    &vendor,
			Metadata:      json.RawMessage(`{"b":1.0,"a":"é","nested":{"z":[1,2.5,{"y":null,"x":"😀"}],"k":true}}`),
			Callback:      &callback,
			CreatedAt:     time.Date(2026, 6, 10, 8, 0, 0, 0, time.UTC),
		},
		Reviews: []Activity{
			{Type: ActivityStatusUpdated, Actor: SystemActor("key-sys"), PreviousStatus: st(StatusInProgress), NewStatus: st(StatusInReview),
				CreatedAt: time.Date(2026, 6, 12, 0, 18, 44, 466537000, time.UTC)},
			{Type: ActivityStatusUpdated, Actor: ana, Comment: str("Note without status."),
				CreatedAt: time.Date(2026, 6, 12, 0, 18, 50, 0, time.UTC)},
			{Type: ActivityStatusUpdated, Actor: ana, PreviousStatus: st(StatusInReview), NewStatus: st(StatusDeclined), Comment: str("Mismatch — see “page 2”"),
				CreatedAt: time.Date(2026, 6, 12, 0, 19, 0, 0, time.UTC)},
			{Type: ActivityStatusUpdated, Actor: APIKeyActor("key-1"), PreviousStatus: st(StatusDeclined), NewStatus: st(StatusApproved),
				Comment: str("Document re-checked manually; address matches."), CreatedAt: eventTestAt},
		},
	}
}

// TestNewStatusUpdatedEventBytes pins the whole body byte for byte. The
// expectation is Python's
// json.dumps(body, sort_keys=True, separators=(",", ":")) for the same data,
// which is what Didit sends.
func TestNewStatusUpdatedEventBytes(t *testing.T) {
	const want = `{"created_at":1781223571,` +
		`"decision":{"callback":"https://example.com/cb","created_at":"2026-06-10T08:00:00Z",` +
		`"metadata":{"a":"\u00e9","b":1.0,"nested":{"k":true,"z":[1,2.5,{"x":"\ud83d\ude00","y":null}]}},` +
		`"reviews":[{"comment":null,"created_at":"2026-06-12T00:18:44.466537Z","new_status":"In Review","user":"System"},` +
		`{"comment":"Mismatch \u2014 see \u201cpage 2\u201d","created_at":"2026-06-12T00:19:00Z","new_status":"Declined","user":"ana@example.com"},` +
		`{"comment":"Document re-checked manually; address matches.","created_at":"2026-06-12T00:19:31.918735Z","new_status":"Approved","user":"API Client"}],` +
		`"session_id":"8c2f3a14-7e9b-4d23-9e83-3f7d5e8a1c6d","session_kind":"user","session_number":7,"status":"Approved",` +
		`"vendor_data":"user-42 \u00f1","workflow_id":"b1d7e7c2-3f0a-4c55-9a3e-6f1e2d3c4b5a"},` +
		`"event_id":"0d8e1b5e-4c9a-4f3e-8b7d-2a6c5e4f3d21",` +
		`"metadata":{"a":"\u00e9","b":1.0,"nested":{"k":true,"z":[1,2.5,{"x":"\ud83d\ude00","y":null}]}},` +
		`"session_id":"8c2f3a14-7e9b-4d23-9e83-3f7d5e8a1c6d","status":"Approved","timestamp":1781223571,` +
		`"vendor_data":"user-42 \u00f1","webhook_type":"status.updated","workflow_id":"b1d7e7c2-3f0a-4c55-9a3e-6f1e2d3c4b5a"}`

	payload, err := StatusUpdatedBody(eventTestEventID, eventTestDecision(StatusApproved), eventTestAt)
	if err != nil {
		t.Fatalf("StatusUpdatedBody: %v", err)
	}
	if diff := cmp.Diff(want, string(payload)); diff != "" {
		t.Errorf("payload mismatch (-want +got):\n%s", diff)
	}
}

// TestNewStatusUpdatedEventDecision checks, for every status, that the body
// decodes to the documented fields and carries the decision exactly for the
// statuses a receiver acts on.
func TestNewStatusUpdatedEventDecision(t *testing.T) {
	tests := []struct {
		status       Status
		wantDecision bool
	}{
		{StatusNotStarted, false},
		{StatusInProgress, false},
		{StatusApproved, true},
		{StatusDeclined, true},
		{StatusInReview, true},
		{StatusResubmitted, false},
		{StatusExpired, false},
		{StatusAbandoned, true},
		{StatusKycExpired, false},
		{StatusAwaitingUser, false},
	}
	if len(tests) != len(Statuses()) {
		t.Fatalf("table has %d statuses, the domain has %d", len(tests), len(Statuses()))
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			payload, err := StatusUpdatedBody(eventTestEventID, eventTestDecision(tt.status), eventTestAt)
			if err != nil {
				t.Fatalf("StatusUpdatedBody: %v", err)
			}
			eventTestCheckWire(t, payload)
			body := eventTestDecode(t, payload)

			wantKeys := []string{"created_at", "event_id", "metadata", "session_id", "status", "timestamp", "vendor_data", "webhook_type", "workflow_id"}
			if tt.wantDecision {
				wantKeys = append(wantKeys, "decision")
				slices.Sort(wantKeys)
			}
			if diff := cmp.Diff(wantKeys, eventTestTopKeys(t, payload)); diff != "" {
				t.Errorf("top-level keys mismatch (-want +got):\n%s", diff)
			}

			wantMetadata := map[string]any{
				"a": "é", "b": json.Number("1.0"),
				"nested": map[string]any{"k": true, "z": []any{json.Number("1"), json.Number("2.5"), map[string]any{"x": "😀", "y": nil}}},
			}
			want := map[string]any{
				"webhook_type": "status.updated",
				"event_id":     eventTestEventID,
				"session_id":   eventTestSessionID,
				"status":       string(tt.status),
				"created_at":   json.Number("1781223571"),
				"timestamp":    json.Number("1781223571"),
				"workflow_id":  eventTestWorkflowID,
				"vendor_data":  "user-42 ñ",
				"metadata":     wantMetadata,
			}
			if tt.wantDecision {
				want["decision"] = map[string]any{
					"session_id":     eventTestSessionID,
					"session_number": json.Number("7"),
					"session_kind":   "user",
					"status":         string(tt.status),
					"workflow_id":    eventTestWorkflowID,
					"vendor_data":    "user-42 ñ",
					"metadata":       wantMetadata,
					"callback":       "https://example.com/cb",
					"created_at":     "2026-06-10T08:00:00Z",
					// Only the rows with a new_status, oldest first.
					"reviews": []any{
						map[string]any{"user": "System", "new_status": "In Review", "comment": nil, "created_at": "2026-06-12T00:18:44.466537Z"},
						map[string]any{"user": "ana@example.com", "new_status": "Declined", "comment": "Mismatch — see “page 2”", "created_at": "2026-06-12T00:19:00Z"},
						map[string]any{"user": "API Client", "new_status": "Approved", "comment": "Document re-checked manually; address matches.", "created_at": "2026-06-12T00:19:31.918735Z"},
					},
				}
			}
			if diff := cmp.Diff(want, body); diff != "" {
				t.Errorf("decoded body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNewStatusUpdatedEventNulls checks a session with no vendor data,
// metadata or callback and no rows yet, stamped in another time zone.
func TestNewStatusUpdatedEventNulls(t *testing.T) {
	d := Decision{Session: Session{
		PK: 1, ID: eventTestSessionID, ApplicationID: "app-1", Number: 1, WorkflowID: eventTestWorkflowID,
		Kind: KindUser, Status: StatusDeclined, CreatedAt: time.Date(2026, 6, 10, 8, 0, 0, 123456789, time.UTC),
	}}
	at := eventTestAt.In(time.FixedZone("CEST", 2*60*60)).Add(999 * time.Millisecond)
	payload, err := StatusUpdatedBody("e-2", d, at)
	if err != nil {
		t.Fatalf("StatusUpdatedBody: %v", err)
	}
	eventTestCheckWire(t, payload)
	want := map[string]any{
		"webhook_type": "status.updated",
		"event_id":     "e-2",
		"session_id":   eventTestSessionID,
		"status":       "Declined",
		// Unix seconds, cut: 31.918735 s + 0.999 s is still second 32.
		"created_at":  json.Number("1781223572"),
		"timestamp":   json.Number("1781223572"),
		"workflow_id": eventTestWorkflowID,
		"vendor_data": nil,
		"metadata":    nil,
		"decision": map[string]any{
			"session_id":     eventTestSessionID,
			"session_number": json.Number("1"),
			"session_kind":   "user",
			"status":         "Declined",
			"workflow_id":    eventTestWorkflowID,
			"vendor_data":    nil,
			"metadata":       nil,
			"callback":       nil,
			"created_at":     "2026-06-10T08:00:00.123456Z",
			"reviews":        []any{},
		},
	}
	if diff := cmp.Diff(want, eventTestDecode(t, payload)); diff != "" {
		t.Errorf("decoded body mismatch (-want +got):\n%s", diff)
	}
	if !bytes.Contains(payload, []byte(`"reviews":[]`)) {
		t.Errorf("payload %s: reviews should be [] not null", payload)
	}
}

// TestNewStatusUpdatedEventMetadataVerbatim checks that the customer's
// metadata keeps its number literals and comes out with sorted keys and
// escaped non-ASCII.
func TestNewStatusUpdatedEventMetadataVerbatim(t *testing.T) {
	tests := []struct {
		name     string
		metadata string
		want     string
	}{
		{"float literal kept, keys sorted, é escaped", `{"b":1.0,"a":"é"}`, `{"a":"\u00e9","b":1.0}`},
		{"big integer kept", `{"n":12345678901234567890}`, `{"n":12345678901234567890}`},
		{"array order kept", `{"l":[3,1,2]}`, `{"l":[3,1,2]}`},
		{"escaped input", `{"s":"\u00e9\"<>&"}`, `{"s":"\u00e9\"<>&"}`},
		{"array metadata", `[{"b":2,"a":1}]`, `[{"a":1,"b":2}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := eventTestDecision(StatusInProgress)
			d.Session.Metadata = json.RawMessage(tt.metadata)
			payload, err := StatusUpdatedBody(eventTestEventID, d, eventTestAt)
			if err != nil {
				t.Fatalf("StatusUpdatedBody: %v", err)
			}
			eventTestCheckWire(t, payload)
			if !bytes.Contains(payload, []byte(`"metadata":`+tt.want+`,`)) {
				t.Errorf("payload %s does not hold \"metadata\":%s", payload, tt.want)
			}
		})
	}
}

// eventTestCheckWire checks what every webhook body must be: valid JSON,
// ASCII only, keys sorted in every object, created_at and timestamp written
// as integers.
func eventTestCheckWire(t *testing.T, payload []byte) {
	t.Helper()
	if !json.Valid(payload) {
		t.Fatalf("payload is not valid JSON: %s", payload)
	}
	for i, c := range payload {
		if c >= 0x80 || c < 0x20 {
			t.Errorf("payload byte %d is %#x, want printable ASCII only", i, c)
			break
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, payload); err != nil || !bytes.Equal(compact.Bytes(), payload) {
		t.Errorf("payload is not compact: %s", payload)
	}
	eventTestCheckSorted(t, payload)
	body := eventTestDecode(t, payload)
	for _, k := range []string{"created_at", "timestamp"} {
		n, ok := body[k].(json.Number)
		if !ok || strings.ContainsAny(string(n), ".eE-") {
			t.Errorf("%s = %#v, want a non-negative integer literal", k, body[k])
		}
	}
}

// eventTestCheckSorted walks the payload's tokens and checks that every
// object's keys are in strictly increasing order.
func eventTestCheckSorted(t *testing.T, payload []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	type frame struct {
		object  bool
		wantKey bool
		last    string
		first   bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("walking payload: %v", err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].wantKey = true
				}
				continue
			}
			k := tok.(string)
			if !top.first && k <= top.last {
				t.Errorf("key %q after %q: keys not sorted", k, top.last)
			}
			top.last, top.first, top.wantKey = k, false, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true, first: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the enclosing object expects a key next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
}

// eventTestTopKeys returns the top-level keys in the order the bytes hold them.
func eventTestTopKeys(t *testing.T, payload []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("payload does not start with an object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("reading key: %v", err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("reading value of %v: %v", tok, err)
		}
	}
	return keys
}

func eventTestDecode(t *testing.T, payload []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decoding payload: %v\n%s", err, payload)
	}
	return m
}

// TestRenderStatusUpdated: an event renders the session as it was just
// after its own row, whatever came later, and the same bytes every time.
func TestRenderStatusUpdated(t *testing.T) {
	d := eventTestDecision(StatusApproved) // the session as it is now, after four rows
	for i := range d.Reviews {
		d.Reviews[i].Seq = int64(i + 1)
	}
	ev := NewStatusUpdatedEvent(eventTestEventID, d.Session, d.Reviews[2]) // the Declined row
	if ev.Seq != 3 || ev.SessionPK != 42 || ev.ApplicationID != "app-1" || ev.Type != EventStatusUpdated || !ev.CreatedAt.Equal(d.Reviews[2].CreatedAt) {
		t.Fatalf("NewStatusUpdatedEvent = %+v", ev)
	}
	got, err := RenderStatusUpdated(ev, d.Session, d.Reviews)
	if err != nil {
		t.Fatal(err)
	}
	then := d.Session
	then.Status = StatusDeclined
	want, err := StatusUpdatedBody(eventTestEventID, Decision{Session: then, Reviews: d.Reviews[:3]}, d.Reviews[2].CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("rendered\n%s\nwant\n%s", got, want)
	}
	body := eventTestDecode(t, got)
	if body["status"] != "Declined" || len(body["decision"].(map[string]any)["reviews"].([]any)) != 2 {
		t.Errorf("rendered body: %s", got)
	}
	again, _ := RenderStatusUpdated(ev, d.Session, d.Reviews)
	if string(again) != string(got) {
		t.Error("rendering twice gave different bytes")
	}
	// What changes on a session row after the event (its status, counters,
	// deletion) must not change the event's body: it is rendered again at
	// every delivery attempt and signed.
	later := d.Session
	later.Status, later.ActivityCount = StatusResubmitted, 99
	later.LastActivityAt = later.CreatedAt.Add(1e12)
	deleted := later.CreatedAt.Add(2e12)
	later.DeletedAt = &deleted
	if after, _ := RenderStatusUpdated(ev, later, d.Reviews); string(after) != string(got) {
		t.Errorf("the body changed with the session row:\n was %s\n now %s", got, after)
	}
	ev.Seq = 2 // the comment-only row: not a status event
	if _, err := RenderStatusUpdated(ev, d.Session, d.Reviews); err == nil {
		t.Error("rendering an event whose row has no status succeeded")
	}
}
