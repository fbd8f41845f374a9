package httpapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/kycreview/kycreview"
)

// The request-body fuzz targets feed arbitrary bytes under arbitrary
// content types to the decoders the POST and PATCH handlers use. Their seed
// corpora are in testdata/fuzz/<FuzzName>; run one longer with, e.g.,
// go test -run '^$' -fuzz '^FuzzDecodeChange$' -fuzztime 30s ./internal/httpapi/

// checkBodyError fails unless err is a kycreview error the handlers render
// in DRF's shape: a request-level code with a message, or a validation error
// whose every field has at least one non-empty message.
func checkBodyError(t *testing.T, err error) {
	t.Helper()
	var e *kycreview.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *kycreview.Error", err, err)
	}
	switch e.Code {
	case kycreview.EBADREQUEST, kycreview.EUNSUPPORTED:
		if e.Message == "" || e.Fields != nil {
			t.Fatalf("%s error without a message or with fields: %+v", e.Code, e)
		}
	case kycreview.EINVALID:
		if len(e.Fields) == 0 {
			t.Fatalf("validation error without field messages: %+v", e)
		}
		for name, msgs := range e.Fields {
			if len(msgs) == 0 {
				t.Fatalf("validation error: field %q has no message: %+v", name, e)
			}
			for _, m := range msgs {
				if m == "" {
					t.Fatalf("validation error: field %q has an empty message: %+v", name, e)
				}
			}
		}
		body := any(e.Fields)
		var le *listErrors
		if errors.As(err, &le) {
			body = le.body()
		}
		if _, merr := json.Marshal(body); merr != nil {
			t.Fatalf("validation error body does not encode: %v", merr)
		}
	default:
		t.Fatalf("unexpected error code %q: %v", e.Code, err)
	}
}

// reencode builds a JSON object body from fields, failing the test if it
// cannot.
func reencode(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatalf("re-encoding %v: %v", fields, err)
	}
	return b
}

var fuzzContentTypes = []string{
	"application/json",
	"application/json; charset=utf-8",
	"*/*",
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=x",
	"text/plain",
	"",
	"application/json; charset",
}

