package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the transaction-level advisory lock every
// migration transaction takes first, so replicas starting together apply
// each migration once, one after the other, instead of racing on the same
// DDL. The value is "kycrevie" in ASCII; any constant no other program on
// the database uses would do.
const migrationLock int64 = 0x6b79637265766965

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction, in version order. It is
// safe to call on every start and from several processes at once: applied
// versions are skipped, and the advisory lock makes concurrent callers wait
// for each other.
func (db *DB) Migrate(ctx context.Context) error {
	files, err := migrationFiles()
	if err != nil {
		return err
	}
	// A service running as a least-privilege role (docs/least-privilege.sql)
	// may not create anything: when every migration is applied already, only
	// read, so such a role can start.
	if done, err := db.allApplied(ctx, files); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	} else if done {
		return nil
	}
	// Even CREATE TABLE IF NOT EXISTS fails when two sessions run it at the
	// same moment (both insert the type into the catalog), so it too runs
	// under the lock.
	err = db.locked(ctx, func(t pgx.Tx) error {
		_, err := t.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, m := range files {
		if err := db.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// allApplied reports whether schema_migrations exists and records every
// one of files.
func (db *DB) allApplied(ctx context.Context, files []migration) (bool, error) {
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return false, err
	}
	var want []int
	for _, m := range files {
		want = append(want, m.version)
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ANY($1)`, want).Scan(&n); err != nil {
		return false, err
	}
	return n == len(files), nil
}

type migration struct {
	version int
	name    string
}

// migrationFiles lists the embedded NNNN_name.sql files in version order.
func migrationFiles() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("postgres: migration %q is not named NNNN_name.sql", e.Name())
		}
		out = append(out, migration{version: v, name: e.Name()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// apply runs migration m unless it is recorded as applied, recording it in
// the same transaction: either the schema change and its record both
// commit, or neither does.
func (db *DB) apply(ctx context.Context, m migration) error {
	body, err := migrations.ReadFile("migrations/" + m.name)
	if err != nil {
		return err
	}
	err = db.locked(ctx, func(t pgx.Tx) error {
		var applied bool
		if err := t.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
			m.version).Scan(&applied); err != nil || applied {
			return err
		}
		// No arguments: pgx sends the file with the simple protocol, which
		// runs several statements in one call.
		if _, err := t.Exec(ctx, string(body)); err != nil {
			return err
		}
		if err := afterMigration(ctx, t, m.version); err != nil {
			return err
		}
		_, err := t.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate %s: %w", m.name, err)
	}
	return nil
}

// locked runs fn in a transaction that first takes the migration lock; the
// lock is released when the transaction ends, whatever happens to the
// connection afterwards.
func (db *DB) locked(ctx context.Context, fn func(pgx.Tx) error) error {
	t, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = t.Rollback(ctx) }()
	if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return err
	}
	if err := fn(t); err != nil {
		return err
	}
	return t.Commit(ctx)
}
