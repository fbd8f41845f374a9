package kycreview

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func activityStatusPtr(s Status) *Status { return &s }

func activityStringPtr(s string) *string { return &s }

// TestNewActivity checks the feed row SPEC §3.2 describes for each kind of
// change: snapshots and changed_fields only when the status really changes.
func TestNewActivity(t *testing.T) {
	at := time.Date(2026, 6, 12, 0, 19, 31, 918735000, time.UTC)
	key := APIKeyActor("key-1")
	email := "ana@example.com"
	ana := Actor{Type: ActorConsoleUser, ID: "u-ana", Display: "Ana Ruiz", Email: &email}
	session := func(status Status, count int64) Session {
		return Session{PK: 42, ID: "8c2f3a14-7e9b-4d23-9e83-3f7d5e8a1c6d", Status: status, ActivityCount: count}
	}

	tests := []struct {
		name     string
		session  Session
		change   Change
		mentions []string
		want     Activity
	}{
		{
			name:     "status change",
			session:  session(StatusInReview, 2),
			change:   Change{Actor: key, NewStatus: activityStatusPtr(StatusApproved), Comment: activityStringPtr("Document re-checked manually; address matches.")},
			mentions: []string{"Ana@Example.com"},
			want: Activity{
				ID: "act-1", SessionPK: 42, Seq: 3, Type: ActivityStatusUpdated, Actor: key,
				PreviousStatus:  activityStatusPtr(StatusInReview),
				NewStatus:       activityStatusPtr(StatusApproved),
				Comment:         activityStringPtr("Document re-checked manually; address matches."),
				MentionedEmails: []string{"Ana@Example.com"},
				PreviousValue:   json.RawMessage(`{"status":"In Review"}`),
				NewValue:        json.RawMessage(`{"status":"Approved"}`),
				ChangedFields:   []string{"status"},
				CreatedAt:       at,
			},
		},
		{
			name:    "first row of a new session",
			session: session(StatusNotStarted, 0),
			change:  Change{Actor: SystemActor("key-sys"), NewStatus: activityStatusPtr(StatusInProgress)},
			want: Activity{
				ID: "act-1", SessionPK: 42, Seq: 1, Type: ActivityStatusUpdated, Actor: SystemActor("key-sys"),
				PreviousStatus:  activityStatusPtr(StatusNotStarted),
				NewStatus:       activityStatusPtr(StatusInProgress),
				MentionedEmails: []string{},
				PreviousValue:   json.RawMessage(`{"status":"Not Started"}`),
				NewValue:        json.RawMessage(`{"status":"In Progress"}`),
				ChangedFields:   []string{"status"},
				CreatedAt:       at,
			},
		},
		{
			name:    "statuses with spaces and odd case",
			session: session(StatusKycExpired, 41),
			change:  Change{Actor: SystemActor("key-sys"), NewStatus: activityStatusPtr(StatusAwaitingUser)},
			want: Activity{
				ID: "act-1", SessionPK: 42, Seq: 42, Type: ActivityStatusUpdated, Actor: SystemActor("key-sys"),
				PreviousStatus:  activityStatusPtr(StatusKycExpired),
				NewStatus:       activityStatusPtr(StatusAwaitingUser),
				MentionedEmails: []string{},
				PreviousValue:   json.RawMessage(`{"status":"Kyc Expired"}`),
				NewValue:        json.RawMessage(`{"status":"Awaiting User"}`),
				ChangedFields:   []string{"status"},
				CreatedAt:       at,
			},
		},
		{
			name:    "same status again",
			session: session(StatusApproved, 5),
			change:  Change{Actor: key, NewStatus: activityStatusPtr(StatusApproved), Comment: activityStringPtr("still fine")},
			want: Activity{
				ID: "act-1", SessionPK: 42, Seq: 6, Type: ActivityStatusUpdated, Actor: key,
				PreviousStatus:  activityStatusPtr(StatusApproved),
				NewStatus:       activityStatusPtr(StatusApproved),
				Comment:         activityStringPtr("still fine"),
				MentionedEmails: []string{},
				PreviousValue:   nil,
				NewValue:        nil,
				ChangedFields:   []string{},
				CreatedAt:       at,
			},
		},
		{
			name:     "comment only, default type",
			session:  session(StatusInReview, 1),
			change:   Change{Actor: ana, Comment: activityStringPtr("Note without status.")},
			mentions: []string{"bob@example.org"},
			want: Activity{
				ID: "act-1", SessionPK: 42, Seq: 2, Type: ActivityStatusUpdated, Actor: ana,
				Comment:         activityStringPtr("Note without status."),
				MentionedEmails: []string{"bob@example.org"},
				ChangedFields:   []string{},
				CreatedAt:       at,
			},
		},
		{
			name:    "comment only, COMMENT type",
			session: session(StatusInReview, 1),
			change:  Change{Actor: ana, Comment: activityStringPtr("Note."), ActivityType: ActivityComment},
			want: Activity{
				ID: "act-1", SessionPK: 42, Seq: 2, Type: ActivityComment, Actor: ana,
				Comment:         activityStringPtr("Note."),
				MentionedEmails: []string{},
				ChangedFields:   []string{},
				CreatedAt:       at,
			},
		},
		{
			name:    "system type kept with a status change",
			session: session(StatusInReview, 9),
			change:  Change{Actor: SystemActor("key-sys"), NewStatus: activityStatusPtr(StatusDeclined), ActivityType: "AML_STATUS_UPDATED"},
			want: Activity{
				ID: "act-1", SessionPK: 42, Seq: 10, Type: "AML_STATUS_UPDATED", Actor: SystemActor("key-sys"),
				PreviousStatus:  activityStatusPtr(StatusInReview),
				NewStatus:       activityStatusPtr(StatusDeclined),
				MentionedEmails: []string{},
				PreviousValue:   json.RawMessage(`{"status":"In Review"}`),
				NewValue:        json.RawMessage(`{"status":"Declined"}`),
				ChangedFields:   []string{"status"},
				CreatedAt:       at,
			},
		},
		{
			name:     "empty non-nil mentions kept empty",
			session:  session(StatusInReview, 0),
			change:   Change{Actor: key},
			mentions: []string{},
			want: Activity{
				ID: "act-1", SessionPK: 42, Seq: 1, Type: ActivityStatusUpdated, Actor: key,
				MentionedEmails: []string{},
				ChangedFields:   []string{},
				CreatedAt:       at,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewActivity("act-1", tt.session, tt.change, tt.mentions, at)
			// cmp tells nil from empty slices and raw messages, which is the
			// difference between JSON null and []/{} on the wire.
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewActivity mismatch (-want +got):\n%s", diff)
			}
			if got.MentionedEmails == nil {
				t.Error("MentionedEmails is nil, want non-nil (the feed shows [] not null)")
			}
			if got.ChangedFields == nil {
				t.Error("ChangedFields is nil, want non-nil (the feed shows [] not null)")
			}
			for name, raw := range map[string]json.RawMessage{"PreviousValue": got.PreviousValue, "NewValue": got.NewValue} {
				if raw != nil && !json.Valid(raw) {
					t.Errorf("%s = %q, not valid JSON", name, raw)
				}
			}
		})
	}
}

