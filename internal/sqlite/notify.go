package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
)

// Console users and the delivery of mention notifications (issue 6).

const consoleUserColumns = `id, email, full_name, created_at, disabled_at`

func scanConsoleUser(row interface{ Scan(...any) error }) (kycreview.ConsoleUser, error) {
	var u kycreview.ConsoleUser
	var created int64
	var disabled sql.NullInt64
	if err := row.Scan(&u.ID, &u.Email, &u.FullName, &created, &disabled); err != nil {
		return kycreview.ConsoleUser{}, err
	}
	u.CreatedAt, u.DisabledAt = fromMicro(created), fromNullMicro(disabled)
	return u, nil
}

func (t *tx) FindConsoleUser(ctx context.Context, id string) (kycreview.ConsoleUser, error) {
	u, err := scanConsoleUser(t.queryRow(ctx, `SELECT `+consoleUserColumns+` FROM console_users WHERE id = ?`, strings.ToLower(id)))
	if err != nil {
		return kycreview.ConsoleUser{}, notFound(err, "console user")
	}
	return u, nil
}

func (t *tx) FindConsoleUserByEmail(ctx context.Context, email string) (kycreview.ConsoleUser, error) {
	u, err := scanConsoleUser(t.queryRow(ctx, `SELECT `+consoleUserColumns+` FROM console_users WHERE email_lower = ?`, email))
	if err != nil {
		return kycreview.ConsoleUser{}, notFound(err, "console user")
	}
	return u, nil
}

