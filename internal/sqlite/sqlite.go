// Package sqlite is kycreview's embedded storage: service.Store on a SQLite
// file through modernc.org/sqlite (pure Go, so `go run` needs no C compiler).
//
// Writes go through a single connection, owned by one goroutine that runs
// the writes waiting for it in one IMMEDIATE transaction, a savepoint each,
// and commits them together (groupcommit.go): writers queue in the process
// instead of failing with "database is locked", the write lock taken at
// BEGIN is what serialises changes to a session, and each write is answered
// only after the commit that makes it durable. Reads use a separate pool
// and, in WAL mode, never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kycreview/kycreview/internal/service"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Synchronous is the durability setting: FULL syncs the WAL on every commit,
// so a commit that returned survives power loss, not only a process crash.
const Synchronous = "FULL"

// DB is a kycreview database in one SQLite file.
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	// Prepared hot statements, one set per pool (see stmts.go).
	writerStmts, readerStmts statements
	// The writer goroutine's queue and lifecycle (see groupcommit.go).
	jobs       chan *writeJob
	closing    chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error
	batches    atomic.Int64 // commits the writer has run, for tests
	// The background checkpointer (walcheckpoint.go): its own connection,
	// the writer's signal that it committed, and its request that the
	// writer checkpoint so that the WAL can start over.
	checkpointer     *sql.DB
	committed        chan struct{}
	resetWAL         chan struct{}
	checkpointerDone chan struct{}
	// readSlots admits readers to the reader pool first come, first served
	// (admitRead): one slot per connection.
	readSlots chan struct{}
}

var _ service.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and applies any
// pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.IndexByte(path, 0) >= 0 {
		return nil, fmt.Errorf("sqlite: invalid database path %q", path)
	}
	// The name is a URI: escape what SQLite or the driver would read as
	// syntax, so "a%41b.db" opens a%41b.db and not aAb.db.
	name := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	common := url.Values{}
	common.Add("_pragma", "busy_timeout(10000)")
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous("+Synchronous+")")

	w := url.Values{"_txlock": {"immediate"}}
	w.Add("_pragma", "journal_mode(WAL)")
	// The writer touches a random session, and random places in the feed's
	// indexes, with every review: with SQLite's default 2 MiB page cache
	// most of those pages were re-read from the file (a pread each, 12% of
	// a POST's CPU). 16 MiB keeps the indexes' upper levels and the hot
	// leaves. Not more: the cache costs about twice its size in RSS (each
	// 4 KiB page and its header is a larger allocation in modernc's libc),
	// and 64 MiB took the server from 71 to 178 MB under a POST load, with
	// no gain in throughput over 16.
	w.Add("_pragma", "cache_size(-16384)")
	// Checkpoints run beside the writer (walcheckpoint.go).
	w.Add("_pragma", "wal_autocheckpoint(0)")
	for _, p := range common["_pragma"] {
		w.Add("_pragma", p)
	}
	writer, err := sql.Open("sqlite", name+"?"+w.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// The first connection switches the file to WAL; readers open after it.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	r := url.Values{}
	for _, p := range common["_pragma"] {
		r.Add("_pragma", p)
	}
	r.Add("_pragma", "query_only(1)")
	reader, err := sql.Open("sqlite", name+"?"+r.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	reader.SetConnMaxIdleTime(0)
	reader.SetConnMaxLifetime(0)

	db := &DB{path: path, writer: writer, reader: reader, readSlots: make(chan struct{}, n)}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// Each write in a batch runs in a savepoint (groupcommit.go), whose
	// journal SQLite otherwise spills to a temporary file past 64 KiB: an
	// open, writes and a close per batch. In memory it is a few pages. Set
	// after the migrations, not in the connection's settings: temp_store
	// also puts sorts in memory, and a migration's CREATE INDEX on a large
	// table would sort gigabytes in RAM. (Should the connection ever be
	// reopened, it runs with temporary files again: slower, not wrong.)
	if _, err := writer.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if db.writerStmts, err = prepare(ctx, writer, hotQueries()); err != nil {
		db.Close()
		return nil, err
	}
	if db.readerStmts, err = prepare(ctx, reader, hotQueries()); err != nil {
		db.Close()
		return nil, err
	}
	// The checkpointer's connection: not query_only, which would refuse
	// the checkpoint's writes to the database file.
	if db.checkpointer, err = sql.Open("sqlite", name+"?"+url.Values{"_pragma": common["_pragma"]}.Encode()); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.checkpointer.SetMaxOpenConns(1)
	db.checkpointer.SetMaxIdleConns(1)
	db.checkpointer.SetConnMaxIdleTime(0)
	db.checkpointer.SetConnMaxLifetime(0)
	db.jobs, db.closing, db.writerDone = make(chan *writeJob), make(chan struct{}), make(chan struct{})
	db.committed, db.resetWAL, db.checkpointerDone = make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{})
	go db.writeLoop()
	go db.checkpointLoop()
	db.noteCommit() // what the migrations wrote
	return db, nil
}

