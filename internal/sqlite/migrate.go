package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction, in version order. It is
// safe to call on every start: applied versions are skipped.
func (db *DB) Migrate(ctx context.Context) error {
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	files, err := migrationFiles()
	if err != nil {
		return err
	}
	for _, m := range files {
		if err := db.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
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
			return nil, fmt.Errorf("sqlite: migration %q is not named NNNN_name.sql", e.Name())
		}
		out = append(out, migration{version: v, name: e.Name()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

func (db *DB) apply(ctx context.Context, m migration) error {
	body, err := migrations.ReadFile("migrations/" + m.name)
	if err != nil {
		return err
	}
	t, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
	}
	defer t.Rollback() //nolint:errcheck // a no-op after Commit
	var n int
	if err := t.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := t.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
	}
	if err := afterMigration(ctx, t, m.version); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
	}
	if _, err := t.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
	}
	return nil
}
