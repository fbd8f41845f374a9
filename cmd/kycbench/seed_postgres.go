package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kycreview/kycreview/internal/postgres"
)

// pgAdminTimeout bounds each statement on the admin connection.
const pgAdminTimeout = time.Minute

// pgDatabase is a throwaway database kycbench created on the server at the
// admin URL, and drops at the end of the run.
type pgDatabase struct {
	admin string
	name  string
	url   string
}

// createPgDatabase creates an empty database named kycbench_<random>.
func createPgDatabase(ctx context.Context, admin string) (*pgDatabase, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("--postgres-url must be a postgres:// URL")
	}
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	name := "kycbench_" + hex.EncodeToString(b[:])
	if err := pgExec(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("postgres: create database %s: %w", name, err)
	}
	db := *u
	db.Path = "/" + name
	db.RawPath = ""
	return &pgDatabase{admin: admin, name: name, url: db.String()}, nil
}

// drop drops the database, ending any connection still open on it. It runs
// on its own context: it must happen even when the run was interrupted.
func (d *pgDatabase) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), pgAdminTimeout)
	defer cancel()
	// FORCE (PostgreSQL 13+) ends connections a server left open.
	if err := pgExec(ctx, d.admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("postgres: drop database %s: %w", d.name, err)
	}
	return nil
}

// pgReachable reports whether the server at the admin URL answers.
func pgReachable(ctx context.Context, admin string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return pgExec(ctx, admin, "SELECT 1")
}

// pgExec runs one statement on a short-lived connection: CREATE and DROP
// DATABASE cannot run in a transaction, so there is no pool around it.
func pgExec(ctx context.Context, connURL, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, pgAdminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, stmt)
	return err
}

// seedPostgres fills the fresh database db with sessions × rows feed rows in
// a few set-based statements.
func seedPostgres(ctx context.Context, db *pgDatabase, sessions, rows int) (dataset, error) {
	start := time.Now()
	store, err := postgres.Open(ctx, db.url)
	if err != nil {
		return dataset{}, err
	}
	defer store.Close()
	spec, token, err := newSeedSpec(ctx, store, sessions, rows, start)
	if err != nil {
		return dataset{}, err
	}
	indexes, err := postgresFeedIndexes(ctx, db.url)
	if err != nil {
		return dataset{}, err
	}
	stmts := postgresSeedSQL(spec)
	// The indexes go before the feed rows (stmts[3]) and come back after
	// them, before VACUUM (seed_indexes.go), each built with enough memory
	// to sort in one pass: the SET and the CREATE go as one Exec, so on the
	// same pooled connection.
	creates := createIndexes(indexes)
	for i, c := range creates {
		creates[i] = `SET maintenance_work_mem = '1GB'; ` + c
	}
	stmts = slices.Concat(stmts[:3], dropIndexes(indexes), stmts[3:4], creates, stmts[4:])
	for _, stmt := range stmts {
		if err := store.ExecRaw(ctx, stmt); err != nil {
			return dataset{}, fmt.Errorf("seed postgres: %w\n%s", err, truncate(stmt, 300))
		}
	}
	// The durability settings are read through the service's own pool, so
	// they are what its connections run with (postgres.Open sets
	// synchronous_commit on them), not the server's defaults. ExecRaw
	// returns no rows, hence the table.
	if err := store.ExecRaw(ctx, `CREATE TABLE kycbench_settings AS SELECT name, setting FROM pg_settings
		WHERE name IN ('synchronous_commit', 'fsync', 'full_page_writes', 'wal_sync_method')`); err != nil {
		return dataset{}, fmt.Errorf("postgres: read settings: %w", err)
	}
	durability, size, err := pgSettings(ctx, db.url)
	if err != nil {
		return dataset{}, err
	}
	return dataset{
		DBURL:      db.url,
		Token:      token,
		SessionIDs: sessionIDs(sessions),
		Sessions:   sessions,
		Rows:       rows,
		SeedTime:   time.Since(start),
		SizeBytes:  size,
		Durability: durability,
	}, nil
}