func (t *tx) ListConsoleUsers(ctx context.Context, appID string) ([]kycreview.ConsoleUserListing, error) {
	query := `SELECT u.id, u.email, u.full_name, u.created_at, u.disabled_at,
		(SELECT coalesce(json_group_array(application_id), '[]') FROM
			(SELECT application_id FROM memberships WHERE user_id = u.id ORDER BY application_id))
		FROM console_users u`
	var args []any
	if appID != "" {
		query += ` WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.application_id = ?)`
		args = append(args, appID)
	}
	rows, err := t.query(ctx, query+` ORDER BY u.created_at, u.id`, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []kycreview.ConsoleUserListing{}
	for rows.Next() {
		var l kycreview.ConsoleUserListing
		var created int64
		var disabled sql.NullInt64
		var apps string
		if err := rows.Scan(&l.User.ID, &l.User.Email, &l.User.FullName, &created, &disabled, &apps); err != nil {
			return nil, translate(err)
		}
		l.User.CreatedAt, l.User.DisabledAt = fromMicro(created), fromNullMicro(disabled)
		if err := unmarshalStrings(apps, &l.Applications); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, translate(rows.Err())
}

func (t *tx) SetPasswordHash(ctx context.Context, userID, hash string) error {
	res, err := t.exec(ctx, `UPDATE console_users SET password_hash = ? WHERE id = ?`, hash, strings.ToLower(userID))
	return affectedOne(res, err, "console user")
}

func (t *tx) PasswordHash(ctx context.Context, userID string) (string, error) {
	var hash sql.NullString
	if err := t.queryRow(ctx, `SELECT password_hash FROM console_users WHERE id = ?`, strings.ToLower(userID)).Scan(&hash); err != nil {
		return "", notFound(err, "console user")
	}
	return hash.String, nil
}

func (t *tx) DisableConsoleUser(ctx context.Context, userID string, at time.Time) (int, error) {
	userID = strings.ToLower(userID)
	res, err := t.exec(ctx, `UPDATE console_users SET disabled_at = coalesce(disabled_at, ?) WHERE id = ?`, at.UnixMicro(), userID)
	if err := affectedOne(res, err, "console user"); err != nil {
		return 0, err
	}
	res, err = t.exec(ctx, `UPDATE notifications SET state = 'skipped', last_error = 'user disabled', claim = NULL, claimed_until = NULL
		WHERE user_id = ? AND state = 'pending'`, userID)
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return int(n), translate(err)
}

func (t *tx) RemoveMember(ctx context.Context, appID, userID string) error {
	userID = strings.ToLower(userID)
	res, err := t.exec(ctx, `DELETE FROM memberships WHERE application_id = ? AND user_id = ?`, appID, userID)
	if err := affectedOne(res, err, "membership"); err != nil {
		return err
	}
	_, err = t.exec(ctx, `UPDATE notifications SET state = 'skipped', last_error = 'user removed from the application',
		claim = NULL, claimed_until = NULL WHERE user_id = ? AND application_id = ? AND state = 'pending'`, userID, appID)
	return translate(err)
}

// notificationDueQuery picks due notifications, oldest first: pending,
// never tried or due for a retry, and not under a live claim.
const notificationDueQuery = `SELECT pk FROM notifications
	WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
		AND (claimed_until IS NULL OR claimed_until <= ?1)
	ORDER BY pk LIMIT ?2`

// claimedNotificationColumns is what an email needs, with the reason (if
// any) it must not be sent any more.
const claimedNotificationColumns = `n.pk, n.id, n.application_id, ap.name, n.user_id, u.email, u.full_name,
	s.id, s.session_number, a.actor_display, a.comment, a.new_status, a.created_at, n.attempts,
	CASE
		WHEN u.disabled_at IS NOT NULL THEN 'user disabled'
		WHEN NOT EXISTS (SELECT 1 FROM memberships m WHERE m.application_id = n.application_id AND m.user_id = n.user_id)
			THEN 'user removed from the application'
		WHEN s.deleted_at IS NOT NULL THEN 'session deleted'
		ELSE ''
	END`

const claimedNotificationFrom = ` FROM notifications n
	JOIN console_users u ON u.id = n.user_id
	JOIN activities a ON a.pk = n.activity_pk
	JOIN sessions s ON s.pk = a.session_pk
	JOIN applications ap ON ap.id = n.application_id`

func (t *tx) ClaimNotifications(ctx context.Context, now, until time.Time, claim string, limit int) ([]kycreview.ClaimedNotification, error) {
	rows, err := t.query(ctx, notificationDueQuery, now.UnixMicro(), limit)
	if err != nil {
		return nil, translate(err)
	}
	var pks []any
	for rows.Next() {
		var pk int64
		if err := rows.Scan(&pk); err != nil {
			rows.Close()
			return nil, translate(err)
		}
		pks = append(pks, pk)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(pks) == 0 {
		return nil, translate(err)
	}
	// SQLite has one writer: nothing can claim these rows between the
	// SELECT above and this UPDATE, which runs in the same transaction.
	args := append([]any{claim, until.UnixMicro()}, pks...)
	if _, err := t.exec(ctx, `UPDATE notifications SET claim = ?, claimed_until = ? WHERE pk IN (`+placeholders(len(pks))+`)`, args...); err != nil {
		return nil, translate(err)
	}
	rows, err = t.query(ctx, `SELECT `+claimedNotificationColumns+claimedNotificationFrom+`
		WHERE n.pk IN (`+placeholders(len(pks))+`) ORDER BY n.pk`, pks...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []kycreview.ClaimedNotification
	for rows.Next() {
		c := kycreview.ClaimedNotification{Claim: claim, ClaimedUntil: until}
		var comment, status sql.NullString
		var at int64
		if err := rows.Scan(&c.PK, &c.ID, &c.ApplicationID, &c.Application, &c.UserID, &c.Email, &c.FullName,
			&c.SessionID, &c.SessionNumber, &c.Actor, &comment, &status, &at, &c.Attempts, &c.SkipReason); err != nil {
			return nil, translate(err)
		}
		if comment.Valid {
			c.Comment = &comment.String
		}
		c.NewStatus, c.At = statusPtr(status), fromMicro(at)
		out = append(out, c)
	}
	return out, translate(rows.Err())
}

func (t *tx) RecordNotification(ctx context.Context, o kycreview.NotificationOutcome) (bool, error) {
	var lastError any
	if o.LastError != "" {
		lastError = storableText(o.LastError)
	}
	res, err := t.exec(ctx, `UPDATE notifications SET state = ?, attempts = ?, next_attempt_at = ?,
		last_attempt_at = coalesce(?, last_attempt_at), last_error = ?, sent_at = ?, claim = NULL, claimed_until = NULL
		WHERE pk = ? AND claim = ? AND state = 'pending'`,
		string(o.State), o.Attempts, nullMicro(o.NextAttemptAt), nullMicro(o.AttemptedAt), lastError, nullMicro(o.SentAt),
		o.PK, o.Claim)
	if err != nil {
		return false, translate(err)
	}
	n, err := res.RowsAffected()
	return n == 1, translate(err)
}

// inboxFrom is a user's notifications the console may show: on sessions
// that still exist, in applications the user still belongs to.
const inboxFrom = ` FROM notifications n
	JOIN activities a ON a.pk = n.activity_pk
	JOIN sessions s ON s.pk = a.session_pk
	WHERE n.user_id = ?1 AND s.deleted_at IS NULL
		AND EXISTS (SELECT 1 FROM memberships m WHERE m.application_id = n.application_id AND m.user_id = n.user_id)`

func (t *tx) ListNotifications(ctx context.Context, userID string, limit, offset int) ([]kycreview.InboxNotification, int, int, error) {
	userID = strings.ToLower(userID)
	var count, unread int
	if err := t.queryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE n.read_at IS NULL)`+inboxFrom, userID).
		Scan(&count, &unread); err != nil {
		return nil, 0, 0, translate(err)
	}
	rows, err := t.query(ctx, `SELECT n.id, n.application_id, s.id, s.session_number, a.actor_display, a.comment,
		n.created_at, n.read_at, n.state, n.attempts, coalesce(n.last_error, '')`+inboxFrom+` ORDER BY n.pk DESC LIMIT (?2 + 0) OFFSET (?3 + 0)`, userID, limit, offset)
	if err != nil {
		return nil, 0, 0, translate(err)
	}
	defer rows.Close()
	out := []kycreview.InboxNotification{}
	for rows.Next() {
		var n kycreview.InboxNotification
		var comment sql.NullString
		var created int64
		var read sql.NullInt64
		var state string
		if err := rows.Scan(&n.ID, &n.ApplicationID, &n.SessionID, &n.SessionNumber, &n.Actor, &comment, &created, &read, &state,
			&n.Attempts, &n.LastError); err != nil {
			return nil, 0, 0, translate(err)
		}
		if comment.Valid {
			n.Comment = &comment.String
		}
		n.CreatedAt, n.ReadAt, n.State = fromMicro(created), fromNullMicro(read), kycreview.NotificationState(state)
		out = append(out, n)
	}
	return out, count, unread, translate(rows.Err())
}

func (t *tx) MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error) {
	query := `UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL`
	args := []any{at.UnixMicro(), strings.ToLower(userID)}
	if len(ids) > 0 {
		query += ` AND id IN (` + placeholders(len(ids)) + `)`
		for _, id := range ids {
			args = append(args, strings.ToLower(id))
		}
	}
	res, err := t.exec(ctx, query, args...)
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return int(n), translate(err)
}

func (t *tx) NotificationBacklog(ctx context.Context) (kycreview.NotificationBacklog, error) {
	var b kycreview.NotificationBacklog
	var oldest sql.NullInt64
	err := t.queryRow(ctx, `SELECT
		(SELECT count(*) FROM notifications WHERE state = 'pending'),
		(SELECT min(created_at) FROM notifications WHERE state = 'pending'),
		(SELECT count(*) FROM notifications WHERE state = 'failed')`).Scan(&b.Pending, &oldest, &b.Failed)
	if err != nil {
		return kycreview.NotificationBacklog{}, translate(err)
	}
	b.OldestPendingAt = fromNullMicro(oldest)
	return b, nil
}

// affectedOne turns an UPDATE or DELETE that matched no row into
// ENOTFOUND for what.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return kycreview.Errorf(kycreview.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// unmarshalStrings reads a JSON array of strings, sorted.
func unmarshalStrings(s string, out *[]string) error {
	*out = []string{}
	if err := json.Unmarshal([]byte(s), out); err != nil {
		return err
	}
	slices.Sort(*out)
	return nil
}