// FuzzDecodeChange: the review POST and status PATCH body ({new_status,
// comment}) never panics; a nil error means a status among the choices and
// a comment within the limits, which re-encoded decode to the same change;
// any error is a DRF-shaped kycreview error.
func FuzzDecodeChange(f *testing.F) {
	for _, ct := range fuzzContentTypes {
		f.Add(ct, []byte(`{"new_status":"Approved","comment":"ok @ana@example.com"}`), false)
	}
	f.Add("application/json", []byte(`{"new_status":"In Review","comment":null}`), true)
	f.Add("application/json", []byte(`{"new_status":1,"comment":12.50}`), false)
	f.Add("application/json", []byte("{\"comment\":\"\\ud800\"}"), false)
	f.Add("application/json", []byte("\xef\xbb\xbf{}"), false)
	f.Add("application/json", []byte(`[1,2]`), false)
	f.Add("application/json", []byte(`null`), false)
	f.Fuzz(func(t *testing.T, contentType string, body []byte, update bool) {
		choices := kycreview.ReviewStatuses()
		if update {
			choices = kycreview.UpdatableStatuses()
		}
		c, err := decodeChange(contentType, body, choices)
		if err != nil {
			checkBodyError(t, err)
			return
		}
		if c.NewStatus == nil || !c.NewStatus.In(choices) {
			t.Fatalf("accepted %q with status %v, not one of %v", body, c.NewStatus, choices)
		}
		if c.Comment != nil {
			if msgs := kycreview.CharFieldErrors(*c.Comment, kycreview.MaxCommentLength); msgs != nil {
				t.Fatalf("accepted %q with an invalid comment: %v", body, msgs)
			}
		}
		again, err := decodeChange("application/json", reencode(t, map[string]any{"new_status": c.NewStatus, "comment": c.Comment}), choices)
		if err != nil {
			t.Fatalf("accepted %q as %+v, which re-encoded is refused: %v", body, c, err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("accepted %q as %+v, which re-encoded decodes as %+v", body, c, again)
		}
	})
}

// FuzzDecodeSession: the session POST body never panics; a nil error means
// a canonical workflow UUID and fields within their limits, which
// re-encoded decode to the same input; any error is DRF-shaped.
func FuzzDecodeSession(f *testing.F) {
	for _, ct := range fuzzContentTypes {
		f.Add(ct, []byte(`{"workflow_id":"6f1c2b3a-0000-4000-8000-000000000001","vendor_data":"u-1","metadata":{"a":[1,2]}}`))
	}
	f.Add("application/json", []byte(`{"workflow_id":"urn:uuid:{6F1C2B3A00004000800000000000000A}","callback":null}`))
	f.Add("application/json", []byte(`{"workflow_id":12345,"vendor_data":7,"metadata":"x"}`))
	f.Add("application/json", []byte(`{"workflow_id":true,"metadata":{"s":"\ud800"}}`))
	f.Add("application/json", []byte(`{"workflow_id":"0x_6f1c2b3a00004000800000000000","callback":" "}`))
	f.Add("application/json", []byte(`{}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		in, err := decodeSession(contentType, body)
		if err != nil {
			checkBodyError(t, err)
			return
		}
		if len(in.WorkflowID) != 36 || in.WorkflowID[8] != '-' {
			t.Fatalf("accepted %q with workflow id %q, not a canonical UUID", body, in.WorkflowID)
		}
		if in.Metadata != nil && !json.Valid(in.Metadata) {
			t.Fatalf("accepted %q with metadata %q, not JSON", body, in.Metadata)
		}
		fields := map[string]any{"workflow_id": in.WorkflowID, "vendor_data": in.VendorData, "callback": in.Callback}
		if in.Metadata != nil {
			fields["metadata"] = in.Metadata
		}
		again, err := decodeSession("application/json", reencode(t, fields))
		if err != nil {
			t.Fatalf("accepted %q as %+v, which re-encoded is refused: %v", body, in, err)
		}
		if !reflect.DeepEqual(again, in) {
			t.Fatalf("accepted %q as %+v, which re-encoded decodes as %+v", body, in, again)
		}
	})
}

// FuzzDecodeDestination: the webhook destination body never panics; a nil
// error means values of the right types, which re-encoded decode the same;
// any error is DRF-shaped.
func FuzzDecodeDestination(f *testing.F) {
	f.Add("application/json", []byte(`{"label":"prod","url":"https://example.com/hook","enabled":true,"webhook_version":"v3","subscribed_events":["status.updated"]}`), true)
	f.Add("application/json", []byte(`{"enabled":"yes","subscribed_events":[]}`), false)
	f.Add("application/json", []byte(`{"label":1,"url":null,"subscribed_events":[1,null,"x"]}`), true)
	f.Add("text/plain", []byte(`{}`), false)
	f.Add("application/json", []byte(`{"subscribed_events":"status.updated"}`), false)
	f.Fuzz(func(t *testing.T, contentType string, body []byte, create bool) {
		in, err := decodeDestination(contentType, body, create)
		if err != nil {
			checkBodyError(t, err)
			return
		}
		fields := map[string]any{}
		if in.Label != nil {
			fields["label"] = *in.Label
		}
		if in.URL != nil {
			fields["url"] = *in.URL
		}
		if in.Enabled != nil {
			fields["enabled"] = *in.Enabled
		}
		if in.WebhookVersion != nil {
			fields["webhook_version"] = *in.WebhookVersion
		}
		if in.SubscribedEvents != nil {
			fields["subscribed_events"] = *in.SubscribedEvents
		}
		again, err := decodeDestination("application/json", reencode(t, fields), create)
		if err != nil {
			t.Fatalf("accepted %q as %+v, which re-encoded is refused: %v", body, in, err)
		}
		if !reflect.DeepEqual(again, in) {
			t.Fatalf("accepted %q as %+v, which re-encoded decodes as %+v", body, in, again)
		}
	})
}
