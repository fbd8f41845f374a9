package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kycreview/kycreview"
)

const destinationColumns = `pk, id, application_id, label, url, webhook_version, enabled, subscribed_events, secret,
	created_at, updated_at, deleted_at, failing_since, disabled_at`

func scanDestination(row interface{ Scan(...any) error }) (kycreview.Destination, error) {
	var d kycreview.Destination
	var events string
	var created, updated int64
	var deleted, failing, disabled sql.NullInt64
	if err := row.Scan(&d.PK, &d.ID, &d.ApplicationID, &d.Label, &d.URL, &d.WebhookVersion, &d.Enabled, &events, &d.Secret,
		&created, &updated, &deleted, &failing, &disabled); err != nil {
		return kycreview.Destination{}, err
	}
	if err := json.Unmarshal([]byte(events), &d.SubscribedEvents); err != nil {
		return kycreview.Destination{}, err
	}
	d.CreatedAt, d.UpdatedAt = fromMicro(created), fromMicro(updated)
	d.DeletedAt, d.FailingSince, d.DisabledAt = fromNullMicro(deleted), fromNullMicro(failing), fromNullMicro(disabled)
	return d, nil
}

func nullMicro(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func (t *tx) CreateDestination(ctx context.Context, d *kycreview.Destination) error {
	events, err := json.Marshal(nonNil(d.SubscribedEvents))
	if err != nil {
		return err
	}
	err = t.queryRow(ctx, `INSERT INTO webhook_destinations (id, application_id, label, url, webhook_version, enabled,
		subscribed_events, secret, created_at, updated_at, deleted_at, failing_since, disabled_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk`,
		d.ID, d.ApplicationID, d.Label, d.URL, d.WebhookVersion, d.Enabled, string(events), d.Secret,
		d.CreatedAt.UnixMicro(), d.UpdatedAt.UnixMicro(), nullMicro(d.DeletedAt), nullMicro(d.FailingSince), nullMicro(d.DisabledAt)).
		Scan(&d.PK)
	return translate(err)
}

func (t *tx) FindDestination(ctx context.Context, appID, id string) (kycreview.Destination, error) {
	d, err := scanDestination(t.queryRow(ctx, `SELECT `+destinationColumns+` FROM webhook_destinations
		WHERE id = ? AND application_id = ? AND deleted_at IS NULL`, id, appID))
	if err != nil {
		return kycreview.Destination{}, notFound(err, "webhook destination")
	}
	return d, nil
}

func (t *tx) ListDestinations(ctx context.Context, appID string, limit, offset int) ([]kycreview.Destination, int, error) {
	var count int
	if err := t.queryRow(ctx, `SELECT count(*) FROM webhook_destinations WHERE application_id = ? AND deleted_at IS NULL`, appID).
		Scan(&count); err != nil {
		return nil, 0, translate(err)
	}
	rows, err := t.query(ctx, `SELECT `+destinationColumns+` FROM webhook_destinations
		WHERE application_id = ? AND deleted_at IS NULL ORDER BY created_at, pk `+limitOffset, appID, limit, offset)
	if err != nil {
		return nil, 0, translate(err)
	}
	defer rows.Close()
	out := []kycreview.Destination{}
	for rows.Next() {
		d, err := scanDestination(rows)
		if err != nil {
			return nil, 0, translate(err)
		}
		out = append(out, d)
	}
	return out, count, translate(rows.Err())
}

func (t *tx) UpdateDestination(ctx context.Context, d kycreview.Destination) error {
	events, err := json.Marshal(nonNil(d.SubscribedEvents))
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE webhook_destinations SET label = ?, url = ?, webhook_version = ?, enabled = ?,
		subscribed_events = ?, secret = ?, updated_at = ?, deleted_at = ?, failing_since = ?, disabled_at = ?
		WHERE pk = ?`,
		d.Label, d.URL, d.WebhookVersion, d.Enabled, string(events), d.Secret, d.UpdatedAt.UnixMicro(),
		nullMicro(d.DeletedAt), nullMicro(d.FailingSince), nullMicro(d.DisabledAt), d.PK)
	if err != nil {
		return translate(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err)
	} else if n == 0 {
		return kycreview.Errorf(kycreview.ENOTFOUND, "webhook destination not found")
	}
	return nil
}

// claimQuery picks due deliveries: pending, due, not under a live claim,
// of a destination that is active, and first of their session's pending
// chain for that destination, so one session's events go out in order.
const claimQuery = `SELECT d.pk FROM webhook_deliveries d
	JOIN webhook_destinations w ON w.pk = d.destination_pk
	WHERE d.state = 'pending' AND d.next_attempt_at <= ?1
		AND (d.claimed_until IS NULL OR d.claimed_until <= ?1)
		AND w.enabled = 1 AND w.disabled_at IS NULL AND w.deleted_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
			WHERE e.destination_pk = d.destination_pk AND e.session_pk = d.session_pk
				AND e.state = 'pending' AND e.pk < d.pk)
	ORDER BY d.next_attempt_at, d.pk LIMIT ?2`

const claimedColumns = `d.pk, d.id, d.destination_pk, d.event_pk, o.id, o.event_type, d.session_pk, s.id, d.state, d.attempts,
	d.next_attempt_at, d.created_at, d.completed_at, w.url, w.secret`

func (t *tx) ClaimDeliveries(ctx context.Context, now, until time.Time, claim string, limit int) ([]kycreview.ClaimedDelivery, error) {
	rows, err := t.query(ctx, claimQuery, now.UnixMicro(), limit)
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
	if _, err := t.exec(ctx, `UPDATE webhook_deliveries SET claim = ?, claimed_until = ? WHERE pk IN (`+placeholders(len(pks))+`)`, args...); err != nil {
		return nil, translate(err)
	}
	rows, err = t.query(ctx, `SELECT `+claimedColumns+` FROM webhook_deliveries d
		JOIN webhook_destinations w ON w.pk = d.destination_pk
		JOIN webhook_outbox o ON o.pk = d.event_pk
		JOIN sessions s ON s.pk = d.session_pk
		WHERE d.pk IN (`+placeholders(len(pks))+`) ORDER BY d.next_attempt_at, d.pk`, pks...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []kycreview.ClaimedDelivery
	for rows.Next() {
		c := kycreview.ClaimedDelivery{Claim: claim, ClaimedUntil: until}
		if err := scanDelivery(rows, &c.Delivery, &c.URL, &c.Secret); err != nil {
			return nil, translate(err)
		}
		out = append(out, c)
	}
	return out, translate(rows.Err())
}

// scanDelivery scans a row of deliveryColumns (or claimedColumns, with
// extra destinations for the URL and secret).
func scanDelivery(row interface{ Scan(...any) error }, d *kycreview.Delivery, extra ...any) error {
	var state string
	var next, created int64
	var completed sql.NullInt64
	dest := append([]any{&d.PK, &d.ID, &d.DestinationPK, &d.EventPK, &d.EventID, &d.EventType, &d.SessionPK, &d.SessionID,
		&state, &d.Attempts, &next, &created, &completed}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	d.State = kycreview.DeliveryState(state)
	d.NextAttemptAt, d.CreatedAt, d.CompletedAt = fromMicro(next), fromMicro(created), fromNullMicro(completed)
	return nil
}

func (t *tx) RecordAttempt(ctx context.Context, d kycreview.ClaimedDelivery, a *kycreview.Attempt, disableBefore time.Time) (bool, error) {
	var status any
	if a.StatusCode != nil {
		status = *a.StatusCode
	}
	a.DeliveryPK = d.PK
	a.Error, a.ResponseHead = storableText(a.Error), storableText(a.ResponseHead)
	err := t.queryRow(ctx, insertAttemptQuery,
		a.ID, d.PK, a.Number, a.StartedAt.UnixMicro(), a.Latency.Microseconds(), status, a.Error, a.ResponseHead).Scan(&a.PK)
	if err != nil {
		return false, translate(err)
	}
	res, err := t.exec(ctx, moveDeliveryQuery,
		string(d.State), d.Attempts, d.NextAttemptAt.UnixMicro(), nullMicro(d.CompletedAt), d.PK, d.Claim)
	if err != nil {
		return false, translate(err)
	}
	applied, err := res.RowsAffected()
	if err != nil {
		return false, translate(err)
	}
	if a.Succeeded() {
		_, err = t.exec(ctx, destinationHealthyQuery, d.DestinationPK)
	} else {
		var cutoff any
		if !disableBefore.IsZero() {
			cutoff = disableBefore.UnixMicro()
		}
		_, err = t.exec(ctx, destinationFailingQuery, a.StartedAt.UnixMicro(), cutoff, a.StartedAt.Add(a.Latency).UnixMicro(), d.DestinationPK)
	}
	return applied == 1, translate(err)
}

// storableText is s with U+FFFD for each NUL and each run of bytes that
// are not UTF-8, which a receiver's response (cut at MaxResponseHead bytes,
// possibly mid-character) may hold. SQLite would store them as they are,
// but PostgreSQL's text refuses them, and both backends must log the same
// attempt.
func storableText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// The statements RecordAttempt runs for every attempt (prepared: see stmts.go).
const (
	insertAttemptQuery = `INSERT INTO webhook_attempts (id, delivery_pk, number, started_at, latency_us, status_code, error, response_head)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk`
	moveDeliveryQuery = `UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, completed_at = ?,
		claim = NULL, claimed_until = NULL WHERE pk = ? AND claim = ?`
	destinationHealthyQuery = `UPDATE webhook_destinations SET failing_since = NULL WHERE pk = ? AND failing_since IS NOT NULL`
	destinationFailingQuery = `UPDATE webhook_destinations SET failing_since = coalesce(failing_since, ?1),
			disabled_at = CASE WHEN ?2 IS NOT NULL AND coalesce(failing_since, ?1) <= ?2 THEN coalesce(disabled_at, ?3) ELSE disabled_at END
			WHERE pk = ?4`
)

const deliveryColumns = `d.pk, d.id, d.destination_pk, d.event_pk, o.id, o.event_type, d.session_pk, s.id, d.state, d.attempts,
	d.next_attempt_at, d.created_at, d.completed_at`

const deliveryFrom = ` FROM webhook_deliveries d
	JOIN webhook_outbox o ON o.pk = d.event_pk
	JOIN sessions s ON s.pk = d.session_pk`

func (t *tx) ListDeliveries(ctx context.Context, destPK int64, limit, offset int) ([]kycreview.Delivery, int, error) {
	var count int
	if err := t.queryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE destination_pk = ?`, destPK).Scan(&count); err != nil {
		return nil, 0, translate(err)
	}
	rows, err := t.query(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.destination_pk = ? ORDER BY d.pk DESC `+limitOffset,
		destPK, limit, offset)
	if err != nil {
		return nil, 0, translate(err)
	}
	out := []kycreview.Delivery{}
	for rows.Next() {
		var d kycreview.Delivery
		if err := scanDelivery(rows, &d); err != nil {
			rows.Close()
			return nil, 0, translate(err)
		}
		d.AttemptHistory = []kycreview.Attempt{}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, count, translate(err)
	}
	if err := t.attachAttempts(ctx, out); err != nil {
		return nil, 0, err
	}
	return out, count, nil
}

// attachAttempts fills each delivery's AttemptHistory, oldest first.
func (t *tx) attachAttempts(ctx context.Context, ds []kycreview.Delivery) error {
	byPK := make(map[int64]int, len(ds))
	args := make([]any, len(ds))
	for i, d := range ds {
		byPK[d.PK] = i
		args[i] = d.PK
	}
	rows, err := t.query(ctx, `SELECT pk, id, delivery_pk, number, started_at, latency_us, status_code, error, response_head
		FROM webhook_attempts WHERE delivery_pk IN (`+placeholders(len(ds))+`) ORDER BY pk`, args...)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a kycreview.Attempt
		var started, latency int64
		var status sql.NullInt64
		if err := rows.Scan(&a.PK, &a.ID, &a.DeliveryPK, &a.Number, &started, &latency, &status, &a.Error, &a.ResponseHead); err != nil {
			return translate(err)
		}
		a.StartedAt, a.Latency = fromMicro(started), time.Duration(latency)*time.Microsecond
		if status.Valid {
			code := int(status.Int64)
			a.StatusCode = &code
		}
		i := byPK[a.DeliveryPK]
		ds[i].AttemptHistory = append(ds[i].AttemptHistory, a)
	}
	return translate(rows.Err())
}

func (t *tx) RequeueDelivery(ctx context.Context, destPK int64, id string, now time.Time) (kycreview.Delivery, error) {
	res, err := t.exec(ctx, `UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?,
		completed_at = NULL, claim = NULL, claimed_until = NULL WHERE destination_pk = ? AND id = ?`,
		now.UnixMicro(), destPK, strings.ToLower(id))
	if err != nil {
		return kycreview.Delivery{}, translate(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return kycreview.Delivery{}, translate(err)
	} else if n == 0 {
		return kycreview.Delivery{}, kycreview.Errorf(kycreview.ENOTFOUND, "webhook delivery not found")
	}
	var d kycreview.Delivery
	if err := scanDelivery(t.queryRow(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.destination_pk = ? AND d.id = ?`,
		destPK, strings.ToLower(id)), &d); err != nil {
		return kycreview.Delivery{}, notFound(err, "webhook delivery")
	}
	ds := []kycreview.Delivery{d}
	if err := t.attachAttempts(ctx, ds); err != nil {
		return kycreview.Delivery{}, err
	}
	return ds[0], nil
}
