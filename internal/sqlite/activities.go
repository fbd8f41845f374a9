package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

const activityColumns = `pk, id, session_pk, seq, activity_type, actor_type, actor_id, actor_display, actor_email,
	previous_status, new_status, comment, mentioned_emails, previous_value, new_value, changed_fields, metadata, created_at, entry, hash`

// orderColumns maps the feed's orderable fields to columns. Only names found
// here reach the SQL text, so ordering cannot be used for injection.
var orderColumns = map[string]string{
	"uuid":            "id",
	"activity_type":   "activity_type",
	"actor_display":   "actor_display",
	"actor_email":     "actor_email",
	"actor_type":      "actor_type",
	"new_status":      "new_status",
	"previous_status": "previous_status",
	"comment":         "comment",
	"created_at":      "created_at",
	"seq":             "seq",
}

// orderBy renders the ORDER BY clause for terms; the rules (default, NULLs,
// tie-break) are the domain's, shared by both backends.
// Each column is prefixed with table, an alias and its dot, or "".
func orderBy(terms []kycreview.OrderTerm, table string) (string, error) {
	keys := kycreview.FeedSortKeys(terms)
	parts := make([]string, len(keys))
	for i, k := range keys {
		col, ok := orderColumns[k.Field]
		if !ok {
			return "", fmt.Errorf("sqlite: %q is not an orderable field", k.Field)
		}
		parts[i] = k.SQL(table + col)
	}
	return strings.Join(parts, ", "), nil
}

const insertActivityQuery = `INSERT INTO activities (id, session_pk, seq, activity_type, actor_type, actor_id,
	actor_display, actor_email, previous_status, new_status, comment, mentioned_emails, previous_value, new_value,
	changed_fields, metadata, created_at, entry, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk`

func (t *tx) InsertActivity(ctx context.Context, a *kycreview.Activity) error {
	entry, err := a.EntryJSON()
	if err != nil {
		return err
	}
	a.Entry = entry
	mentions, err := json.Marshal(nonNil(a.MentionedEmails))
	if err != nil {
		return err
	}
	changed, err := json.Marshal(nonNil(a.ChangedFields))
	if err != nil {
		return err
	}
	var actorID any
	if a.Actor.ID != "" {
		actorID = a.Actor.ID
	}
	err = t.queryRow(ctx, insertActivityQuery,
		a.ID, a.SessionPK, a.Seq, string(a.Type), string(a.Actor.Type), actorID, a.Actor.Display, a.Actor.Email,
		statusArg(a.PreviousStatus), statusArg(a.NewStatus), a.Comment, string(mentions),
		rawArg(a.PreviousValue), rawArg(a.NewValue), string(changed), rawArg(a.Metadata), a.CreatedAt.UnixMicro(), string(entry), blobArg(a.Hash),
	).Scan(&a.PK)
	return translate(err)
}

func (t *tx) ListActivities(ctx context.Context, sessionPK int64, q kycreview.FeedQuery) ([]kycreview.Activity, error) {
	order, err := orderBy(q.Ordering, "")
	if err != nil {
		return nil, err
	}
	return t.queryActivities(ctx, feedQuery(order), sessionPK, q.Limit, q.Offset)
}

// FeedPage reads the session and its page in one statement: the session by
// its unique id, then its entries from activities_feed, joined so that a
// session with no rows still yields one (with a NULL entry). Only an OFFSET
// past the last row yields nothing, and then the session is read alone.
func (t *tx) FeedPage(ctx context.Context, appID, id string, q kycreview.FeedQuery) (service.FeedPage, error) {
	order, err := orderBy(q.Ordering, "a.")
	if err != nil {
		return service.FeedPage{}, err
	}
	rows, err := t.query(ctx, feedPageQuery(order), id, appID, q.Limit, q.Offset)
	if err != nil {
		return service.FeedPage{}, translate(err)
	}
	defer rows.Close()
	var page service.FeedPage
	found := false
	for rows.Next() {
		var entry sql.NullString
		if err := rows.Scan(&page.Kind, &page.Count, &entry); err != nil {
			return service.FeedPage{}, translate(err)
		}
		found = true
		if entry.Valid {
			if page.Entries == nil {
				page.Entries = make([]json.RawMessage, 0, q.Limit)
			}
			page.Entries = append(page.Entries, json.RawMessage(entry.String))
		}
	}
	if err := rows.Err(); err != nil {
		return service.FeedPage{}, translate(err)
	}
	if found {
		return page, nil
	}
	s, err := t.FindSession(ctx, appID, id)
	if err != nil {
		return service.FeedPage{}, err
	}
	return service.FeedPage{Kind: s.Kind, Count: int(s.ActivityCount)}, nil
}

// limitOffset binds a page's LIMIT and OFFSET. SQLite reads a LIMIT or
// OFFSET that is a bare parameter's value when it plans the statement, and
// so marks the statement to be re-planned whenever that parameter is bound
// again: a prepared page query was parsed and planned afresh on every
// execution, a third of its cost. Wrapped in an expression, the parameters
// are read at run time only, and the prepared plan is kept.
const limitOffset = `LIMIT (? + 0) OFFSET (? + 0)`

// feedPageQuery is FeedPage's statement for an ORDER BY clause over a.*.
// The session is a one-row loop (its id is unique), so with the default
// ordering the page is read from activities_feed alone (a covering index),
// in index order, and the walk stops after the page.
func feedPageQuery(order string) string {
	return `SELECT s.kind, s.activity_count, a.entry
	FROM sessions s LEFT JOIN activities a ON a.session_pk = s.pk
	WHERE s.id = ? AND s.application_id = ? AND s.deleted_at IS NULL
	ORDER BY ` + order + ` ` + limitOffset
}

