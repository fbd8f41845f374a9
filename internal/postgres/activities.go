package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

const activityColumns = `pk, id::text, session_pk, seq, activity_type, actor_type, actor_id::text, actor_display, actor_email,
	previous_status, new_status, comment, mentioned_emails, previous_value, new_value, changed_fields, metadata, created_at, entry, hash`

// orderColumns maps the feed's orderable fields to columns. Only names found
// here reach the SQL text, so ordering cannot be used for injection. Text
// columns are compared byte by byte (COLLATE "C"), as SQLite compares them,
// whatever the database's locale: "B" < "a" < "b", on both backends.
var orderColumns = map[string]string{
	"uuid":            "id", // uuid order is the order of its lower-case text
	"activity_type":   `activity_type COLLATE "C"`,
	"actor_display":   `actor_display COLLATE "C"`,
	"actor_email":     `actor_email COLLATE "C"`,
	"actor_type":      `actor_type COLLATE "C"`,
	"new_status":      `new_status COLLATE "C"`,
	"previous_status": `previous_status COLLATE "C"`,
	"comment":         `comment COLLATE "C"`,
	"created_at":      "created_at",
	"seq":             "seq",
}

// orderBy renders the ORDER BY clause for terms; the rules (default, NULLs,
// tie-break) are the domain's, shared by both backends.
func orderBy(terms []kycreview.OrderTerm) (string, error) {
	keys := kycreview.FeedSortKeys(terms)
	parts := make([]string, len(keys))
	for i, k := range keys {
		col, ok := orderColumns[k.Field]
		if !ok {
			return "", fmt.Errorf("postgres: %q is not an orderable field", k.Field)
		}
		parts[i] = k.SQL(col)
	}
	return strings.Join(parts, ", "), nil
}

func (t *tx) InsertActivity(ctx context.Context, a *kycreview.Activity) error {
	entry, err := a.EntryJSON()
	if err != nil {
		return err
	}
	a.Entry = entry
	var actorID *string
	if a.Actor.ID != "" {
		actorID = &a.Actor.ID
	}
	err = t.q.QueryRow(ctx, `INSERT INTO activities (id, session_pk, seq, activity_type, actor_type, actor_id,
		actor_display, actor_email, previous_status, new_status, comment, mentioned_emails, previous_value, new_value,
		changed_fields, metadata, created_at, entry, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		RETURNING pk`,
		a.ID, a.SessionPK, a.Seq, string(a.Type), string(a.Actor.Type), actorID, a.Actor.Display, a.Actor.Email,
		statusArg(a.PreviousStatus), statusArg(a.NewStatus), a.Comment, nonNil(a.MentionedEmails),
		jsonArg(a.PreviousValue), jsonArg(a.NewValue), nonNil(a.ChangedFields), jsonArg(a.Metadata), utc(a.CreatedAt), string(entry), a.Hash,
	).Scan(&a.PK)
	return translate(err)
}

func (t *tx) ListActivities(ctx context.Context, sessionPK int64, q kycreview.FeedQuery) ([]kycreview.Activity, error) {
	order, err := orderBy(q.Ordering)
	if err != nil {
		return nil, err
	}
	return t.queryActivities(ctx, feedQuery(order), sessionPK, q.Limit, q.Offset)
}

// FeedPage reads the session and its page in one statement, and so in one
// round trip: the page is an array built by a subquery in the session's
// row, in the subquery's order, empty when the session has no rows there.
func (t *tx) FeedPage(ctx context.Context, appID, id string, q kycreview.FeedQuery) (service.FeedPage, error) {
	if !canonicalUUID(appID) || !canonicalUUID(id) {
		return service.FeedPage{}, kycreview.Errorf(kycreview.ENOTFOUND, "session not found")
	}
	order, err := orderBy(q.Ordering)
	if err != nil {
		return service.FeedPage{}, err
	}
	var page service.FeedPage
	var entries []string
	err = t.q.QueryRow(ctx, feedPageQuery(order), id, appID, q.Limit, q.Offset).Scan(&page.Kind, &page.Count, &entries)
	if err != nil {
		return service.FeedPage{}, notFound(err, "session")
	}
	page.Entries = make([]json.RawMessage, len(entries))
	for i, e := range entries {
		page.Entries[i] = json.RawMessage(e)
	}
	return page, nil
}

// feedPageQuery is FeedPage's statement for an ORDER BY clause; the
// unqualified columns in it are the subquery's (activities). With the
// default ordering the subquery reads activities_session_created backwards
// and stops after the page (docs/query-plans.md).
func feedPageQuery(order string) string {
	return `SELECT s.kind, s.activity_count,
		ARRAY(SELECT entry FROM activities WHERE session_pk = s.pk ORDER BY ` + order + ` LIMIT $3 OFFSET $4)
	FROM sessions s
	WHERE s.id = $1 AND s.application_id = $2 AND s.deleted_at IS NULL`
}

