// Package postgres is kycreview's scale-out storage: service.Store on
// PostgreSQL through pgx's connection pool, for running several replicas of
// the service against one database.
//
// Changes to a session are serialised by its row lock (LockSession is
// SELECT … FOR UPDATE), not by a database-wide writer as on SQLite, so write
// transactions run at READ COMMITTED: a transaction that waited for the lock
// reads the row as the previous holder committed it. Read transactions use a
// REPEATABLE READ snapshot so a page and the counts it is shown with agree.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kycreview/kycreview/internal/service"
)

// DB is a kycreview database on a PostgreSQL server.
type DB struct {
	pool *pgxpool.Pool
}

var _ service.Store = (*DB)(nil)

// The isolation levels are set explicitly rather than left to the server's
// default_transaction_isolation: under SERIALIZABLE, concurrent reviews of
// one session would fail with serialization errors nobody retries.
var (
	readTxOptions  = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	writeTxOptions = pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite}
)

// Open connects to the database at url (postgres://user@host:port/db?…, or
// any form pgx accepts, including pool_max_conns), checks that it answers,
// and applies any pending migrations.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// Not wrapped: pgx's parse error quotes the URL, and its password
		// redaction is best effort, while this message ends up in logs.
		return nil, errors.New("postgres: cannot parse the database URL (not shown, it may hold a password)")
	}
	// Durability does not depend on the server's default: a commit returns
	// only once its WAL record is flushed on the primary.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	// pgxpool's default, one connection per CPU with a floor of four, starves
	// a request mix that waits on the network more than on the CPU. An
	// explicit pool_max_conns in the URL wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, translate(fmt.Errorf("postgres: open: %w", err))
	}
	db := &DB{pool: pool}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes every connection in the pool, waiting for connections in use
// to be returned.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks that the server answers.
func (db *DB) Ping(ctx context.Context) error {
	return translate(db.pool.Ping(ctx))
}

// ReadTx runs fn in a read-only REPEATABLE READ transaction: every query in
// fn sees the same snapshot.
func (db *DB) ReadTx(ctx context.Context, fn func(service.Tx) error) error {
	return db.runTx(ctx, readTxOptions, fn)
}

// WriteTx runs fn in a READ COMMITTED transaction and commits if fn returns
// nil. Its consistency comes from the row locks fn takes (LockSession, and
// the UPDATE that numbers a new session), not from the isolation level.
func (db *DB) WriteTx(ctx context.Context, fn func(service.Tx) error) error {
	return db.runTx(ctx, writeTxOptions, fn)
}

func (db *DB) runTx(ctx context.Context, opts pgx.TxOptions, fn func(service.Tx) error) error {
	pgTx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return translate(fmt.Errorf("postgres: begin: %w", err))
	}
	// Unconditional: after Commit it is a no-op, and on an error or a panic
	// in fn it ends the transaction before the connection goes back to the
	// pool.
	defer func() { _ = pgTx.Rollback(ctx) }()
	if err := fn(&tx{q: pgTx}); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return translate(fmt.Errorf("postgres: commit: %w", err))
	}
	return nil
}

// Read runs fn's statements straight on the pool, each in its own implicit
// transaction: one round trip each, without BEGIN and COMMIT.
func (db *DB) Read(ctx context.Context, fn func(service.Tx) error) error {
	return fn(&tx{q: db.pool})
}

// querier runs statements: a transaction, or the pool for Read.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// tx implements service.Tx over one PostgreSQL transaction, or over the
// pool outside any (Read).
type tx struct {
	q querier
}

var _ service.Tx = (*tx)(nil)

// ExecRaw runs a statement (or several, separated by semicolons) outside the
// service, for tests that play someone with direct access to the database.
func (db *DB) ExecRaw(ctx context.Context, query string) error {
	_, err := db.pool.Exec(ctx, query)
	return err
}