// TestNewActivityDoesNotAliasSession checks that the row's status pointers do
// not point into the caller's values: the row is immutable once built.
func TestNewActivityDoesNotAliasSession(t *testing.T) {
	s := Session{Status: StatusInReview}
	next := StatusApproved
	a := NewActivity("act-1", s, Change{Actor: APIKeyActor("k"), NewStatus: &next}, nil, time.Unix(0, 0))
	next = StatusDeclined
	if a.NewStatus == nil || *a.NewStatus != StatusApproved {
		t.Errorf("NewStatus changed with the caller's variable: got %v, want Approved", a.NewStatus)
	}
	if a.PreviousStatus == nil || *a.PreviousStatus != StatusInReview {
		t.Errorf("PreviousStatus = %v, want In Review", a.PreviousStatus)
	}
}

// TestNextActivityTime checks the row stamp: now cut to the microsecond, but
// strictly after the session's last row even when the clock steps back.
func TestNextActivityTime(t *testing.T) {
	base := time.Date(2026, 6, 12, 0, 19, 31, 918735000, time.UTC)
	cest := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name      string
		now, last time.Time
		want      time.Time
	}{
		{"zero last, truncated", base.Add(123 * time.Nanosecond), time.Time{}, base},
		{"zero last, whole microsecond", base, time.Time{}, base},
		{"zero last, not rounded up", base.Add(999 * time.Nanosecond), time.Time{}, base},
		{"zero last, non-UTC now", base.In(cest).Add(1), time.Time{}, base},
		{"now after last", base.Add(time.Second + 123), base, base.Add(time.Second)},
		{"now exactly 1µs after last", base.Add(time.Microsecond), base, base.Add(time.Microsecond)},
		{"now equal to last", base, base, base.Add(time.Microsecond)},
		{"now within the same microsecond as last", base.Add(500), base, base.Add(time.Microsecond)},
		{"now before last (clock stepped back)", base.Add(-time.Hour), base, base.Add(time.Microsecond)},
		{"now far before last", time.Unix(0, 0), base, base.Add(time.Microsecond)},
		{"last in another zone", base.In(cest).Add(-time.Minute), base.In(cest), base.Add(time.Microsecond)},
		{"now in another zone, after last", base.In(cest).Add(2 * time.Microsecond), base, base.Add(2 * time.Microsecond)},
		// A last row stamped with sub-microsecond precision (say by another
		// writer) must still give a whole microsecond after it.
		{"last not a whole microsecond", base, base.Add(500), base.Add(time.Microsecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextActivityTime(tt.now, tt.last)
			if !got.Equal(tt.want) {
				t.Errorf("NextActivityTime(%s, %s) = %s, want %s",
					tt.now.Format(time.RFC3339Nano), tt.last.Format(time.RFC3339Nano),
					got.Format(time.RFC3339Nano), tt.want.Format(time.RFC3339Nano))
			}
			if got.Location() != time.UTC {
				t.Errorf("NextActivityTime location = %v, want UTC", got.Location())
			}
			if got.Nanosecond()%1000 != 0 {
				t.Errorf("NextActivityTime = %s, not a whole microsecond", got.Format(time.RFC3339Nano))
			}
			if !tt.last.IsZero() && !got.After(tt.last) {
				t.Errorf("NextActivityTime = %s, not after last %s", got.Format(time.RFC3339Nano), tt.last.Format(time.RFC3339Nano))
			}
		})
	}
}
