package postgres

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/kycreview/kycreview"
)

const destinationColumns = `pk, id::text, application_id::text, label, url, webhook_version, enabled, subscribed_events, secret,
	created_at, updated_at, deleted_at, failing_since, disabled_at`

func scanDestination(row pgx.Row) (kycreview.Destination, error) {
	var d kycreview.Destination
	err := row.Scan(&d.PK, &d.ID, &d.ApplicationID, &d.Label, &d.URL, &d.WebhookVersion, &d.Enabled, &d.SubscribedEvents,
		&d.Secret, &d.CreatedAt, &d.UpdatedAt, &d.DeletedAt, &d.FailingSince, &d.DisabledAt)
	if err != nil {
		return kycreview.Destination{}, err
	}
	d.SubscribedEvents = nonNil(d.SubscribedEvents)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	d.DeletedAt, d.FailingSince, d.DisabledAt = utcPtr(d.DeletedAt), utcPtr(d.FailingSince), utcPtr(d.DisabledAt)
	return d, nil
}

// utcArg is the argument for a nullable timestamptz column: NULL for nil,
// else the time as utc stores it.
func utcArg(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}

func (t *tx) CreateDestination(ctx context.Context, d *kycreview.Destination) error {
	err := t.q.QueryRow(ctx, `INSERT INTO webhook_destinations (id, application_id, label, url, webhook_version, enabled,
		subscribed_events, secret, created_at, updated_at, deleted_at, failing_since, disabled_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING pk`,
		d.ID, d.ApplicationID, d.Label, d.URL, d.WebhookVersion, d.Enabled, nonNil(d.SubscribedEvents), d.Secret,
		utc(d.CreatedAt), utc(d.UpdatedAt), utcArg(d.DeletedAt), utcArg(d.FailingSince), utcArg(d.DisabledAt)).Scan(&d.PK)
	return translate(err)
}

func (t *tx) FindDestination(ctx context.Context, appID, id string) (kycreview.Destination, error) {
	if !canonicalUUID(appID) || !canonicalUUID(id) {
		return kycreview.Destination{}, kycreview.Errorf(kycreview.ENOTFOUND, "webhook destination not found")
	}
	d, err := scanDestination(t.q.QueryRow(ctx, `SELECT `+destinationColumns+` FROM webhook_destinations
		WHERE id = $1 AND application_id = $2 AND deleted_at IS NULL`, id, appID))
	if err != nil {
		return kycreview.Destination{}, notFound(err, "webhook destination")
	}
	return d, nil
}

func (t *tx) ListDestinations(ctx context.Context, appID string, limit, offset int) ([]kycreview.Destination, int, error) {
	if !canonicalUUID(appID) {
		return []kycreview.Destination{}, 0, nil
	}
	var count int
	if err := t.q.QueryRow(ctx, `SELECT count(*) FROM webhook_destinations WHERE application_id = $1 AND deleted_at IS NULL`,
		appID).Scan(&count); err != nil {
		return nil, 0, translate(err)
	}
	if offset >= count {
		return []kycreview.Destination{}, count, nil
	}
	rows, err := t.q.Query(ctx, `SELECT `+destinationColumns+` FROM webhook_destinations
		WHERE application_id = $1 AND deleted_at IS NULL ORDER BY created_at, pk LIMIT $2 OFFSET $3`, appID, limit, offset)
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
	tag, err := t.q.Exec(ctx, `UPDATE webhook_destinations SET label = $1, url = $2, webhook_version = $3, enabled = $4,
		subscribed_events = $5, secret = $6, updated_at = $7, deleted_at = $8, failing_since = $9, disabled_at = $10
		WHERE pk = $11`,
		d.Label, d.URL, d.WebhookVersion, d.Enabled, nonNil(d.SubscribedEvents), d.Secret, utc(d.UpdatedAt),
		utcArg(d.DeletedAt), utcArg(d.FailingSince), utcArg(d.DisabledAt), d.PK)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return kycreview.Errorf(kycreview.ENOTFOUND, "webhook destination not found")
	}
	return nil
}

