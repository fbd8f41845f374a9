package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// Group commit. With synchronous=FULL every commit waits for an fsync, and
// SQLite has one writer, so committing each write transaction on its own
// caps writes at one fsync each, however many requests wait. Instead one
// goroutine owns the writer connection: it takes every WriteTx already
// waiting, runs each in a savepoint of one transaction, commits once, and
// only then answers each. A write that fails is rolled back to its savepoint
// and does not touch the others; every success is answered only after the
// commit that makes it durable.

// maxBatch bounds how many writes share a commit, so one commit never waits
// for an unbounded queue.
const maxBatch = 64

// writeJob is one WriteTx waiting for the writer.
type writeJob struct {
	ctx  context.Context
	fn   func(service.Tx) error
	done chan error // buffered: the writer never waits for the caller
}

// panicked carries a panic from a write back to its caller's goroutine.
type panicked struct{ value any }

func (p panicked) Error() string { return fmt.Sprintf("panic in a write transaction: %v", p.value) }

// closedError answers writes that arrive after Close.
func closedError() error {
	return kycreview.WrapError(kycreview.EUNAVAILABLE, "Service unavailable.", errors.New("sqlite: database closed"))
}

// WriteTx runs fn in a transaction on the single writer connection and
// returns once what fn wrote is committed (or rolled back, if fn returned an
// error). Writes from concurrent callers may share one commit.
func (db *DB) WriteTx(ctx context.Context, fn func(service.Tx) error) error {
	j := &writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closing:
		return closedError()
	}
	// Once taken, the job runs to its end: its savepoint and the batch's
	// commit are not the caller's to interrupt (see runJob).
	err := <-j.done
	var p panicked
	if errors.As(err, &p) {
		panic(p.value)
	}
	return err
}

// writeLoop serves writes until the database closes.
func (db *DB) writeLoop() {
	defer close(db.writerDone)
	for {
		var batch []*writeJob
		select {
		case j := <-db.jobs:
			batch = append(batch, j)
		case <-db.closing:
			return
		}
		// Take what is already waiting, without waiting for more: under
		// load, callers queue while the previous commit syncs.
	gather:
		for len(batch) < maxBatch {
			select {
			case j := <-db.jobs:
				batch = append(batch, j)
			default:
				break gather
			}
		}
		db.runBatch(batch)
	}
}

// runBatch runs the jobs in one transaction, a savepoint each, and answers
// every job once the outcome is final.
func (db *DB) runBatch(batch []*writeJob) {
	// The batch's own context: a caller that goes away must not interrupt
	// the shared transaction (SQLite rolls back a whole transaction whose
	// statement was interrupted).
	ctx := context.Background()
	results := make([]error, len(batch))
	answer := func() {
		for i, j := range batch {
			j.done <- results[i]
		}
	}
	sqlTx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		err = translate(fmt.Errorf("sqlite: begin: %w", err))
		for i := range results {
			results[i] = err
		}
		answer()
		return
	}
	t := &tx{q: sqlTx, tx: sqlTx, stmts: db.writerStmts, ctx: ctx}
	ran := 0
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err // gave up while queued: never started
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			db.abortBatch(sqlTx, results, translate(fmt.Errorf("sqlite: savepoint: %w", err)))
			answer()
			return
		}
		if results[i] = runJob(j, t); results[i] != nil {
			// An I/O error may have made SQLite roll back the whole
			// transaction already; then the savepoint is gone, later
			// statements would commit one by one, and no earlier job's
			// work is left: fail the batch.
			if _, err := sqlTx.ExecContext(ctx, "ROLLBACK TO job"); err != nil {
				db.abortBatch(sqlTx, results, translate(fmt.Errorf("sqlite: rollback to savepoint: %w", err)))
				answer()
				return
			}
		} else {
			ran++
		}
		if _, err := sqlTx.ExecContext(ctx, "RELEASE job"); err != nil {
			db.abortBatch(sqlTx, results, translate(fmt.Errorf("sqlite: release savepoint: %w", err)))
			answer()
			return
		}
	}
	if err := sqlTx.Commit(); err != nil {
		err = translate(fmt.Errorf("sqlite: commit: %w", err))
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
	}
	answer()
}

// abortBatch rolls the transaction back and fails every job that had not
// failed on its own: none of their work survives.
func (db *DB) abortBatch(sqlTx interface{ Rollback() error }, results []error, cause error) {
	_ = sqlTx.Rollback()
	for i := range results {
		if results[i] == nil {
			results[i] = cause
		}
	}
}

// runJob runs one job's function, turning a panic into an error the caller
// re-raises in its own goroutine.
func runJob(j *writeJob, t *tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicked{v}
		}
	}()
	return j.fn(t)
}
