package sqlite

import (
	"context"
	"database/sql"
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

// writeLoop serves writes until the database closes. If a write ends its
// goroutine without returning (runtime.Goexit), the batch is answered and a
// new loop takes over, so the writer never silently stops.
func (db *DB) writeLoop() {
	closed := false
	defer func() {
		if closed {
			close(db.writerDone)
		} else {
			go db.writeLoop()
		}
	}()
	for {
		var batch []*writeJob
		select {
		case j := <-db.jobs:
			batch = append(batch, j)
		case <-db.closing:
			closed = true
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
		db.batches.Add(1)
		db.runBatch(batch, true)
		db.afterCommit(context.Background())
	}
}

// runBatch runs the jobs in one transaction, a savepoint each, and answers
// every job once the outcome is final. If the transaction itself is lost
// mid-batch (an I/O error, a full disk: SQLite then rolls back all of it),
// the jobs that did not fail on their own are run again one by one, when
// retry is set: nothing of theirs was committed, and one bad write must not
// fail its neighbours.
func (db *DB) runBatch(batch []*writeJob, retry bool) {
	// The batch's own context: a caller that goes away must not interrupt
	// the shared transaction (SQLite rolls back a whole transaction whose
	// statement was interrupted).
	ctx := context.Background()
	results := make([]error, len(batch))
	ownFault := make([]bool, len(batch)) // failed on its own, not for the batch
	answered := false
	answer := func() {
		answered = true
		for i, j := range batch {
			j.done <- results[i]
		}
	}
	var sqlTx *sql.Tx
	defer func() {
		// Reached without an answer only if a job left this goroutine
		// (runtime.Goexit): end the transaction, fail the batch.
		if !answered {
			if sqlTx != nil {
				_ = sqlTx.Rollback()
			}
			for i := range results {
				if results[i] == nil {
					results[i] = errors.New("sqlite: a write transaction ended its goroutine")
				}
			}
			answer()
		}
	}()

	var err error
	if sqlTx, err = db.writer.BeginTx(ctx, nil); err != nil {
		err = translate(fmt.Errorf("sqlite: begin: %w", err))
		for i := range results {
			results[i] = err
		}
		answer()
		return
	}
	// lost ends the batch when the shared transaction is gone or unusable.
	lost := func(step string, err error) {
		_ = sqlTx.Rollback()
		if retry && len(batch) > 1 {
			answered = true
			for i, j := range batch {
				if ownFault[i] {
					j.done <- results[i]
					continue
				}
				db.runBatch([]*writeJob{j}, false)
			}
			return
		}
		cause := translate(fmt.Errorf("sqlite: %s: %w", step, err))
		for i := range results {
			if !ownFault[i] {
				results[i] = cause
			}
		}
		answer()
	}
	t := &tx{q: sqlTx, tx: sqlTx, stmts: db.writerStmts, ctx: ctx}
	firstSuccess := -1
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i], ownFault[i] = err, true // gave up while queued: never started
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			lost("savepoint", err)
			return
		}
		if results[i] = runJob(j, t); results[i] != nil {
			ownFault[i] = true
			// If SQLite rolled the whole transaction back (I/O error, full
			// disk), the savepoint is gone: the transaction is lost.
			if _, err := sqlTx.ExecContext(ctx, "ROLLBACK TO job"); err != nil {
				lost("rollback to savepoint", err)
				return
			}
		} else if firstSuccess < 0 {
			firstSuccess = i
		}
		if _, err := sqlTx.ExecContext(ctx, "RELEASE job"); err != nil {
			lost("release savepoint", err)
			return
		}
	}
	if err := sqlTx.Commit(); err != nil {
		// Nothing is committed. Every job that ran after the first success
		// may have seen, and been refused because of, a write now gone, so
		// all of them get the commit's error rather than their own.
		cause := translate(fmt.Errorf("sqlite: commit: %w", err))
		for i := range results {
			if firstSuccess >= 0 && i >= firstSuccess && !keepsOwnError(results[i]) {
				results[i] = cause
			}
		}
	}
	answer()
}

// keepsOwnError reports whether a job's error stands whatever the commit
// does: it gave up before starting, or it panicked.
func keepsOwnError(err error) bool {
	var p panicked
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &p)
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
