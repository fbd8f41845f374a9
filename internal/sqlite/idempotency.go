package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kycreview/kycreview/internal/service"
)

// Idempotency keys (service/idempotency.go). Writes are serialised by the
// single writer, so a second record of a key can only meet a committed
// record, or one of an earlier savepoint of its own batch, which commits
// with it.

func (t *tx) InsertIdempotencyRecord(ctx context.Context, rec service.IdempotencyRecord, expiredBefore time.Time) (bool, error) {
	headers, err := json.Marshal(rec.Response.Header)
	if err != nil {
		return false, fmt.Errorf("sqlite: idempotency record headers: %w", err)
	}
	body := rec.Response.Body
	if body == nil {
		body = []byte{} // NOT NULL: an empty body is zero bytes
	}
	// An expired record of the key is replaced; a live one is left alone,
	// which the caller learns from the row count.
	res, err := t.exec(ctx, `INSERT INTO idempotency_keys (api_key_id, key, fingerprint, status, headers, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (api_key_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status,
			headers = excluded.headers, body = excluded.body, created_at = excluded.created_at
		WHERE idempotency_keys.created_at < ?`,
		strings.ToLower(rec.APIKeyID), rec.Key, rec.Fingerprint, rec.Response.Status, string(headers), body,
		rec.CreatedAt.UnixMicro(), expiredBefore.UnixMicro())
	if err != nil {
		return false, translate(err)
	}
	n, err := res.RowsAffected()
	return n == 1, translate(err)
}

func (t *tx) FindIdempotencyRecord(ctx context.Context, apiKeyID, key string) (service.IdempotencyRecord, error) {
	rec := service.IdempotencyRecord{APIKeyID: strings.ToLower(apiKeyID), Key: key}
	var headers string
	var created int64
	err := t.queryRow(ctx, `SELECT fingerprint, status, headers, body, created_at FROM idempotency_keys
		WHERE api_key_id = ? AND key = ?`, rec.APIKeyID, key).
		Scan(&rec.Fingerprint, &rec.Response.Status, &headers, &rec.Response.Body, &created)
	if err != nil {
		return service.IdempotencyRecord{}, notFound(err, "idempotency key")
	}
	if err := json.Unmarshal([]byte(headers), &rec.Response.Header); err != nil {
		return service.IdempotencyRecord{}, fmt.Errorf("sqlite: idempotency record headers: %w", err)
	}
	rec.CreatedAt = fromMicro(created)
	return rec, nil
}

func (t *tx) DeleteIdempotencyRecords(ctx context.Context, createdBefore time.Time, limit int) (int, error) {
	before := createdBefore.UnixMicro()
	res, err := t.exec(ctx, `DELETE FROM idempotency_keys WHERE rowid IN (
			SELECT rowid FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)
		AND created_at < ?`, before, limit, before)
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return int(n), translate(err)
}