// Close stops the writer, after the batch it is running, and closes both
// connection pools.
// Calling it again does nothing.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if db.closing != nil {
			close(db.closing)
			<-db.writerDone
			<-db.checkpointerDone
		}
		db.readerStmts.close()
		db.writerStmts.close()
		var ckptErr error
		if db.checkpointer != nil {
			ckptErr = db.checkpointer.Close()
		}
		// The writer closes last: as the last connection to the file, it
		// checkpoints the whole WAL into it and removes it.
		db.closeErr = errors.Join(db.reader.Close(), ckptErr, db.writer.Close())
	})
	return db.closeErr
}

// Ping checks that the file can be read.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// ReadTx runs fn in a read transaction: one WAL snapshot throughout.
func (db *DB) ReadTx(ctx context.Context, fn func(service.Tx) error) error {
	if err := db.admitRead(ctx); err != nil {
		return err
	}
	defer db.doneRead()
	return runTx(ctx, db.reader, db.readerStmts, fn)
}

// Read runs fn's statements on the reader pool, each in its own implicit
// transaction.
func (db *DB) Read(ctx context.Context, fn func(service.Tx) error) error {
	if err := db.admitRead(ctx); err != nil {
		return err
	}
	defer db.doneRead()
	return fn(&tx{q: db.reader, stmts: db.readerStmts})
}

// admitRead waits for one of the reader pool's connections to be free, in
// the order readers arrived. Without it, readers beyond the pool's size wait
// inside database/sql, which hands a freed connection to a waiter chosen at
// random: under 64 concurrent feed requests on 4 connections some waited
// many turns, and p99 was 5× the ceiling's. A channel's waiters are served
// first come, first served, so here each waits about the same.
func (db *DB) admitRead(ctx context.Context) error {
	select {
	case db.readSlots <- struct{}{}:
		return nil
	default:
	}
	select {
	case db.readSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (db *DB) doneRead() { <-db.readSlots }

func runTx(ctx context.Context, pool *sql.DB, stmts statements, fn func(service.Tx) error) (err error) {
	sqlTx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return translate(fmt.Errorf("sqlite: begin: %w", err))
	}
	// Unconditional: after Commit it is a no-op, and if fn panics the single
	// writer connection must not stay inside an open transaction.
	defer sqlTx.Rollback() //nolint:errcheck // ErrTxDone after a commit
	if err := fn(&tx{q: sqlTx, tx: sqlTx, stmts: stmts}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return translate(fmt.Errorf("sqlite: commit: %w", err))
	}
	return nil
}

// tx implements service.Tx over one SQLite transaction, or over the reader
// pool outside any (Read).
type tx struct {
	q     querier
	tx    *sql.Tx // nil outside a transaction
	stmts statements
	// ctx, when set, replaces the callers' contexts for every statement: in a
	// shared batch no caller may interrupt the transaction.
	ctx context.Context
}

// querier runs statements: *sql.Tx or *sql.DB.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

var _ service.Tx = (*tx)(nil)

// ExecRaw runs a statement on the writer connection outside the service, for
// tests that play someone with direct access to the file.
func (db *DB) ExecRaw(ctx context.Context, query string) error {
	_, err := db.writer.ExecContext(ctx, query)
	if db.committed != nil {
		// As after a batch (groupcommit.go): bulk loads through here must
		// not grow the WAL without bound either.
		db.afterCommit(ctx)
	}
	return err
}
