package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kycreview/kycreview"
)

// The audit chain's storage (issue 8): the hashes are computed by the
// service and the domain; this file stores and reads them, and chains the
// rows that existed before migration 0005.

// afterMigration runs the Go step of a migration, in its transaction, right
// after its SQL file.
func afterMigration(ctx context.Context, t *sql.Tx, version int) error {
	if version == 5 {
		return chainExistingRows(ctx, t)
	}
	return nil
}

// activitiesNoUpdate is the append-only trigger of 0001_init.sql, which
// chainExistingRows drops and creates again.
const activitiesNoUpdate = `CREATE TRIGGER activities_no_update BEFORE UPDATE ON activities
BEGIN
    SELECT RAISE(ABORT, 'activities are append-only: UPDATE is not allowed');
END`

// chainExistingRows fills the hash of every row stored before the chain
// existed, session by session in seq order, and each session's chain head.
//
// The rows can only be updated with the append-only trigger out of the way.
// It is dropped and created again inside the migration's transaction, so no
// other connection ever sees the table without it: DDL is transactional in
// SQLite, and the transaction holds the write lock throughout. (A trigger
// that let a NULL hash be set would have served too, but would have left a
// permanent exception in the rule for a one-off step.)
func chainExistingRows(ctx context.Context, t *sql.Tx) error {
	if _, err := t.ExecContext(ctx, `DROP TRIGGER activities_no_update`); err != nil {
		return err
	}
	var after int64
	for {
		type session struct {
			pk int64
			id string
		}
		var batch []session
		rows, err := t.QueryContext(ctx, `SELECT pk, id FROM sessions WHERE pk > ? ORDER BY pk LIMIT 500`, after)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s session
			if err := rows.Scan(&s.pk, &s.id); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, s)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		for _, s := range batch {
			acts, err := chainRows(ctx, t, s.pk)
			if err != nil {
				return err
			}
			var prev []byte
			for _, a := range acts {
				prev = kycreview.ChainHash(prev, s.id, a)
				if _, err := t.ExecContext(ctx, `UPDATE activities SET hash = ? WHERE pk = ?`, prev, a.PK); err != nil {
					return err
				}
			}
			if prev != nil {
				if _, err := t.ExecContext(ctx, `UPDATE sessions SET chain_head = ? WHERE pk = ?`, prev, s.pk); err != nil {
					return err
				}
			}
		}
		after = batch[len(batch)-1].pk
	}
	_, err := t.ExecContext(ctx, activitiesNoUpdate)
	return err
}

// chainRowsQuery lists a session's rows in chain order. The pk breaks ties
// only in a database whose UNIQUE (session_pk, seq) someone removed.
const chainRowsQuery = `SELECT ` + activityColumns + ` FROM activities WHERE session_pk = ? ORDER BY seq, pk`

func chainRows(ctx context.Context, q querier, sessionPK int64) ([]kycreview.Activity, error) {
	rows, err := q.QueryContext(ctx, chainRowsQuery, sessionPK)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []kycreview.Activity
	for rows.Next() {
		a, err := scanActivity(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, translate(rows.Err())
}

// blobArg binds a nil slice as NULL (the driver would bind an empty blob).
func blobArg(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// TryLockCheckpoints always succeeds: one process writes a SQLite file.
func (t *tx) TryLockCheckpoints(ctx context.Context) (bool, error) { return true, nil }

const chainHeadColumns = `pk, id, application_id, activity_count, chain_head, deleted_at IS NOT NULL`

func scanChainHeads(rows *sql.Rows, err error) ([]kycreview.ChainHead, error) {
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []kycreview.ChainHead
	for rows.Next() {
		var h kycreview.ChainHead
		if err := rows.Scan(&h.SessionPK, &h.SessionID, &h.ApplicationID, &h.Seq, &h.Hash, &h.Deleted); err != nil {
			return nil, translate(err)
		}
		out = append(out, h)
	}
	return out, translate(rows.Err())
}

func (t *tx) DueCheckpoints(ctx context.Context, afterPK int64, limit int) ([]kycreview.ChainHead, error) {
	return scanChainHeads(t.query(ctx, `SELECT `+chainHeadColumns+` FROM sessions
		WHERE activity_count > checkpoint_seq AND pk > ? ORDER BY pk LIMIT ?`, afterPK, limit))
}

func (t *tx) InsertCheckpoint(ctx context.Context, c *kycreview.Checkpoint) (bool, error) {
	err := t.queryRow(ctx, `INSERT INTO audit_checkpoints (session_pk, seq, head_hash, created_at, key_id, public_key, signature)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING pk`,
		c.SessionPK, c.Seq, c.Head, c.CreatedAt.UnixMicro(), c.KeyID, []byte(c.PublicKey), c.Signature).Scan(&c.PK)
	inserted := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, translate(err)
	}
	_, err = t.exec(ctx, `UPDATE sessions SET checkpoint_seq = ? WHERE pk = ? AND checkpoint_seq < ?`, c.Seq, c.SessionPK, c.Seq)
	return inserted, translate(err)
}

func (t *tx) ListChainHeads(ctx context.Context, appID, sessionID string, afterPK int64, limit int) ([]kycreview.ChainHead, error) {
	return scanChainHeads(t.query(ctx, `SELECT `+chainHeadColumns+` FROM sessions
		WHERE pk > ? AND (? = '' OR application_id = ?) AND (? = '' OR id = ?) ORDER BY pk LIMIT ?`,
		afterPK, appID, appID, sessionID, sessionID, limit))
}

func (t *tx) ListChainRows(ctx context.Context, sessionPK int64) ([]kycreview.Activity, error) {
	return chainRows(ctx, t.q, sessionPK)
}

func (t *tx) ListCheckpoints(ctx context.Context, sessionPK int64) ([]kycreview.Checkpoint, error) {
	rows, err := t.query(ctx, `SELECT c.pk, c.session_pk, s.id, c.seq, c.head_hash, c.created_at, c.key_id, c.public_key, c.signature
		FROM audit_checkpoints c JOIN sessions s ON s.pk = c.session_pk WHERE c.session_pk = ? ORDER BY c.seq, c.pk`, sessionPK)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []kycreview.Checkpoint
	for rows.Next() {
		var c kycreview.Checkpoint
		var created int64
		var pub []byte
		if err := rows.Scan(&c.PK, &c.SessionPK, &c.SessionID, &c.Seq, &c.Head, &created, &c.KeyID, &pub, &c.Signature); err != nil {
			return nil, translate(err)
		}
		c.CreatedAt, c.PublicKey = fromMicro(created), pub
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: checkpoints: %w", translate(err))
	}
	return out, nil
}
