package kycreview

import (
	"encoding/json"
	"time"
)

// ActivityType says what a feed row records.
type ActivityType string

// Activity types. The API and the console write STATUS_UPDATED and COMMENT;
// the rest are Didit's system types, stored as given for rows a pipeline
// writes.
const (
	ActivityStatusUpdated ActivityType = "STATUS_UPDATED"
	ActivityComment       ActivityType = "COMMENT"
)

// ActivityTypes lists every activity type Didit documents.
func ActivityTypes() []ActivityType {
	return []ActivityType{
		"COMMENT", "STATUS_UPDATED", "KYC_DATA_UPDATED", "POA_DATA_UPDATED", "FILE_ADDED", "FILE_REMOVED",
		"AML_ONGOING_MATCH", "AML_STATUS_UPDATED", "AML_HIT_STATUS_UPDATED", "KYB_DATA_UPDATED",
		"KYB_DOCUMENT_UPLOADED", "TAG_ADDED", "TAG_REMOVED",
	}
}

// ActorType says who performed an action.
type ActorType string

// The actor types.
const (
	ActorAPIKey      ActorType = "API_KEY"
	ActorConsoleUser ActorType = "CONSOLE_USER"
	ActorSystem      ActorType = "SYSTEM"
)

// Actor is who performed an action, as recorded on the feed row at the time:
// the row is immutable, so its display name is a snapshot.
type Actor struct {
	Type ActorType
	// ID is the API key's or console user's id; empty when unknown.
	ID      string
	Display string
	Email   *string
}

// APIKeyActor is the actor for a request made with a client API key.
func APIKeyActor(keyID string) Actor {
	return Actor{Type: ActorAPIKey, ID: keyID, Display: "API Client"}
}

// SystemActor is the actor for a request made with a system API key: the
// customer's verification pipeline.
func SystemActor(keyID string) Actor {
	return Actor{Type: ActorSystem, ID: keyID, Display: "System"}
}

// KeyActor is the actor for a request authenticated with key.
func KeyActor(key APIKey) Actor {
	if key.Role == RoleSystem {
		return SystemActor(key.ID)
	}
	return APIKeyActor(key.ID)
}

// ConsoleUserActor is the actor for a console user's action.
func ConsoleUserActor(u ConsoleUser) Actor {
	email := u.Email
	return Actor{Type: ActorConsoleUser, ID: u.ID, Display: u.DisplayName(), Email: &email}
}

// Activity is one immutable row of a session's feed.
type Activity struct {
	PK        int64
	ID        string
	SessionPK int64
	// Seq numbers a session's rows 1, 2, 3… in commit order.
	Seq             int64
	Type            ActivityType
	Actor           Actor
	PreviousStatus  *Status
	NewStatus       *Status
	Comment         *string
	MentionedEmails []string
	// PreviousValue, NewValue and Metadata are JSON objects, or nil for null.
	PreviousValue json.RawMessage
	NewValue      json.RawMessage
	ChangedFields []string
	Metadata      json.RawMessage
	CreatedAt     time.Time
	// Entry is the row rendered for the feed (EntryJSON), kept by storage.
	Entry json.RawMessage
	// Hash links the row into its session's audit chain (ChainHash); it is
	// never part of the feed entry.
	Hash []byte
}

// Change is one action on a session: who did it, the status it sets (nil for
// a comment alone) and the comment.
type Change struct {
	Actor     Actor
	NewStatus *Status
	Comment   *string
	// ActivityType overrides the row's type; empty means STATUS_UPDATED, which
	// is what the API writes even for rows without a status, as Didit does.
	ActivityType ActivityType
}

// NewActivity builds the feed row for change applied to session s at time at,
// with the given resolved mentions. It is the one place that decides the
// row's status fields: when the status really changes, the row carries
// {"status": old} and {"status": new} and changed_fields ["status"];
// otherwise the snapshots are null and changed_fields is empty.
func NewActivity(id string, s Session, c Change, mentions []string, at time.Time) Activity {
	a := Activity{
		ID:              id,
		SessionPK:       s.PK,
		Seq:             s.ActivityCount + 1,
		Type:            c.ActivityType,
		Actor:           c.Actor,
		Comment:         c.Comment,
		MentionedEmails: mentions,
		ChangedFields:   []string{},
		CreatedAt:       at,
	}
	if a.Type == "" {
		a.Type = ActivityStatusUpdated
	}
	if a.MentionedEmails == nil {
		a.MentionedEmails = []string{}
	}
	if c.NewStatus != nil {
		prev, next := s.Status, *c.NewStatus
		a.PreviousStatus, a.NewStatus = &prev, &next
		if prev != next {
			a.PreviousValue = statusSnapshot(prev)
			a.NewValue = statusSnapshot(next)
			a.ChangedFields = []string{"status"}
		}
	}
	return a
}

func statusSnapshot(s Status) json.RawMessage {
	b, _ := json.Marshal(map[string]Status{"status": s}) // cannot fail: a map of strings
	return b
}

// NextActivityTime is the time to stamp on a session's next row: now, cut to
// the microsecond the feed shows, but always after the session's last row, so
// that ordering by created_at is commit order even when clocks step back or
// replicas' clocks differ.
func NextActivityTime(now, last time.Time) time.Time {
	t := now.UTC().Truncate(time.Microsecond)
	if !last.IsZero() && !t.After(last) {
		t = last.UTC().Truncate(time.Microsecond).Add(time.Microsecond)
	}
	return t
}

// OrderTerm is one term of a feed ordering.
type OrderTerm struct {
	Field string
	Desc  bool
}

// FeedOrderFields are the feed's orderable fields.
func FeedOrderFields() []string {
	return []string{
		"uuid", "activity_type", "actor_display", "actor_email", "actor_type",
		"new_status", "previous_status", "comment", "created_at",
	}
}

// DefaultFeedOrdering is newest first.
func DefaultFeedOrdering() []OrderTerm { return []OrderTerm{{Field: "created_at", Desc: true}} }

// FeedQuery selects one page of a session's feed.
type FeedQuery struct {
	Ordering []OrderTerm
	Limit    int
	Offset   int
}

// SortKey is one key a feed page is sorted by, with everything storage
// needs to say it in SQL.
type SortKey struct {
	Field string // an orderable field, or "seq" for insertion order
	Desc  bool
	// NullsFirst places NULLs before other values; only nullable fields have
	// any.
	NullsFirst, Nullable bool
}

// FeedSortKeys expands an ordering into the keys storage sorts by, so both
// databases order a feed the same way: the terms (or the default), NULLs
// sorting as the largest values, then insertion order in the first term's
// direction, so equal values keep a stable order and pages never overlap.
func FeedSortKeys(terms []OrderTerm) []SortKey {
	if len(terms) == 0 {
		terms = DefaultFeedOrdering()
	}
	keys := make([]SortKey, 0, len(terms)+1)
	for _, t := range terms {
		nullable := t.Field == "actor_email" || t.Field == "new_status" || t.Field == "previous_status" || t.Field == "comment"
		keys = append(keys, SortKey{Field: t.Field, Desc: t.Desc, Nullable: nullable, NullsFirst: nullable && t.Desc})
	}
	return append(keys, SortKey{Field: "seq", Desc: terms[0].Desc})
}

// SQL renders the key as an ORDER BY term over column.
func (k SortKey) SQL(column string) string {
	s := column + " ASC"
	if k.Desc {
		s = column + " DESC"
	}
	switch {
	case !k.Nullable:
	case k.NullsFirst:
		s += " NULLS FIRST"
	default:
		s += " NULLS LAST"
	}
	return s
}
