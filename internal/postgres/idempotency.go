package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// Idempotency keys (service/idempotency.go). Two replicas recording the same
// key meet on the primary key: the second INSERT waits for the first's
// transaction, and once it commits, finds a live record and leaves it.

func (t *tx) InsertIdempotencyRecord(ctx context.Context, rec service.IdempotencyRecord, expiredBefore time.Time) (bool, error) {
	headers, err := json.Marshal(rec.Response.Header)
	if err != nil {
		return false, fmt.Errorf("postgres: idempotency record headers: %w", err)
	}
	body := rec.Response.Body
	if body == nil {
		body = []byte{} // NOT NULL: an empty body is zero bytes
	}
	// An expired record of the key is replaced; a live one is left alone,
	// which the caller learns from the row count.
	tag, err := t.q.Exec(ctx, `INSERT INTO idempotency_keys (api_key_id, key, fingerprint, status, headers, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (api_key_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status,
			headers = excluded.headers, body = excluded.body, created_at = excluded.created_at
		WHERE idempotency_keys.created_at < $8`,
		strings.ToLower(rec.APIKeyID), rec.Key, rec.Fingerprint, rec.Response.Status, string(headers), body,
		utc(rec.CreatedAt), utc(expiredBefore))
	if err != nil {
		return false, translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

func (t *tx) FindIdempotencyRecord(ctx context.Context, apiKeyID, key string) (service.IdempotencyRecord, error) {
	rec := service.IdempotencyRecord{APIKeyID: strings.ToLower(apiKeyID), Key: key}
	if !canonicalUUID(rec.APIKeyID) {
		return service.IdempotencyRecord{}, kycreview.Errorf(kycreview.ENOTFOUND, "idempotency key not found")
	}
	var headers string
	err := t.q.QueryRow(ctx, `SELECT fingerprint, status, headers, body, created_at FROM idempotency_keys
		WHERE api_key_id = $1 AND key = $2`, rec.APIKeyID, key).
		Scan(&rec.Fingerprint, &rec.Response.Status, &headers, &rec.Response.Body, &rec.CreatedAt)
	if err != nil {
		return service.IdempotencyRecord{}, notFound(err, "idempotency key")
	}
	if err := json.Unmarshal([]byte(headers), &rec.Response.Header); err != nil {
		return service.IdempotencyRecord{}, fmt.Errorf("postgres: idempotency record headers: %w", err)
	}
	rec.CreatedAt = rec.CreatedAt.UTC()
	return rec, nil
}

// DeleteIdempotencyRecords skips rows another transaction holds (another
// replica's purge, or a request replacing an expired record), and checks
// the age again on the row it deletes: a record replaced since the subquery
// read it is young again and stays.
func (t *tx) DeleteIdempotencyRecords(ctx context.Context, createdBefore time.Time, limit int) (int, error) {
	tag, err := t.q.Exec(ctx, `DELETE FROM idempotency_keys WHERE (api_key_id, key) IN (
			SELECT api_key_id, key FROM idempotency_keys WHERE created_at < $1
			ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		AND created_at < $1`, utc(createdBefore), limit)
	if err != nil {
		return 0, translate(err)
	}
	return int(tag.RowsAffected()), nil
}
