package postgres

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kycreview/kycreview"
)

// Console users and the delivery of mention notifications (issue 6).

const consoleUserColumns = `id::text, email, full_name, created_at, disabled_at`

func scanConsoleUser(row pgx.Row) (kycreview.ConsoleUser, error) {
	var u kycreview.ConsoleUser
	if err := row.Scan(&u.ID, &u.Email, &u.FullName, &u.CreatedAt, &u.DisabledAt); err != nil {
		return kycreview.ConsoleUser{}, err
	}
	u.CreatedAt, u.DisabledAt = u.CreatedAt.UTC(), utcPtr(u.DisabledAt)
	return u, nil
}

func userNotFound() error { return kycreview.Errorf(kycreview.ENOTFOUND, "console user not found") }

func (t *tx) FindConsoleUser(ctx context.Context, id string) (kycreview.ConsoleUser, error) {
	id = strings.ToLower(id)
	if !canonicalUUID(id) {
		return kycreview.ConsoleUser{}, userNotFound()
	}
	u, err := scanConsoleUser(t.q.QueryRow(ctx, `SELECT `+consoleUserColumns+` FROM console_users WHERE id = $1`, id))
	if err != nil {
		return kycreview.ConsoleUser{}, notFound(err, "console user")
	}
	return u, nil
}

func (t *tx) FindConsoleUserByEmail(ctx context.Context, email string) (kycreview.ConsoleUser, error) {
	u, err := scanConsoleUser(t.q.QueryRow(ctx, `SELECT `+consoleUserColumns+` FROM console_users WHERE email_lower = $1`, email))
	if err != nil {
		return kycreview.ConsoleUser{}, notFound(err, "console user")
	}
	return u, nil
}

