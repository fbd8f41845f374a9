package client

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestFeedParamsQuery(t *testing.T) {
	tests := []struct {
		p    FeedParams
		want string
	}{
		{FeedParams{}, ""},
		{FeedParams{Limit: 2}, "limit=2"},
		{FeedParams{Limit: 2, Offset: 4, Ordering: "created_at"}, "limit=2&offset=4&ordering=created_at"},
		{FeedParams{Limit: -1, Offset: -3}, "limit=-1&offset=-3"},
		{FeedParams{Ordering: "-new_status,created_at"}, "ordering=-new_status%2Ccreated_at"},
	}
	for _, tt := range tests {
		if got := tt.p.query().Encode(); got != tt.want {
			t.Errorf("%+v.query() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestFeedURL(t *testing.T) {
	c := New("http://127.0.0.1:8080/", "k")
	got, err := c.feedURL("8c2f3a14-7e9b-4d23-9e83-3f7d5e8a1c6d", FeedParams{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	want := "http://127.0.0.1:8080/v3/sessions/8c2f3a14-7e9b-4d23-9e83-3f7d5e8a1c6d/reviews/?limit=50"
	if got != want {
		t.Errorf("feedURL = %q, want %q", got, want)
	}
}

// seedFeed is the answer printed on the feed seed page (two of its rows).
const seedFeed = `{"count":3,"next":null,"previous":null,"results":[
{"uuid":"de0561bc-5583-4409-9171-1a31a4c8a5f4","activity_type":"STATUS_UPDATED","actor_display":"API Client","actor_email":null,"actor_type":"API_KEY","new_status":"Approved","previous_status":"In Review","comment":"Document re-checked manually; address matches.","mentioned_emails":[],"previous_value":{"status":"In Review"},"new_value":{"status":"Approved"},"changed_fields":["status"],"metadata":null,"created_at":"2026-06-12T00:19:31.918735Z"},
{"uuid":"35370f58-5098-44ee-8a06-8c9af80b2455","activity_type":"STATUS_UPDATED","actor_display":"Unknown","actor_email":null,"actor_type":"CONSOLE_USER","new_status":null,"previous_status":null,"comment":"Note without status.","mentioned_emails":[],"previous_value":null,"new_value":null,"changed_fields":[],"metadata":null,"created_at":"2026-06-12T00:18:44Z"}]}`

// TestFeedPageDecodesSeed checks the json tags against the seed: unknown
// fields are refused, so a mistyped tag fails here instead of silently
// dropping a field in every end-to-end test.
func TestFeedPageDecodesSeed(t *testing.T) {
	dec := json.NewDecoder(bytes.NewReader([]byte(seedFeed)))
	dec.DisallowUnknownFields()
	var page FeedPage
	if err := dec.Decode(&page); err != nil {
		t.Fatal(err)
	}
	if page.Count != 3 || page.Next != nil || page.Previous != nil || len(page.Results) != 2 {
		t.Fatalf("page = %+v", page)
	}
	e := page.Results[0]
	if e.UUID != "de0561bc-5583-4409-9171-1a31a4c8a5f4" || e.ActorDisplay != "API Client" || e.ActorType != "API_KEY" {
		t.Errorf("entry = %+v", e)
	}
	if e.ActorEmail != nil || e.NewStatus == nil || *e.NewStatus != "Approved" || e.PreviousStatus == nil || *e.PreviousStatus != "In Review" {
		t.Errorf("nullable fields = %v %v %v", e.ActorEmail, e.NewStatus, e.PreviousStatus)
	}
	if string(e.PreviousValue) != `{"status":"In Review"}` || string(e.NewValue) != `{"status":"Approved"}` {
		t.Errorf("values = %s / %s", e.PreviousValue, e.NewValue)
	}
	// A JSON null must stay visible as `null`, not turn into a missing value.
	if string(e.Metadata) != "null" || string(page.Results[1].PreviousValue) != "null" {
		t.Errorf("null raw values = %q / %q, want \"null\"", e.Metadata, page.Results[1].PreviousValue)
	}
	if e.MentionedEmails == nil || len(e.MentionedEmails) != 0 || len(e.ChangedFields) != 1 {
		t.Errorf("lists = %#v / %#v", e.MentionedEmails, e.ChangedFields)
	}
	if want := time.Date(2026, 6, 12, 0, 19, 31, 918735000, time.UTC); !e.CreatedAt.Equal(want) {
		t.Errorf("CreatedAt = %v, want %v", e.CreatedAt, want)
	}
	if want := time.Date(2026, 6, 12, 0, 18, 44, 0, time.UTC); !page.Results[1].CreatedAt.Equal(want) {
		t.Errorf("CreatedAt without fraction = %v, want %v", page.Results[1].CreatedAt, want)
	}
}
