-- The tamper-evident audit trail (issue 8, docs/audit-chain.md).
--
-- Every feed row gets the hash that chains it to the row before it, and
-- every session the head of its chain, so the next row is chained under the
-- session's lock without reading the previous one. The rows already stored
-- are chained by a Go step the migrator runs right after this file, in the
-- same transaction (audit.go: chainExistingRows): SQLite has no SHA-256.
ALTER TABLE activities ADD COLUMN hash BLOB;
ALTER TABLE sessions ADD COLUMN chain_head BLOB;
-- The seq of the session's last checkpoint: a chain is due one while its
-- activity_count is ahead of it. The partial index holds only those, so
-- the checkpointer finds them without reading every session.
ALTER TABLE sessions ADD COLUMN checkpoint_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_checkpoint_due ON sessions (pk) WHERE activity_count > checkpoint_seq;

-- Signed chain heads. A checkpoint is a statement about the past: like the
-- feed, it is never changed or removed. The unique key makes a second
-- signing of the same head by the same key a no-op.
CREATE TABLE audit_checkpoints (
    pk         INTEGER PRIMARY KEY,
    session_pk INTEGER NOT NULL REFERENCES sessions (pk),
    seq        INTEGER NOT NULL,
    head_hash  BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    key_id     TEXT NOT NULL,
    public_key BLOB NOT NULL,
    signature  BLOB NOT NULL,
    UNIQUE (session_pk, seq, key_id)
) STRICT;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints are append-only: UPDATE is not allowed');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints are append-only: DELETE is not allowed');
END;