// feedQuery is the feed page query for an ORDER BY clause. With the default
// ordering it reads activities_session_created backwards and stops after the
// page, so its cost does not depend on the table's size (docs/query-plans.md).
func feedQuery(order string) string {
	return `SELECT ` + activityColumns + ` FROM activities WHERE session_pk = $1 ORDER BY ` + order + ` LIMIT $2 OFFSET $3`
}

// statusRowsQuery lists a session's status rows through UNIQUE (session_pk, seq).
const statusRowsQuery = `SELECT ` + activityColumns + ` FROM activities
	WHERE session_pk = $1 AND new_status IS NOT NULL ORDER BY seq`

func (t *tx) ListStatusActivities(ctx context.Context, sessionPK int64) ([]kycreview.Activity, error) {
	return t.queryActivities(ctx, statusRowsQuery, sessionPK)
}

func (t *tx) queryActivities(ctx context.Context, query string, args ...any) ([]kycreview.Activity, error) {
	rows, err := t.q.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []kycreview.Activity{}
	for rows.Next() {
		a, err := scanActivity(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, a)
	}
	return out, translate(rows.Err())
}

func scanActivity(rows pgx.Rows) (kycreview.Activity, error) {
	var a kycreview.Activity
	var actorID, prev, next *string
	var prevValue, newValue, metadata []byte
	var entry string
	err := rows.Scan(&a.PK, &a.ID, &a.SessionPK, &a.Seq, &a.Type, &a.Actor.Type, &actorID, &a.Actor.Display, &a.Actor.Email,
		&prev, &next, &a.Comment, &a.MentionedEmails, &prevValue, &newValue, &a.ChangedFields, &metadata, &a.CreatedAt, &entry, &a.Hash)
	if err != nil {
		return kycreview.Activity{}, err
	}
	if actorID != nil {
		a.Actor.ID = *actorID
	}
	a.PreviousStatus, a.NewStatus = statusPtr(prev), statusPtr(next)
	// Empty lists read back as empty, not nil, as they were written.
	a.MentionedEmails, a.ChangedFields = nonNil(a.MentionedEmails), nonNil(a.ChangedFields)
	a.PreviousValue, a.NewValue, a.Metadata = prevValue, newValue, metadata
	a.CreatedAt = a.CreatedAt.UTC()
	a.Entry = json.RawMessage(entry)
	return a, nil
}

func (t *tx) InsertOutboxEvent(ctx context.Context, e *kycreview.OutboxEvent) error {
	err := t.q.QueryRow(ctx, insertOutboxQuery, e.ID, e.ApplicationID, e.SessionPK, e.Seq, e.Type,
		utc(e.CreatedAt)).Scan(&e.PK)
	return translate(err)
}

// insertOutboxQuery queues an event and its deliveries in one statement, so
// one round trip: one pending delivery, due at the event's time, per live,
// enabled, not disabled destination of the application subscribed to the
// event's type. The deliveries' foreign key to the event is checked at the
// end of the statement, when the event row exists. The destinations are
// read as the statement's snapshot has them: one created or switched on
// concurrently gets the events committed after it.
const insertOutboxQuery = `WITH event AS (
	INSERT INTO webhook_outbox (id, application_id, session_pk, seq, event_type, created_at)
	VALUES ($1, $2, $3, $4, $5, $6) RETURNING pk
), deliveries AS (
	INSERT INTO webhook_deliveries (id, destination_pk, event_pk, session_pk, state, next_attempt_at, created_at)
	SELECT gen_random_uuid(), w.pk, event.pk, $3, 'pending', $6, $6
	FROM event, webhook_destinations w
	WHERE w.application_id = $2 AND w.enabled AND w.disabled_at IS NULL AND w.deleted_at IS NULL
		AND $5 = ANY (w.subscribed_events)
	ORDER BY w.pk
)
SELECT pk FROM event`

func (t *tx) FindOutboxEvent(ctx context.Context, id string) (kycreview.OutboxEvent, error) {
	if !canonicalUUID(id) {
		return kycreview.OutboxEvent{}, kycreview.Errorf(kycreview.ENOTFOUND, "event not found")
	}
	var e kycreview.OutboxEvent
	err := t.q.QueryRow(ctx, `SELECT pk, id::text, application_id::text, session_pk, seq, event_type, created_at
		FROM webhook_outbox WHERE id = $1`, id).Scan(&e.PK, &e.ID, &e.ApplicationID, &e.SessionPK, &e.Seq, &e.Type, &e.CreatedAt)
	if err != nil {
		return kycreview.OutboxEvent{}, notFound(err, "event")
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}

func (t *tx) InsertNotification(ctx context.Context, n *kycreview.Notification) error {
	err := t.q.QueryRow(ctx, `INSERT INTO notifications (id, application_id, activity_pk, user_id, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING pk`, n.ID, n.ApplicationID, n.ActivityPK, n.UserID, utc(n.CreatedAt)).Scan(&n.PK)
	return translate(err)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func statusArg(s *kycreview.Status) any {
	if s == nil {
		return nil
	}
	return string(*s)
}

func statusPtr(v *string) *kycreview.Status {
	if v == nil {
		return nil
	}
	s := kycreview.Status(*v)
	return &s
}