// claimQuery claims due deliveries in one statement. due picks them:
// pending, due, not under a live claim, of an active destination, and first
// of their session's pending chain for that destination, so one session's
// events go out in order. FOR UPDATE OF d SKIP LOCKED passes over rows
// another replica is claiming at this moment, so replicas share the work
// and never take the same row; a row whose claim committed since this
// statement's snapshot is re-checked once locked and dropped, its
// claimed_until being in the future. The NOT EXISTS takes no locks: an
// earlier delivery another replica has locked still counts as pending, so
// its successor waits. The outer SELECT reads the claimed rows from
// UPDATE's RETURNING (the statement's snapshot does not see the update)
// and orders them, which RETURNING does not.
const claimQuery = `WITH due AS (
	SELECT d.pk FROM webhook_deliveries d
	JOIN webhook_destinations w ON w.pk = d.destination_pk
	WHERE d.state = 'pending' AND d.next_attempt_at <= $1
		AND (d.claimed_until IS NULL OR d.claimed_until <= $1)
		AND w.enabled AND w.disabled_at IS NULL AND w.deleted_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
			WHERE e.destination_pk = d.destination_pk AND e.session_pk = d.session_pk
				AND e.state = 'pending' AND e.pk < d.pk)
	ORDER BY d.next_attempt_at, d.pk
	LIMIT $2
	FOR UPDATE OF d SKIP LOCKED
), claimed AS (
	UPDATE webhook_deliveries d SET claim = $3, claimed_until = $4
	FROM due WHERE d.pk = due.pk
	RETURNING d.pk, d.id, d.destination_pk, d.event_pk, d.session_pk, d.state, d.attempts, d.next_attempt_at,
		d.created_at, d.completed_at
)
SELECT c.pk, c.id::text, c.destination_pk, c.event_pk, o.id::text, o.event_type, c.session_pk, s.id::text, c.state,
	c.attempts, c.next_attempt_at, c.created_at, c.completed_at, w.url, w.secret
FROM claimed c
JOIN webhook_destinations w ON w.pk = c.destination_pk
JOIN webhook_outbox o ON o.pk = c.event_pk
JOIN sessions s ON s.pk = c.session_pk
ORDER BY c.next_attempt_at, c.pk`

