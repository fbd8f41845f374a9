-- The tamper-evident audit trail (issue 8, docs/audit-chain.md).
--
-- Every feed row gets the hash that chains it to the row before it, and
-- every session the head of its chain, so the next row is chained under the
-- session's lock without reading the previous one. The rows already stored
-- are chained by a Go step the migrator runs right after this file, in the
-- same transaction (audit.go: chainExistingRows), so both backends share
-- one implementation of the hash.
ALTER TABLE activities ADD COLUMN hash bytea;
ALTER TABLE sessions ADD COLUMN chain_head bytea;
-- The seq of the session's last checkpoint: a chain is due one while its
-- activity_count is ahead of it. The partial index holds only those, so
-- the checkpointer finds them without reading every session.
ALTER TABLE sessions ADD COLUMN checkpoint_seq bigint NOT NULL DEFAULT 0;
CREATE INDEX sessions_checkpoint_due ON sessions (pk) WHERE activity_count > checkpoint_seq;

-- Signed chain heads. A checkpoint is a statement about the past: like the
-- feed, it is never changed or removed. The unique key makes a second
-- signing of the same head by the same key (another replica's) a no-op.
CREATE TABLE audit_checkpoints (
    pk         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_pk bigint NOT NULL REFERENCES sessions (pk),
    seq        bigint NOT NULL,
    head_hash  bytea NOT NULL,
    created_at timestamptz NOT NULL,
    key_id     text NOT NULL,
    public_key bytea NOT NULL,
    signature  bytea NOT NULL,
    UNIQUE (session_pk, seq, key_id)
);
CREATE INDEX audit_checkpoints_session ON audit_checkpoints (session_pk, seq);

CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION activities_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION activities_append_only();
