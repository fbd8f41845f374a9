-- Webhook destinations, the deliveries owed to them and the log of every
-- attempt (issue 5). The same tables and columns as
-- internal/sqlite/migrations/0003_webhooks.sql, in PostgreSQL's types (see
-- 0001_init.sql): uuid ids, timestamptz times, boolean flags, and the
-- subscribed event names as text[], like the feed's lists. Numbered 0003 to
-- match SQLite's; PostgreSQL has no 0002 (SQLite's covering index).

CREATE TABLE webhook_destinations (
    pk                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                uuid NOT NULL UNIQUE,
    application_id    uuid NOT NULL REFERENCES applications (id),
    label             text NOT NULL,
    url               text NOT NULL,
    webhook_version   text NOT NULL,
    enabled           boolean NOT NULL,
    subscribed_events text[] NOT NULL DEFAULT '{}',
    secret            text NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    -- Deleted destinations are kept, with their delivery log, for audit.
    deleted_at        timestamptz,
    failing_since     timestamptz,
    disabled_at       timestamptz
);
-- One live destination per URL and application; a deleted one frees its URL.
CREATE UNIQUE INDEX webhook_destinations_app_url ON webhook_destinations (application_id, url)
    WHERE deleted_at IS NULL;
CREATE INDEX webhook_destinations_app ON webhook_destinations (application_id, created_at, pk);

CREATE TABLE webhook_deliveries (
    pk              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              uuid NOT NULL UNIQUE,
    destination_pk  bigint NOT NULL REFERENCES webhook_destinations (pk),
    event_pk        bigint NOT NULL REFERENCES webhook_outbox (pk),
    session_pk      bigint NOT NULL REFERENCES sessions (pk),
    state           text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    -- A dispatcher's claim: until claimed_until no other one takes the row;
    -- after it (the dispatcher died mid-send) the row is due again. Replicas
    -- claim with FOR UPDATE SKIP LOCKED, so two never take the same row.
    claim           text,
    claimed_until   timestamptz,
    created_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    UNIQUE (destination_pk, event_pk)
);
-- Due work, and each session's chain of pending deliveries per destination:
-- a delivery waits while an earlier one of its chain is pending. Both are
-- partial, so finished deliveries (nearly all of them) cost the claim
-- nothing.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, pk) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_chain ON webhook_deliveries (destination_pk, session_pk, pk) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (destination_pk, pk);

CREATE TABLE webhook_attempts (
    pk            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            uuid NOT NULL UNIQUE,
    delivery_pk   bigint NOT NULL REFERENCES webhook_deliveries (pk),
    number        integer NOT NULL,
    started_at    timestamptz NOT NULL,
    latency_us    bigint NOT NULL,
    status_code   integer,
    error         text NOT NULL,
    response_head text NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_pk, pk);

-- The attempt log is evidence: the database refuses to rewrite it, as it
-- refuses to rewrite the feed (0001_init.sql), TRUNCATE included.
CREATE FUNCTION webhook_attempts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'webhook attempts are append-only: % is not allowed', TG_OP;
END;
$$;
CREATE TRIGGER webhook_attempts_no_update_delete BEFORE UPDATE OR DELETE ON webhook_attempts
    FOR EACH ROW EXECUTE FUNCTION webhook_attempts_append_only();
CREATE TRIGGER webhook_attempts_no_truncate BEFORE TRUNCATE ON webhook_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_attempts_append_only();
