package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/storetest"
)

// BenchmarkFeedPage is storetest.BenchmarkFeedPage on PostgreSQL, each
// size in a fresh database. With -v it also logs the EXPLAIN ANALYZE plans
// of the hot queries at each size (docs/query-plans.md):
//
//	KYCREVIEW_TEST_POSTGRES=… go test ./internal/postgres/ -run '^$' -bench FeedPage -benchtime 3s -v
func BenchmarkFeedPage(b *testing.B) {
	storetest.BenchmarkFeedPage(b, storetest.FeedBench{
		Open: func(b *testing.B) service.Store {
			db, err := Open(context.Background(), pgtest.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db
		},
		Seed: seedFeed,
		Inspect: func(ctx context.Context, b *testing.B, s service.Store, n int) {
			logPlans(ctx, b, s.(*DB), n)
		},
	})
}

// seedFeed seeds the bench application with sessions × 20 rows.
func seedFeed(ctx context.Context, s service.Store, sessions int) error {
	const t0 = "2026-06-12 00:18:44.466537+00"
	db := s.(*DB)
	id := `(lpad(to_hex(i), 8, '0') || '-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))`
	createdAt := `to_char(ca AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	stmts := []string{
		fmt.Sprintf(`INSERT INTO applications (id, name, next_session_number, created_at) VALUES ('%s', 'bench', %d, '%s')`, storetest.BenchApp, sessions+1, t0),
		fmt.Sprintf(`INSERT INTO workflows (id, application_id, kind, name, created_at) VALUES ('%s', '%s', 'user', 'kyc', '%s')`, storetest.BenchWorkflow, storetest.BenchApp, t0),
		fmt.Sprintf(`INSERT INTO sessions (id, application_id, session_number, workflow_id, kind, status, created_at, activity_count, last_activity_at)
			SELECT (lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, '%s', i + 1, '%s', 'user', 'Approved',
				'%s', 20, timestamptz '%s' + interval '20 microseconds'
			FROM generate_series(0, %d) AS i`, storetest.BenchApp, storetest.BenchWorkflow, t0, t0, sessions-1),
		fmt.Sprintf(`INSERT INTO activities (id, session_pk, seq, activity_type, actor_type, actor_display, previous_status, new_status,
				comment, previous_value, new_value, changed_fields, created_at, entry)
			SELECT %s::uuid, pk, g, 'STATUS_UPDATED', 'API_KEY', 'API Client', 'In Review', 'Approved',
				'Document re-checked manually; address matches.', '{"status":"In Review"}', '{"status":"Approved"}', '{status}',
				ca, %s
			FROM (SELECT s.pk, g, (s.pk - 1) * 20 + g - 1 AS i, timestamptz '%s' + interval '1 microsecond' * g AS ca
				FROM sessions AS s, generate_series(1, 20) AS g) AS r`,
			id, storetest.BenchEntrySQL(id, createdAt), t0),
		`ANALYZE`,
	}
	for _, st := range stmts {
		if err := db.ExecRaw(ctx, st); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

// logPlans logs EXPLAIN ANALYZE for the hot read queries on one session.
func logPlans(ctx context.Context, b *testing.B, db *DB, n int) {
	b.Helper()
	var pk int64
	if err := db.pool.QueryRow(ctx, `SELECT pk FROM sessions WHERE id = $1`, storetest.BenchSessionID(n)).Scan(&pk); err != nil {
		b.Fatal(err)
	}
	order, err := orderBy(kycreview.DefaultFeedOrdering())
	if err != nil {
		b.Fatal(err)
	}
	plans := []struct {
		name, query string
		args        []any
	}{
		{"session lookup", `SELECT ` + sessionColumns + ` FROM sessions WHERE id = $1 AND application_id = $2 AND deleted_at IS NULL`,
			[]any{storetest.BenchSessionID(n), storetest.BenchApp}},
		{"feed page, newest first", feedPageQuery(order), []any{storetest.BenchSessionID(n), storetest.BenchApp, 20, 0}},
		{"decision reviews", statusRowsQuery, []any{pk}},
	}
	for _, p := range plans {
		rows, err := db.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+p.query, p.args...)
		if err != nil {
			b.Fatal(err)
		}
		var lines []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				b.Fatal(err)
			}
			lines = append(lines, "    "+line)
		}
		rows.Close()
		b.Logf("%s:\n%s", p.name, strings.Join(lines, "\n"))
	}
}