// feedQuery is the feed page query for an ORDER BY clause. With the default
// ordering it walks activities_feed backwards and stops after
// the page: its cost does not depend on the table's size.
func feedQuery(order string) string {
	return `SELECT ` + activityColumns + ` FROM activities WHERE session_pk = ? ORDER BY ` + order + ` ` + limitOffset
}

// statusRowsQuery lists a session's status rows through UNIQUE (session_pk, seq).
const statusRowsQuery = `SELECT ` + activityColumns + ` FROM activities
	WHERE session_pk = ? AND new_status IS NOT NULL ORDER BY seq`

func (t *tx) ListStatusActivities(ctx context.Context, sessionPK int64) ([]kycreview.Activity, error) {
	return t.queryActivities(ctx, statusRowsQuery, sessionPK)
}

func (t *tx) queryActivities(ctx context.Context, query string, args ...any) ([]kycreview.Activity, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []kycreview.Activity{}
	for rows.Next() {
		a, err := scanActivity(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, translate(rows.Err())
}

func scanActivity(rows *sql.Rows) (kycreview.Activity, error) {
	var a kycreview.Activity
	var actorID, actorEmail, prev, next, comment, prevValue, newValue, metadata sql.NullString
	var mentions, changed string
	var created int64
	var entry string
	err := rows.Scan(&a.PK, &a.ID, &a.SessionPK, &a.Seq, &a.Type, &a.Actor.Type, &actorID, &a.Actor.Display, &actorEmail,
		&prev, &next, &comment, &mentions, &prevValue, &newValue, &changed, &metadata, &created, &entry, &a.Hash)
	if err != nil {
		return a, translate(err)
	}
	a.Actor.ID = actorID.String
	a.Actor.Email = nullString(actorEmail)
	a.PreviousStatus, a.NewStatus = statusPtr(prev), statusPtr(next)
	a.Comment = nullString(comment)
	if err := json.Unmarshal([]byte(mentions), &a.MentionedEmails); err != nil {
		return a, fmt.Errorf("sqlite: activity %s mentioned_emails: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(changed), &a.ChangedFields); err != nil {
		return a, fmt.Errorf("sqlite: activity %s changed_fields: %w", a.ID, err)
	}
	a.PreviousValue, a.NewValue, a.Metadata = rawPtr(prevValue), rawPtr(newValue), rawPtr(metadata)
	a.CreatedAt = fromMicro(created)
	a.Entry = json.RawMessage(entry)
	return a, nil
}

const insertOutboxQuery = `INSERT INTO webhook_outbox (id, application_id, session_pk, seq, event_type, created_at)
	VALUES (?, ?, ?, ?, ?, ?) RETURNING pk`

func (t *tx) InsertOutboxEvent(ctx context.Context, e *kycreview.OutboxEvent) error {
	err := t.queryRow(ctx, insertOutboxQuery, e.ID, e.ApplicationID, e.SessionPK, e.Seq, e.Type,
		e.CreatedAt.UnixMicro()).Scan(&e.PK)
	if err != nil {
		return translate(err)
	}
	_, err = t.exec(ctx, fanOutQuery, e.PK, e.SessionPK, e.CreatedAt.UnixMicro(), e.ApplicationID, e.Type)
	return translate(err)
}

// fanOutQuery queues the event's deliveries: one per live, enabled, not
// disabled destination of the application subscribed to its type, each
// with a fresh random (version 4) UUID.
const fanOutQuery = `INSERT INTO webhook_deliveries (id, destination_pk, event_pk, session_pk, state, next_attempt_at, created_at)
	SELECT ` + randomUUIDSQL + `, d.pk, ?1, ?2, 'pending', ?3, ?3
	FROM webhook_destinations d
	WHERE d.application_id = ?4 AND d.enabled = 1 AND d.disabled_at IS NULL AND d.deleted_at IS NULL
		AND EXISTS (SELECT 1 FROM json_each(d.subscribed_events) WHERE value = ?5)`

// randomUUIDSQL is a random version 4 UUID in SQLite's SQL.
const randomUUIDSQL = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
		substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`

func (t *tx) FindOutboxEvent(ctx context.Context, id string) (kycreview.OutboxEvent, error) {
	var e kycreview.OutboxEvent
	var created int64
	err := t.queryRow(ctx, findOutboxQuery, id).
		Scan(&e.PK, &e.ID, &e.ApplicationID, &e.SessionPK, &e.Seq, &e.Type, &created)
	if err != nil {
		return kycreview.OutboxEvent{}, notFound(err, "event")
	}
	e.CreatedAt = fromMicro(created)
	return e, nil
}

const findOutboxQuery = `SELECT pk, id, application_id, session_pk, seq, event_type, created_at FROM webhook_outbox WHERE id = ?`

const insertNotificationQuery = `INSERT INTO notifications (id, application_id, activity_pk, user_id, created_at)
	VALUES (?, ?, ?, ?, ?) RETURNING pk`

func (t *tx) InsertNotification(ctx context.Context, n *kycreview.Notification) error {
	err := t.queryRow(ctx, insertNotificationQuery, n.ID, n.ApplicationID, n.ActivityPK, n.UserID, n.CreatedAt.UnixMicro()).Scan(&n.PK)
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

func statusPtr(v sql.NullString) *kycreview.Status {
	if !v.Valid {
		return nil
	}
	s := kycreview.Status(v.String)
	return &s
}

func rawArg(r json.RawMessage) any {
	if r == nil {
		return nil
	}
	return string(r)
}

func rawPtr(v sql.NullString) json.RawMessage {
	if !v.Valid {
		return nil
	}
	return json.RawMessage(v.String)
}
