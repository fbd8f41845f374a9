package client

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseAPIError(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		detail string
		fields map[string][]string
	}{
		{
			name:   "detail",
			body:   `{"detail":"Session not found."}`,
			detail: "Session not found.",
		},
		{
			name:   "field validation",
			body:   `{"new_status":["\"Resubmitted\" is not a valid choice."],"comment":["Not a valid string."]}`,
			fields: map[string][]string{"new_status": {`"Resubmitted" is not a valid choice.`}, "comment": {"Not a valid string."}},
		},
		{
			name:   "non_field_errors object",
			body:   `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`,
			fields: map[string][]string{"non_field_errors": {"Invalid data. Expected a dictionary, but got list."}},
		},
		{
			name:   "bare list from a view-level ValidationError",
			body:   `["The new status is the same as the current status."]`,
			fields: map[string][]string{"non_field_errors": {"The new status is the same as the current status."}},
		},
		{
			name:   "lone string value",
			body:   `{"nodes_to_resubmit":"No features found that need resubmission."}`,
			fields: map[string][]string{"nodes_to_resubmit": {"No features found that need resubmission."}},
		},
		{
			name:   "nested errors kept as JSON text",
			body:   `{"nodes_to_resubmit":[{"feature":["bad"]}]}`,
			fields: map[string][]string{"nodes_to_resubmit": {`{"feature":["bad"]}`}},
		},
		{
			name: "not JSON",
			body: `<html>Bad Gateway</html>`,
		},
		{
			name: "empty body",
			body: ``,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseAPIError(400, []byte(tt.body))
			if e.StatusCode != 400 {
				t.Errorf("StatusCode = %d, want 400", e.StatusCode)
			}
			if string(e.Body) != tt.body {
				t.Errorf("Body = %q, want it verbatim %q", e.Body, tt.body)
			}
			if e.Detail != tt.detail {
				t.Errorf("Detail = %q, want %q", e.Detail, tt.detail)
			}
			if !reflect.DeepEqual(e.Fields, tt.fields) {
				t.Errorf("Fields = %#v, want %#v", e.Fields, tt.fields)
			}
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{`{"detail":"Session not found."}`, "kycreview: 404 Not Found: Session not found."},
		{`{"b":["two"],"a":["one","more"]}`, "kycreview: 404 Not Found; a: one more; b: two"},
		{`oops`, `kycreview: 404 Not Found: "oops"`},
		{``, "kycreview: 404 Not Found"},
	}
	for _, tt := range tests {
		if got := parseAPIError(404, []byte(tt.body)).Error(); got != tt.want {
			t.Errorf("Error() for %q = %q, want %q", tt.body, got, tt.want)
		}
	}
	long := parseAPIError(502, []byte(strings.Repeat("x", 1000))).Error()
	if len(long) > 300 {
		t.Errorf("Error() of a long non-JSON body is %d bytes; want it cut short", len(long))
	}
}
