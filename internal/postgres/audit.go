package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/kycreview/kycreview"
)

// The audit chain's storage (issue 8): the hashes are computed by the
// service and the domain; this file stores and reads them, and chains the
// rows that existed before migration 0005.

// checkpointLock is the key of the transaction-level advisory lock a
// checkpoint batch takes, so replicas do not sign the same heads at once:
// one takes a batch, the others skip their turn. ("kycaudit" in ASCII.)
const checkpointLock int64 = 0x6b79636175646974

// afterMigration runs the Go step of a migration, in its transaction, right
// after its SQL file.
func afterMigration(ctx context.Context, t pgx.Tx, version int) error {
	if version == 5 {
		return chainExistingRows(ctx, t)
	}
	return nil
}

// chainExistingRows fills the hash of every row stored before the chain
// existed, session by session in seq order, and each session's chain head.
// The hash is computed in Go, by the code that chains new rows, so there is
// one implementation of it (pgcrypto's digest would have been a second).
//
// The append-only trigger is disabled for the length of the migration's
// transaction and enabled again before it commits: ALTER TABLE is
// transactional and holds an ACCESS EXCLUSIVE lock on activities until the
// commit, so no other session ever writes to the table without the trigger.
// (A trigger that let a NULL hash be set would have served too, but would
// have left a permanent exception in the rule for a one-off step.)
func chainExistingRows(ctx context.Context, t pgx.Tx) error {
	if _, err := t.Exec(ctx, `ALTER TABLE activities DISABLE TRIGGER activities_no_update_delete`); err != nil {
		return err
	}
	var after int64
	for {
		type session struct {
			pk int64
			id string
		}
		rows, err := t.Query(ctx, `SELECT pk, id::text FROM sessions WHERE pk > $1 ORDER BY pk LIMIT 500`, after)
		if err != nil {
			return err
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (session, error) {
			var s session
			return s, r.Scan(&s.pk, &s.id)
		})
		if err != nil {
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
			var updates pgx.Batch
			var prev []byte
			for _, a := range acts {
				prev = kycreview.ChainHash(prev, s.id, a)
				updates.Queue(`UPDATE activities SET hash = $1 WHERE pk = $2`, prev, a.PK)
			}
			if prev == nil {
				continue
			}
			updates.Queue(`UPDATE sessions SET chain_head = $1 WHERE pk = $2`, prev, s.pk)
			if err := t.SendBatch(ctx, &updates).Close(); err != nil {
				return err
			}
		}
		after = batch[len(batch)-1].pk
	}
	_, err := t.Exec(ctx, `ALTER TABLE activities ENABLE TRIGGER activities_no_update_delete`)
	return err
}

// chainRowsQuery lists a session's rows in chain order. The pk breaks ties
// only in a database whose UNIQUE (session_pk, seq) someone removed.
const chainRowsQuery = `SELECT ` + activityColumns + ` FROM activities WHERE session_pk = $1 ORDER BY seq, pk`

func chainRows(ctx context.Context, q querier, sessionPK int64) ([]kycreview.Activity, error) {
	rows, err := q.Query(ctx, chainRowsQuery, sessionPK)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []kycreview.Activity
	for rows.Next() {
		a, err := scanActivity(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, a)
	}
	return out, translate(rows.Err())
}

// TryLockCheckpoints takes the checkpoint lock for the rest of the
// transaction, without waiting: false means another replica holds it.
func (t *tx) TryLockCheckpoints(ctx context.Context) (bool, error) {
	var ok bool
	err := t.q.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, checkpointLock).Scan(&ok)
	return ok, translate(err)
}

const chainHeadColumns = `pk, id::text, application_id::text, activity_count, chain_head, deleted_at IS NOT NULL`

func scanChainHeads(rows pgx.Rows, err error) ([]kycreview.ChainHead, error) {
	if err != nil {
		return nil, translate(err)
	}
	heads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kycreview.ChainHead, error) {
		var h kycreview.ChainHead
		return h, r.Scan(&h.SessionPK, &h.SessionID, &h.ApplicationID, &h.Seq, &h.Hash, &h.Deleted)
	})
	return heads, translate(err)
}

func (t *tx) DueCheckpoints(ctx context.Context, afterPK int64, limit int) ([]kycreview.ChainHead, error) {
	return scanChainHeads(t.q.Query(ctx, `SELECT `+chainHeadColumns+` FROM sessions
		WHERE activity_count > checkpoint_seq AND pk > $1 ORDER BY pk LIMIT $2`, afterPK, limit))
}

func (t *tx) InsertCheckpoint(ctx context.Context, c *kycreview.Checkpoint) (bool, error) {
	err := t.q.QueryRow(ctx, `INSERT INTO audit_checkpoints (session_pk, seq, head_hash, created_at, key_id, public_key, signature)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING pk`,
		c.SessionPK, c.Seq, c.Head, utc(c.CreatedAt), c.KeyID, []byte(c.PublicKey), c.Signature).Scan(&c.PK)
	inserted := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, translate(err)
	}
	_, err = t.q.Exec(ctx, `UPDATE sessions SET checkpoint_seq = $1 WHERE pk = $2 AND checkpoint_seq < $1`, c.Seq, c.SessionPK)
	return inserted, translate(err)
}

func (t *tx) ListChainHeads(ctx context.Context, appID, sessionID string, afterPK int64, limit int) ([]kycreview.ChainHead, error) {
	// A malformed id matches nothing (and must not reach a uuid cast).
	if (appID != "" && !canonicalUUID(appID)) || (sessionID != "" && !canonicalUUID(sessionID)) {
		return nil, nil
	}
	return scanChainHeads(t.q.Query(ctx, `SELECT `+chainHeadColumns+` FROM sessions
		WHERE pk > $1 AND ($2 = '' OR application_id = NULLIF($2, '')::uuid) AND ($3 = '' OR id = NULLIF($3, '')::uuid)
		ORDER BY pk LIMIT $4`,
		afterPK, appID, sessionID, limit))
}

func (t *tx) ListChainRows(ctx context.Context, sessionPK int64) ([]kycreview.Activity, error) {
	return chainRows(ctx, t.q, sessionPK)
}

func (t *tx) ListCheckpoints(ctx context.Context, sessionPK int64) ([]kycreview.Checkpoint, error) {
	rows, err := t.q.Query(ctx, `SELECT c.pk, c.session_pk, s.id::text, c.seq, c.head_hash, c.created_at, c.key_id, c.public_key, c.signature
		FROM audit_checkpoints c JOIN sessions s ON s.pk = c.session_pk WHERE c.session_pk = $1 ORDER BY c.seq, c.pk`, sessionPK)
	if err != nil {
		return nil, translate(err)
	}
	cps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kycreview.Checkpoint, error) {
		var c kycreview.Checkpoint
		var pub []byte
		err := r.Scan(&c.PK, &c.SessionPK, &c.SessionID, &c.Seq, &c.Head, &c.CreatedAt, &c.KeyID, &pub, &c.Signature)
		c.CreatedAt, c.PublicKey = c.CreatedAt.UTC(), pub
		return c, err
	})
	return cps, translate(err)
}
