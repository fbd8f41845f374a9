-- The first schema: tenants, credentials, sessions and their append-only feed,
-- plus the outbox and notification rows that later workers deliver. The same
-- tables and columns as internal/sqlite/migrations/0001_init.sql, in
-- PostgreSQL's types:
--   * public ids are uuid (read back as lower-case hyphenated text);
--   * times are timestamptz, microsecond precision, written and read as UTC;
--   * JSON the API echoes back (session and feed metadata, the status
--     snapshots) is json, which keeps the text exactly as written (webhook
--     bodies embed it and are signed byte for byte); jsonb would reorder
--     keys, change number spellings and refuse \u0000;
--   * the feed's email and field lists are text[].

CREATE TABLE applications (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL,
    -- The next session_number to hand out: taken and bumped by an UPDATE in
    -- the session's transaction, whose row lock makes numbers unique and
    -- gapless across replicas.
    next_session_number bigint NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL
);

CREATE TABLE workflows (
    id             uuid PRIMARY KEY,
    application_id uuid NOT NULL REFERENCES applications (id),
    kind           text NOT NULL CHECK (kind IN ('user', 'business')),
    name           text NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX workflows_application ON workflows (application_id);

CREATE TABLE api_keys (
    id             uuid PRIMARY KEY,
    application_id uuid NOT NULL REFERENCES applications (id),
    role           text NOT NULL CHECK (role IN ('client', 'system')),
    lookup         text NOT NULL UNIQUE,
    hash           bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);
CREATE INDEX api_keys_application ON api_keys (application_id);

CREATE TABLE console_users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    -- Lower-cased by the application (Go's strings.ToLower), not by lower(),
    -- whose result depends on the database's locale: both backends then agree
    -- on which addresses are the same.
    email_lower   text NOT NULL UNIQUE,
    full_name     text NOT NULL,
    password_hash text,
    created_at    timestamptz NOT NULL,
    disabled_at   timestamptz
);

CREATE TABLE memberships (
    application_id uuid NOT NULL REFERENCES applications (id),
    user_id        uuid NOT NULL REFERENCES console_users (id),
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (application_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE sessions (
    pk               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               uuid NOT NULL UNIQUE,
    application_id   uuid NOT NULL REFERENCES applications (id),
    session_number   bigint NOT NULL,
    workflow_id      uuid NOT NULL REFERENCES workflows (id),
    kind             text NOT NULL CHECK (kind IN ('user', 'business')),
    status           text NOT NULL CHECK (status IN ('Not Started', 'In Progress', 'Approved', 'Declined',
                         'In Review', 'Resubmitted', 'Expired', 'Abandoned', 'Kyc Expired', 'Awaiting User')),
    vendor_data      text,
    metadata         json,
    callback         text,
    created_at       timestamptz NOT NULL,
    deleted_at       timestamptz,
    -- The feed's row count (the last seq) and newest row time, kept under the
    -- session's lock by every append. last_activity_at is NULL until the
    -- first row.
    activity_count   bigint NOT NULL DEFAULT 0,
    last_activity_at timestamptz,
    UNIQUE (application_id, session_number)
);
CREATE INDEX sessions_app_status ON sessions (application_id, status, session_number);
CREATE INDEX sessions_app_vendor ON sessions (application_id, vendor_data, session_number);

CREATE TABLE activities (
    pk               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               uuid NOT NULL UNIQUE,
    session_pk       bigint NOT NULL REFERENCES sessions (pk),
    seq              bigint NOT NULL,
    activity_type    text NOT NULL,
    actor_type       text NOT NULL CHECK (actor_type IN ('API_KEY', 'CONSOLE_USER', 'SYSTEM')),
    actor_id         uuid,
    actor_display    text NOT NULL,
    actor_email      text,
    previous_status  text,
    new_status       text,
    comment          text,
    mentioned_emails text[] NOT NULL DEFAULT '{}',
    previous_value   json,
    new_value        json,
    changed_fields   text[] NOT NULL DEFAULT '{}',
    metadata         json,
    created_at       timestamptz NOT NULL,
    -- The row as the feed shows it, rendered once when it is written (the
    -- row never changes): a feed page is these joined.
    entry            text NOT NULL,
    UNIQUE (session_pk, seq)
);
CREATE INDEX activities_session_created ON activities (session_pk, created_at, seq);

-- The feed is an audit trail: the database itself refuses to change history,
-- whatever the application code does. TRUNCATE skips row triggers, so it has
-- its own statement trigger; it also fires when a TRUNCATE … CASCADE on
-- another table reaches this one.
CREATE FUNCTION activities_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'activities are append-only: % is not allowed', TG_OP;
END;
$$;
CREATE TRIGGER activities_no_update_delete BEFORE UPDATE OR DELETE ON activities
    FOR EACH ROW EXECUTE FUNCTION activities_append_only();
CREATE TRIGGER activities_no_truncate BEFORE TRUNCATE ON activities
    FOR EACH STATEMENT EXECUTE FUNCTION activities_append_only();

-- An event names the feed row it reports; its body is rendered from that
-- row and the ones before it (immutable) when it is delivered, instead of
-- storing the session's whole history again in every event.
CREATE TABLE webhook_outbox (
    pk             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             uuid NOT NULL UNIQUE,
    application_id uuid NOT NULL REFERENCES applications (id),
    session_pk     bigint NOT NULL REFERENCES sessions (pk),
    seq            bigint NOT NULL,
    event_type     text NOT NULL,
    created_at     timestamptz NOT NULL,
    FOREIGN KEY (session_pk, seq) REFERENCES activities (session_pk, seq)
);
CREATE INDEX webhook_outbox_session ON webhook_outbox (session_pk, pk);

CREATE TABLE notifications (
    pk             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             uuid NOT NULL UNIQUE,
    application_id uuid NOT NULL REFERENCES applications (id),
    activity_pk    bigint NOT NULL REFERENCES activities (pk),
    user_id        uuid NOT NULL REFERENCES console_users (id),
    created_at     timestamptz NOT NULL,
    read_at        timestamptz,
    UNIQUE (activity_pk, user_id)
);
CREATE INDEX notifications_user ON notifications (user_id, pk);