// pgSettings returns the settings kycbench_settings captured, described,
// and the database's size; it drops the table.
func pgSettings(ctx context.Context, dbURL string) (string, int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", 0, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT name, setting FROM kycbench_settings
		ORDER BY array_position(ARRAY['synchronous_commit', 'fsync', 'wal_sync_method', 'full_page_writes'], name)`)
	if err != nil {
		return "", 0, err
	}
	settings, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var name, setting string
		err := r.Scan(&name, &setting)
		return name + "=" + setting, err
	})
	if err != nil {
		return "", 0, err
	}
	if _, err := conn.Exec(ctx, `DROP TABLE kycbench_settings`); err != nil {
		return "", 0, err
	}
	var size int64
	if err := conn.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
		return "", 0, err
	}
	what := ": a commit returns only after its WAL record is flushed to disk on this server"
	if !slices.Contains(settings, "synchronous_commit=on") || !slices.Contains(settings, "fsync=on") {
		what = ": NOT every commit is flushed to disk before it returns"
	}
	return strings.Join(settings, ", ") + what, size, nil
}

// postgresSeedSQL is the seeding SQL for PostgreSQL: rows from
// generate_series, times as timestamptz.
func postgresSeedSQL(spec seedSpec) []string {
	t0 := "timestamptz '" + spec.T0.Format(time.RFC3339) + "'"
	rows := feedRowsSelect(spec, dialect{
		// Computed, not random, as on SQLite: the id appears twice in the row.
		id:            `(lpad(to_hex((i * 2654435761) % 4294967296), 8, '0') || '-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))`,
		asUUID:        func(s string) string { return s + "::uuid" },
		actorID:       "'" + spec.KeyID + "'::uuid",
		createdAt:     t0 + " + interval '1 second' * (i + 30)",
		changedFields: `'{status}'::text[]`,
		json:          func(s string) string { return "(" + s + ")::json" },
		timeText:      func(s string) string { return `to_char(` + s + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')` },
	})
	return []string{
		fmt.Sprintf(`UPDATE applications SET next_session_number = %d WHERE id = '%s'`, spec.Sessions+1, spec.AppID),
		// pk is given rather than generated so that the feed rows can name
		// their session without a join; the identity then continues after it.
		fmt.Sprintf(`INSERT INTO sessions (pk, id, application_id, session_number, workflow_id, kind, status, vendor_data,
				created_at, activity_count, last_activity_at)
			OVERRIDING SYSTEM VALUE
			SELECT i + 1, (lpad(to_hex((i * 2654435761) %% 4294967296), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
				'%[2]s', i + 1, '%[3]s', 'user', '%[4]s', 'user-' || i,
				%[5]s + interval '1 second' * i, %[6]d, %[5]s + interval '1 second' * (i + %[7]d + 30)
			FROM generate_series(0::bigint, %[1]d - 1) AS i`,
			spec.Sessions, spec.AppID, spec.WorkflowID, finalStatus(spec.Rows), t0, spec.Rows, (spec.Rows-1)*spec.Sessions),
		fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('sessions', 'pk'), %d)`, spec.Sessions),
		fmt.Sprintf(`WITH n AS (SELECT i FROM generate_series(0::bigint, %d - 1) AS i)
			INSERT INTO activities (%s) %s`, spec.Sessions*spec.Rows, activityColumns, rows),
		// VACUUM as well as ANALYZE: it sets the hint bits and the visibility
		// map that a table in service has had set long ago, so the first
		// reads of the run do not pay for them.
		`VACUUM (ANALYZE) sessions`,
		`VACUUM (ANALYZE) activities`,
		`ANALYZE`,
	}
}

// pgBackends finds the PostgreSQL processes that work for one database: on
// PostgreSQL much of a request's CPU is spent there, outside the kycreview
// process, and a report of kycreview's CPU alone would hide it.
type pgBackends struct {
	conn *pgx.Conn
}

func openPgBackends(ctx context.Context, dbURL string) (*pgBackends, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to list backends: %w", err)
	}
	return &pgBackends{conn: conn}, nil
}

// pids lists the backends connected to the database, except this one, and
// the server-wide processes that flush and checkpoint the WAL its commits
// write. Those are shared with any other database on the server, so on a
// busy server they overstate the figure a little.
func (b *pgBackends) pids(ctx context.Context) ([]int, error) {
	rows, err := b.conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()
		AND (datname = current_database() OR backend_type IN ('walwriter', 'checkpointer', 'background writer'))`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

func (b *pgBackends) close() { _ = b.conn.Close(context.Background()) }
