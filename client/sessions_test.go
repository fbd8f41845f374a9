package client

import (
	"encoding/json"
	"testing"
)

func TestListSessionsQuery(t *testing.T) {
	tests := []struct {
		p    ListSessionsParams
		want string
	}{
		{ListSessionsParams{}, ""},
		{ListSessionsParams{Status: []string{"Approved", "In Review"}}, "status=Approved%2CIn+Review"},
		{ListSessionsParams{Limit: 10, Offset: 20, VendorData: "u 1", SessionKind: "all"}, "limit=10&offset=20&session_kind=all&vendor_data=u+1"},
	}
	for _, tt := range tests {
		if got := tt.p.query().Encode(); got != tt.want {
			t.Errorf("%+v.query() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestRequestBodies(t *testing.T) {
	vd, note := "user-1", "ok"
	tests := []struct {
		in   any
		want string
	}{
		{CreateSessionRequest{}, `{}`},
		{CreateSessionRequest{WorkflowID: "w", VendorData: &vd, Metadata: json.RawMessage(`{"a":1}`)}, `{"workflow_id":"w","vendor_data":"user-1","metadata":{"a":1}}`},
		{ReviewRequest{}, `{"new_status":""}`},
		{ReviewRequest{NewStatus: "Approved", Comment: &note}, `{"new_status":"Approved","comment":"ok"}`},
		{UpdateStatusRequest{NewStatus: "Declined"}, `{"new_status":"Declined"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%T body = %s, want %s", tt.in, b, tt.want)
		}
	}
}

// TestDecisionFlattens checks that the embedded Session picks up the
// top-level fields of a decision answer, as on the wire.
func TestDecisionFlattens(t *testing.T) {
	body := `{"session_id":"11111111-2222-3333-4444-555555555555","session_number":7,"session_kind":"user","status":"Approved","workflow_id":"w","vendor_data":null,"metadata":null,"callback":null,"created_at":"2026-04-21T16:42:50.445Z",` +
		`"reviews":[{"user":"API Client","new_status":"Approved","comment":null,"created_at":"2026-04-21T16:42:51Z"}]}`
	var d Decision
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.SessionID != "11111111-2222-3333-4444-555555555555" || d.SessionNumber != 7 || d.Status != "Approved" || d.VendorData != nil || string(d.Metadata) != "null" {
		t.Errorf("session = %+v", d.Session)
	}
	if len(d.Reviews) != 1 || d.Reviews[0].User != "API Client" || d.Reviews[0].Comment != nil {
		t.Errorf("reviews = %+v", d.Reviews)
	}
}
