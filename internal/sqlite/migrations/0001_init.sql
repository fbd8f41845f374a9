-- The first schema: tenants, credentials, sessions and their append-only feed,
-- plus the outbox and notification rows that later workers deliver.
-- Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE applications (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    -- The next session_number to hand out: taken and bumped inside the
    -- session's transaction, so numbers are unique and gapless.
    next_session_number INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE workflows (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    kind           TEXT NOT NULL CHECK (kind IN ('user', 'business')),
    name           TEXT NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX workflows_application ON workflows (application_id);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    role           TEXT NOT NULL CHECK (role IN ('client', 'system')),
    lookup         TEXT NOT NULL UNIQUE,
    hash           BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
) STRICT;
CREATE INDEX api_keys_application ON api_keys (application_id);

CREATE TABLE console_users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_lower   TEXT NOT NULL UNIQUE,
    full_name     TEXT NOT NULL,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
) STRICT;

CREATE TABLE memberships (
    application_id TEXT NOT NULL REFERENCES applications (id),
    user_id        TEXT NOT NULL REFERENCES console_users (id),
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (application_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE sessions (
    pk               INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    application_id   TEXT NOT NULL REFERENCES applications (id),
    session_number   INTEGER NOT NULL,
    workflow_id      TEXT NOT NULL REFERENCES workflows (id),
    kind             TEXT NOT NULL CHECK (kind IN ('user', 'business')),
    status           TEXT NOT NULL CHECK (status IN ('Not Started', 'In Progress', 'Approved', 'Declined',
                         'In Review', 'Resubmitted', 'Expired', 'Abandoned', 'Kyc Expired', 'Awaiting User')),
    vendor_data      TEXT,
    metadata         TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
    callback         TEXT,
    created_at       INTEGER NOT NULL,
    deleted_at       INTEGER,
    -- The feed's row count (the last seq) and newest row time, kept under the
    -- session's lock by every append.
    activity_count   INTEGER NOT NULL DEFAULT 0,
    last_activity_at INTEGER NOT NULL DEFAULT 0,
    UNIQUE (application_id, session_number)
) STRICT;
CREATE INDEX sessions_app_status ON sessions (application_id, status, session_number);
CREATE INDEX sessions_app_vendor ON sessions (application_id, vendor_data, session_number);

CREATE TABLE activities (
    pk               INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    session_pk       INTEGER NOT NULL REFERENCES sessions (pk),
    seq              INTEGER NOT NULL,
    activity_type    TEXT NOT NULL,
    actor_type       TEXT NOT NULL CHECK (actor_type IN ('API_KEY', 'CONSOLE_USER', 'SYSTEM')),
    actor_id         TEXT,
    actor_display    TEXT NOT NULL,
    actor_email      TEXT,
    previous_status  TEXT,
    new_status       TEXT,
    comment          TEXT,
    mentioned_emails TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(mentioned_emails)),
    previous_value   TEXT CHECK (previous_value IS NULL OR json_valid(previous_value)),
    new_value        TEXT CHECK (new_value IS NULL OR json_valid(new_value)),
    changed_fields   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(changed_fields)),
    metadata         TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
    created_at       INTEGER NOT NULL,
    -- The row as the feed shows it, rendered once when it is written (the
    -- row never changes): a feed page is these joined.
    entry            TEXT NOT NULL,
    UNIQUE (session_pk, seq)
) STRICT;
CREATE INDEX activities_session_created ON activities (session_pk, created_at, seq);

-- The feed is an audit trail: the database itself refuses to change history,
-- whatever the application code does.
CREATE TRIGGER activities_no_update BEFORE UPDATE ON activities
BEGIN
    SELECT RAISE(ABORT, 'activities are append-only: UPDATE is not allowed');
END;
CREATE TRIGGER activities_no_delete BEFORE DELETE ON activities
BEGIN
    SELECT RAISE(ABORT, 'activities are append-only: DELETE is not allowed');
END;

-- An event names the feed row it reports; its body is rendered from that
-- row and the ones before it (immutable) when it is delivered, instead of
-- storing the session's whole history again in every event.
CREATE TABLE webhook_outbox (
    pk             INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    application_id TEXT NOT NULL REFERENCES applications (id),
    session_pk     INTEGER NOT NULL REFERENCES sessions (pk),
    seq            INTEGER NOT NULL,
    event_type     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    FOREIGN KEY (session_pk, seq) REFERENCES activities (session_pk, seq)
) STRICT;
CREATE INDEX webhook_outbox_session ON webhook_outbox (session_pk, pk);

CREATE TABLE notifications (
    pk             INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    application_id TEXT NOT NULL REFERENCES applications (id),
    activity_pk    INTEGER NOT NULL REFERENCES activities (pk),
    user_id        TEXT NOT NULL REFERENCES console_users (id),
    created_at     INTEGER NOT NULL,
    read_at        INTEGER,
    UNIQUE (activity_pk, user_id)
) STRICT;
CREATE INDEX notifications_user ON notifications (user_id, pk);