func (t *tx) ClaimDeliveries(ctx context.Context, now, until time.Time, claim string, limit int) ([]kycreview.ClaimedDelivery, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	rows, err := t.q.Query(ctx, claimQuery, utc(now), limit, claim, utc(until))
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

// scanDelivery scans a row of deliveryColumns (or claimQuery's, with extra
// destinations for the URL and secret).
func scanDelivery(row pgx.Row, d *kycreview.Delivery, extra ...any) error {
	var state string
	dest := append([]any{&d.PK, &d.ID, &d.DestinationPK, &d.EventPK, &d.EventID, &d.EventType, &d.SessionPK, &d.SessionID,
		&state, &d.Attempts, &d.NextAttemptAt, &d.CreatedAt, &d.CompletedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	d.State = kycreview.DeliveryState(state)
	d.NextAttemptAt, d.CreatedAt, d.CompletedAt = d.NextAttemptAt.UTC(), d.CreatedAt.UTC(), utcPtr(d.CompletedAt)
	return nil
}

// recordAttemptQuery logs an attempt and, if the delivery is still under
// the claim, moves it on and releases the claim, in one statement: the
// dispatcher records a batch of results in one transaction, one round trip
// each. $10 is the claim; the health CTE is appended by RecordAttempt.
const recordAttemptQuery = `WITH attempt AS (
	INSERT INTO webhook_attempts (id, delivery_pk, number, started_at, latency_us, status_code, error, response_head)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING pk
), moved AS (
	UPDATE webhook_deliveries SET state = $9, attempts = $11, next_attempt_at = $12, completed_at = $13,
		claim = NULL, claimed_until = NULL
	WHERE pk = $2 AND claim = $10
	RETURNING pk
)`

// The destination's health after a success or a failure. Each writes the
// row only when something changes, so a healthy destination's successes
// (nearly all attempts) do not queue on its row lock. $14 is the
// destination; the failure's $15 is when the attempt ended, $16 the
// disable cutoff (NULL: never).
const (
	recordSuccessQuery = recordAttemptQuery + `, health AS (
	UPDATE webhook_destinations SET failing_since = NULL
	WHERE pk = $14 AND failing_since IS NOT NULL
)
SELECT attempt.pk, EXISTS (SELECT 1 FROM moved) FROM attempt`
	recordFailureQuery = recordAttemptQuery + `, health AS (
	UPDATE webhook_destinations SET failing_since = coalesce(failing_since, $4),
		disabled_at = CASE WHEN coalesce(failing_since, $4) <= $16::timestamptz THEN coalesce(disabled_at, $15) ELSE disabled_at END
	WHERE pk = $14 AND (failing_since IS NULL OR (disabled_at IS NULL AND failing_since <= $16::timestamptz))
)
SELECT attempt.pk, EXISTS (SELECT 1 FROM moved) FROM attempt`
)

func (t *tx) RecordAttempt(ctx context.Context, d kycreview.ClaimedDelivery, a *kycreview.Attempt, disableBefore time.Time) (bool, error) {
	a.DeliveryPK = d.PK
	a.Error, a.ResponseHead = storableText(a.Error), storableText(a.ResponseHead)
	args := []any{a.ID, d.PK, a.Number, utc(a.StartedAt), a.Latency.Microseconds(), a.StatusCode, a.Error, a.ResponseHead,
		string(d.State), d.Claim, d.Attempts, utc(d.NextAttemptAt), utcArg(d.CompletedAt), d.DestinationPK}
	query := recordSuccessQuery
	if !a.Succeeded() {
		var cutoff *time.Time
		if !disableBefore.IsZero() {
			cutoff = utcArg(&disableBefore)
		}
		// Only the failure's statement has these parameters: PostgreSQL
		// cannot type a parameter a statement never uses.
		query, args = recordFailureQuery, append(args, utc(a.StartedAt.Add(a.Latency)), cutoff)
	}
	var applied bool
	err := t.q.QueryRow(ctx, query, args...).Scan(&a.PK, &applied)
	if err != nil {
		return false, translate(err)
	}
	return applied, nil
}

// storableText is s as a text column can hold it: PostgreSQL refuses NUL
// and bytes that are not UTF-8, which a receiver's response (cut at
// MaxResponseHead bytes, possibly mid-character) may well contain. Each is
// replaced by U+FFFD, as the SQLite backend does, so an attempt is always
// logged and both backends log the same text.
func storableText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

const deliveryColumns = `d.pk, d.id::text, d.destination_pk, d.event_pk, o.id::text, o.event_type, d.session_pk, s.id::text,
	d.state, d.attempts, d.next_attempt_at, d.created_at, d.completed_at`

const deliveryFrom = ` FROM webhook_deliveries d
	JOIN webhook_outbox o ON o.pk = d.event_pk
	JOIN sessions s ON s.pk = d.session_pk`

func (t *tx) ListDeliveries(ctx context.Context, destPK int64, limit, offset int) ([]kycreview.Delivery, int, error) {
	var count int
	if err := t.q.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE destination_pk = $1`, destPK).
		Scan(&count); err != nil {
		return nil, 0, translate(err)
	}
	if offset >= count {
		return []kycreview.Delivery{}, count, nil
	}
	rows, err := t.q.Query(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.destination_pk = $1
		ORDER BY d.pk DESC LIMIT $2 OFFSET $3`, destPK, limit, offset)
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

// attachAttempts fills each delivery's AttemptHistory, oldest first, with
// one query for the whole page.
func (t *tx) attachAttempts(ctx context.Context, ds []kycreview.Delivery) error {
	byPK := make(map[int64]int, len(ds))
	pks := make([]int64, len(ds))
	for i, d := range ds {
		byPK[d.PK] = i
		pks[i] = d.PK
	}
	rows, err := t.q.Query(ctx, `SELECT pk, id::text, delivery_pk, number, started_at, latency_us, status_code, error, response_head
		FROM webhook_attempts WHERE delivery_pk = ANY ($1) ORDER BY pk`, pks)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a kycreview.Attempt
		var latency int64
		if err := rows.Scan(&a.PK, &a.ID, &a.DeliveryPK, &a.Number, &a.StartedAt, &latency, &a.StatusCode, &a.Error,
			&a.ResponseHead); err != nil {
			return translate(err)
		}
		a.StartedAt, a.Latency = a.StartedAt.UTC(), time.Duration(latency)*time.Microsecond
		i := byPK[a.DeliveryPK]
		ds[i].AttemptHistory = append(ds[i].AttemptHistory, a)
	}
	return translate(rows.Err())
}

func (t *tx) RequeueDelivery(ctx context.Context, destPK int64, id string, now time.Time) (kycreview.Delivery, error) {
	// Either case, as on SQLite, which lower-cases the id it is given.
	id, ok := kycreview.CanonicalUUID(id)
	if !ok {
		return kycreview.Delivery{}, kycreview.Errorf(kycreview.ENOTFOUND, "webhook delivery not found")
	}
	var d kycreview.Delivery
	err := scanDelivery(t.q.QueryRow(ctx, `WITH d AS (
		UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, completed_at = NULL,
			claim = NULL, claimed_until = NULL
		WHERE destination_pk = $2 AND id = $3
		RETURNING *
	) SELECT `+deliveryColumns+` FROM d
	JOIN webhook_outbox o ON o.pk = d.event_pk
	JOIN sessions s ON s.pk = d.session_pk`, utc(now), destPK, id), &d)
	if err != nil {
		return kycreview.Delivery{}, notFound(err, "webhook delivery")
	}
	d.AttemptHistory = []kycreview.Attempt{}
	ds := []kycreview.Delivery{d}
	if err := t.attachAttempts(ctx, ds); err != nil {
		return kycreview.Delivery{}, err
	}
	return ds[0], nil
}
