-- Webhook destinations, the deliveries owed to them and the log of every
-- attempt (issue 5).

CREATE TABLE webhook_destinations (
    pk                INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    application_id    TEXT NOT NULL REFERENCES applications (id),
    label             TEXT NOT NULL,
    url               TEXT NOT NULL,
    webhook_version   TEXT NOT NULL,
    enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    subscribed_events TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(subscribed_events)),
    secret            TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    -- Deleted destinations are kept, with their delivery log, for audit.
    deleted_at        INTEGER,
    failing_since     INTEGER,
    disabled_at       INTEGER
) STRICT;
CREATE UNIQUE INDEX webhook_destinations_app_url ON webhook_destinations (application_id, url)
    WHERE deleted_at IS NULL;
CREATE INDEX webhook_destinations_app ON webhook_destinations (application_id, created_at);

CREATE TABLE webhook_deliveries (
    pk              INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    destination_pk  INTEGER NOT NULL REFERENCES webhook_destinations (pk),
    event_pk        INTEGER NOT NULL REFERENCES webhook_outbox (pk),
    session_pk      INTEGER NOT NULL REFERENCES sessions (pk),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- A dispatcher's claim: until claimed_until no other one takes the row;
    -- after it (the dispatcher died mid-send) the row is due again.
    claim           TEXT,
    claimed_until   INTEGER,
    created_at      INTEGER NOT NULL,
    completed_at    INTEGER,
    UNIQUE (destination_pk, event_pk)
) STRICT;
-- Due work, and each session's chain of pending deliveries per destination:
-- a delivery waits while an earlier one of its chain is pending.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_chain ON webhook_deliveries (destination_pk, session_pk, pk) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (destination_pk, pk);

CREATE TABLE webhook_attempts (
    pk            INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    delivery_pk   INTEGER NOT NULL REFERENCES webhook_deliveries (pk),
    number        INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    latency_us    INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT NOT NULL,
    response_head TEXT NOT NULL
) STRICT;
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_pk, pk);

-- The attempt log is evidence: it is never rewritten.
CREATE TRIGGER webhook_attempts_no_update BEFORE UPDATE ON webhook_attempts
BEGIN
    SELECT RAISE(ABORT, 'webhook attempts are append-only: UPDATE is not allowed');
END;
CREATE TRIGGER webhook_attempts_no_delete BEFORE DELETE ON webhook_attempts
BEGIN
    SELECT RAISE(ABORT, 'webhook attempts are append-only: DELETE is not allowed');
END;
