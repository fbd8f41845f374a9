package kycreview

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDestinationViewState(t *testing.T) {
	at := time.Date(2026, 5, 17, 10, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name        string
		enabled     bool
		disabledAt  *time.Time
		wantEnabled bool
		wantReason  string // "" for null
	}{
		{"enabled", true, nil, true, ""},
		{"paused by the customer", false, nil, false, DisabledPaused},
		{"disabled by the dispatcher", true, &at, false, DisabledFailing},
		{"disabled, then paused", false, &at, false, DisabledFailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Destination{ID: "d", Enabled: tt.enabled, DisabledAt: tt.disabledAt, FailingSince: &at, Secret: "s", CreatedAt: at, UpdatedAt: at}
			v := NewDestinationView(d, true)
			if v.Enabled != tt.wantEnabled || deref(v.DisabledReason) != tt.wantReason {
				t.Errorf("enabled %v reason %q, want %v %q", v.Enabled, deref(v.DisabledReason), tt.wantEnabled, tt.wantReason)
			}
			if (v.DisabledAt != nil) != (tt.disabledAt != nil) || deref(v.FailingSince) != "2026-05-17T10:00:00.123456Z" {
				t.Errorf("disabled_at %q failing_since %q", deref(v.DisabledAt), deref(v.FailingSince))
			}
		})
	}
}

func TestDestinationViewSecretOnlyInDetail(t *testing.T) {
	d := Destination{ID: "d", Secret: "s3cret", SubscribedEvents: nil}
	detail, _ := json.Marshal(NewDestinationView(d, true))
	row, _ := json.Marshal(NewDestinationView(d, false))
	want := `{"uuid":"d","label":"","url":"","enabled":false,"webhook_version":"","secret_shared_key":"s3cret","subscribed_events":[],` +
		`"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z","disabled_reason":"paused","disabled_at":null,"failing_since":null}`
	if string(detail) != want {
		t.Errorf("detail %s\nwant   %s", detail, want)
	}
	want = `{"uuid":"d","label":"","url":"","enabled":false,"webhook_version":"","subscribed_events":[],"subscribed_events_count":0,` +
		`"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z","disabled_reason":"paused","disabled_at":null,"failing_since":null}`
	if string(row) != want {
		t.Errorf("row %s\nwant %s", row, want)
	}
}

func TestDeliveryView(t *testing.T) {
	at := time.Date(2026, 5, 17, 10, 0, 0, 0, time.UTC)
	done := at.Add(time.Second)
	d := Delivery{ID: "x", EventID: "e", EventType: EventStatusUpdated, SessionID: "s", State: DeliveryFailed, Attempts: 2,
		NextAttemptAt: at, CreatedAt: at, CompletedAt: &done, AttemptHistory: []Attempt{
			{ID: "a1", Number: 1, StartedAt: at, Latency: 1500 * time.Microsecond, StatusCode: ptr(500), Error: "HTTP 500", ResponseHead: "<oops>"},
			{ID: "a2", Number: 2, StartedAt: at, Latency: 5 * time.Second, Error: "timeout"},
		}}
	got, _ := json.Marshal(NewDeliveryView(d))
	want := `{"uuid":"x","event_id":"e","event_type":"status.updated","session_id":"s","state":"failed","attempts":2,` +
		`"next_attempt_at":null,"created_at":"2026-05-17T10:00:00Z","completed_at":"2026-05-17T10:00:01Z","attempts_log":[` +
		`{"uuid":"a1","number":1,"started_at":"2026-05-17T10:00:00Z","status_code":500,"latency_ms":1.5,"error":"HTTP 500","response_head":"\u003coops\u003e"},` +
		`{"uuid":"a2","number":2,"started_at":"2026-05-17T10:00:00Z","status_code":null,"latency_ms":5000,"error":"timeout","response_head":""}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Pending: next_attempt_at shown; no attempts is an empty list, not null.
	d = Delivery{ID: "x", State: DeliveryPending, NextAttemptAt: at, CreatedAt: at}
	v := NewDeliveryView(d)
	if deref(v.NextAttemptAt) != "2026-05-17T10:00:00Z" || v.AttemptsLog == nil || v.CompletedAt != nil {
		t.Errorf("pending view %+v", v)
	}
	ok := Delivery{State: DeliverySucceeded, AttemptHistory: []Attempt{{StatusCode: ptr(200)}}}
	if e := NewDeliveryView(ok).AttemptsLog[0].Error; e != nil {
		t.Errorf("a 2xx attempt's error is %q, want null", *e)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