func (t *tx) ListConsoleUsers(ctx context.Context, appID string) ([]kycreview.ConsoleUserListing, error) {
	query := `SELECT u.id::text, u.email, u.full_name, u.created_at, u.disabled_at,
		ARRAY(SELECT m.application_id::text FROM memberships m WHERE m.user_id = u.id ORDER BY 1)
		FROM console_users u`
	var args []any
	if appID != "" {
		if !canonicalUUID(appID) {
			return []kycreview.ConsoleUserListing{}, nil
		}
		query += ` WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.application_id = $1)`
		args = append(args, appID)
	}
	rows, err := t.q.Query(ctx, query+` ORDER BY u.created_at, u.id`, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []kycreview.ConsoleUserListing{}
	for rows.Next() {
		var l kycreview.ConsoleUserListing
		if err := rows.Scan(&l.User.ID, &l.User.Email, &l.User.FullName, &l.User.CreatedAt, &l.User.DisabledAt, &l.Applications); err != nil {
			return nil, translate(err)
		}
		l.User.CreatedAt, l.User.DisabledAt = l.User.CreatedAt.UTC(), utcPtr(l.User.DisabledAt)
		if l.Applications == nil {
			l.Applications = []string{}
		}
		// Sorted as strings, as SQLite sorts them (uuid order differs).
		slices.Sort(l.Applications)
		out = append(out, l)
	}
	return out, translate(rows.Err())
}

func (t *tx) SetPasswordHash(ctx context.Context, userID, hash string) error {
	userID = strings.ToLower(userID)
	if !canonicalUUID(userID) {
		return userNotFound()
	}
	tag, err := t.q.Exec(ctx, `UPDATE console_users SET password_hash = $1 WHERE id = $2`, hash, userID)
	return affectedOne(tag, err, "console user")
}

func (t *tx) PasswordHash(ctx context.Context, userID string) (string, error) {
	userID = strings.ToLower(userID)
	if !canonicalUUID(userID) {
		return "", userNotFound()
	}
	var hash *string
	if err := t.q.QueryRow(ctx, `SELECT password_hash FROM console_users WHERE id = $1`, userID).Scan(&hash); err != nil {
		return "", notFound(err, "console user")
	}
	if hash == nil {
		return "", nil
	}
	return *hash, nil
}

func (t *tx) DisableConsoleUser(ctx context.Context, userID string, at time.Time) (int, error) {
	userID = strings.ToLower(userID)
	if !canonicalUUID(userID) {
		return 0, userNotFound()
	}
	tag, err := t.q.Exec(ctx, `UPDATE console_users SET disabled_at = coalesce(disabled_at, $1) WHERE id = $2`, utc(at), userID)
	if err := affectedOne(tag, err, "console user"); err != nil {
		return 0, err
	}
	// A notifier holding one of these rows (claimed, mid-send) finds it no
	// longer pending when it records its outcome; the skip stands.
	tag, err = t.q.Exec(ctx, `UPDATE notifications SET state = 'skipped', last_error = 'user disabled', claim = NULL, claimed_until = NULL
		WHERE user_id = $1 AND state = 'pending'`, userID)
	if err != nil {
		return 0, translate(err)
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) RemoveMember(ctx context.Context, appID, userID string) error {
	userID = strings.ToLower(userID)
	if !canonicalUUID(appID) || !canonicalUUID(userID) {
		return kycreview.Errorf(kycreview.ENOTFOUND, "membership not found")
	}
	tag, err := t.q.Exec(ctx, `DELETE FROM memberships WHERE application_id = $1 AND user_id = $2`, appID, userID)
	if err := affectedOne(tag, err, "membership"); err != nil {
		return err
	}
	_, err = t.q.Exec(ctx, `UPDATE notifications SET state = 'skipped', last_error = 'user removed from the application',
		claim = NULL, claimed_until = NULL WHERE user_id = $1 AND application_id = $2 AND state = 'pending'`, userID, appID)
	return translate(err)
}

// claimNotificationsQuery claims due notifications in one statement, oldest
// first: pending, never tried or due for a retry, not under a live claim.
// FOR UPDATE SKIP LOCKED passes over rows another replica is claiming at
// this moment, so replicas share the work and never take the same row; a
// row whose claim committed since this statement's snapshot is re-checked
// once locked (READ COMMITTED) and dropped, its claimed_until being in the
// future. The outer SELECT joins what the email needs to the claimed rows
// (from UPDATE's RETURNING, which this statement's snapshot would not see
// otherwise), and says why a row must not be sent any more, if it must not.
const claimNotificationsQuery = `WITH due AS (
	SELECT pk FROM notifications
	WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
		AND (claimed_until IS NULL OR claimed_until <= $1)
	ORDER BY pk
	LIMIT $2
	FOR UPDATE SKIP LOCKED
), claimed AS (
	UPDATE notifications n SET claim = $3, claimed_until = $4
	FROM due WHERE n.pk = due.pk
	RETURNING n.pk, n.id, n.application_id, n.user_id, n.activity_pk, n.attempts
)
SELECT c.pk, c.id::text, c.application_id::text, ap.name, c.user_id::text, u.email, u.full_name,
	s.id::text, s.session_number, a.actor_display, a.comment, a.new_status, a.created_at, c.attempts,
	CASE
		WHEN u.disabled_at IS NOT NULL THEN 'user disabled'
		WHEN NOT EXISTS (SELECT 1 FROM memberships m WHERE m.application_id = c.application_id AND m.user_id = c.user_id)
			THEN 'user removed from the application'
		WHEN s.deleted_at IS NOT NULL THEN 'session deleted'
		ELSE ''
	END
FROM claimed c
JOIN console_users u ON u.id = c.user_id
JOIN activities a ON a.pk = c.activity_pk
JOIN sessions s ON s.pk = a.session_pk
JOIN applications ap ON ap.id = c.application_id
ORDER BY c.pk`

func (t *tx) ClaimNotifications(ctx context.Context, now, until time.Time, claim string, limit int) ([]kycreview.ClaimedNotification, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	rows, err := t.q.Query(ctx, claimNotificationsQuery, utc(now), limit, claim, utc(until))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []kycreview.ClaimedNotification
	for rows.Next() {
		c := kycreview.ClaimedNotification{Claim: claim, ClaimedUntil: until}
		var status *string
		if err := rows.Scan(&c.PK, &c.ID, &c.ApplicationID, &c.Application, &c.UserID, &c.Email, &c.FullName,
			&c.SessionID, &c.SessionNumber, &c.Actor, &c.Comment, &status, &c.At, &c.Attempts, &c.SkipReason); err != nil {
			return nil, translate(err)
		}
		if status != nil {
			s := kycreview.Status(*status)
			c.NewStatus = &s
		}
		c.At = c.At.UTC()
		out = append(out, c)
	}
	return out, translate(rows.Err())
}

func (t *tx) RecordNotification(ctx context.Context, o kycreview.NotificationOutcome) (bool, error) {
	var lastError *string
	if o.LastError != "" {
		e := storableText(o.LastError)
		lastError = &e
	}
	tag, err := t.q.Exec(ctx, `UPDATE notifications SET state = $1, attempts = $2, next_attempt_at = $3,
		last_attempt_at = coalesce($4, last_attempt_at), last_error = $5, sent_at = $6, claim = NULL, claimed_until = NULL
		WHERE pk = $7 AND claim = $8 AND state = 'pending'`,
		string(o.State), o.Attempts, utcArg(o.NextAttemptAt), utcArg(o.AttemptedAt), lastError, utcArg(o.SentAt), o.PK, o.Claim)
	if err != nil {
		return false, translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// inboxFrom is a user's notifications the console may show: on sessions
// that still exist, in applications the user still belongs to.
const inboxFrom = ` FROM notifications n
	JOIN activities a ON a.pk = n.activity_pk
	JOIN sessions s ON s.pk = a.session_pk
	WHERE n.user_id = $1 AND s.deleted_at IS NULL
		AND EXISTS (SELECT 1 FROM memberships m WHERE m.application_id = n.application_id AND m.user_id = n.user_id)`

func (t *tx) ListNotifications(ctx context.Context, userID string, limit, offset int) ([]kycreview.InboxNotification, int, int, error) {
	userID = strings.ToLower(userID)
	if !canonicalUUID(userID) {
		return []kycreview.InboxNotification{}, 0, 0, nil
	}
	var count, unread int
	if err := t.q.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE n.read_at IS NULL)`+inboxFrom, userID).
		Scan(&count, &unread); err != nil {
		return nil, 0, 0, translate(err)
	}
	out := []kycreview.InboxNotification{}
	if offset >= count || limit <= 0 {
		return out, count, unread, nil
	}
	rows, err := t.q.Query(ctx, `SELECT n.id::text, n.application_id::text, s.id::text, s.session_number, a.actor_display,
		a.comment, n.created_at, n.read_at, n.state, n.attempts, coalesce(n.last_error, '')`+inboxFrom+` ORDER BY n.pk DESC LIMIT $2 OFFSET $3`, userID, limit, offset)
	if err != nil {
		return nil, 0, 0, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n kycreview.InboxNotification
		var state string
		if err := rows.Scan(&n.ID, &n.ApplicationID, &n.SessionID, &n.SessionNumber, &n.Actor, &n.Comment, &n.CreatedAt, &n.ReadAt, &state,
			&n.Attempts, &n.LastError); err != nil {
			return nil, 0, 0, translate(err)
		}
		n.CreatedAt, n.ReadAt, n.State = n.CreatedAt.UTC(), utcPtr(n.ReadAt), kycreview.NotificationState(state)
		out = append(out, n)
	}
	return out, count, unread, translate(rows.Err())
}

func (t *tx) MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error) {
	userID = strings.ToLower(userID)
	if !canonicalUUID(userID) {
		return 0, nil
	}
	query := `UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL`
	args := []any{utc(at), userID}
	if len(ids) > 0 {
		// Only ids that can be uuids: any other text would fail the cast.
		valid := make([]string, 0, len(ids))
		for _, id := range ids {
			if id = strings.ToLower(id); canonicalUUID(id) {
				valid = append(valid, id)
			}
		}
		if len(valid) == 0 {
			return 0, nil
		}
		query += ` AND id = ANY ($3::uuid[])`
		args = append(args, valid)
	}
	tag, err := t.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, translate(err)
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) NotificationBacklog(ctx context.Context) (kycreview.NotificationBacklog, error) {
	var b kycreview.NotificationBacklog
	err := t.q.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM notifications WHERE state = 'pending'),
		(SELECT min(created_at) FROM notifications WHERE state = 'pending'),
		(SELECT count(*) FROM notifications WHERE state = 'failed')`).Scan(&b.Pending, &b.OldestPendingAt, &b.Failed)
	if err != nil {
		return kycreview.NotificationBacklog{}, translate(err)
	}
	b.OldestPendingAt = utcPtr(b.OldestPendingAt)
	return b, nil
}

// affectedOne turns an UPDATE or DELETE that matched no row into
// ENOTFOUND for what.
func affectedOne(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return kycreview.Errorf(kycreview.ENOTFOUND, "%s not found", what)
	}
	return nil
}
