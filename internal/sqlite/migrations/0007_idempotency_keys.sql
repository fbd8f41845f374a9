-- Idempotency keys (issue 9, item 7): the response to a POST or PATCH sent
-- with an Idempotency-Key header, written in the same transaction as the
-- write it answered, so that a retry gets it back instead of writing again.
-- One row per (API key, key); fingerprint is the request's method, path and
-- body hash; headers is a JSON object; body is the exact bytes sent. Rows
-- older than the retention are treated as absent, replaced by a new request
-- with the same key, and purged in small batches by created_at.
CREATE TABLE idempotency_keys (
    api_key_id  TEXT NOT NULL REFERENCES api_keys (id),
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    headers     TEXT NOT NULL,
    body        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (api_key_id, key)
) STRICT;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
