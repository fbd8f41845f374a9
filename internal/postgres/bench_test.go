package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
	"github.com/kycreview/kycreview/internal/service"
)

// BenchmarkFeedPage measures one feed page (the default ordering, 20 rows)
// through the service, on tables of 10 thousand and 1 million activity rows
// (20 per session), each in a fresh database. The page's cost should not
// grow with the table. With -v it also logs the EXPLAIN ANALYZE plans of the
// hot queries at each size (docs/query-plans.md):
//
//	KYCREVIEW_TEST_POSTGRES=… go test ./internal/postgres/ -run '^$' -bench FeedPage -benchtime 3s -v
func BenchmarkFeedPage(b *testing.B) {
	for _, rows := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, pgtest.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			sessions := rows / 20
			if err := seedFeed(ctx, db, sessions, 20); err != nil {
				b.Fatal(err)
			}
			if testing.Verbose() {
				logPlans(ctx, b, db, sessions/2)
			}
			svc := service.New(db, time.Now)
			key := kycreview.APIKey{ApplicationID: benchApp}
			q := kycreview.FeedQuery{Ordering: kycreview.DefaultFeedOrdering(), Limit: 20}
			b.ResetTimer()
			// The same number of distinct sessions at every size, spread over
			// the whole table: the comparison is of the query's cost, not of
			// how much of a larger table the cache holds.
			const hot = 500
			for i := 0; b.Loop(); i++ {
				id := benchSessionID((i * 7919) % hot * (sessions / hot))
				page, count, err := svc.Feed(ctx, key, id, q)
				if err != nil || count != 20 || len(page) != 20 {
					b.Fatalf("feed %s: %d rows of %d, %v", id, len(page), count, err)
				}
			}
		})
	}
}

const benchApp = "00000000-0000-4000-8000-00000000a001"

func benchSessionID(n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n) }

// seedFeed fills the database with sessions × perSession feed rows in a few
// set-based statements, far faster than going through the API.
func seedFeed(ctx context.Context, db *DB, sessions, perSession int) error {
	const t0 = "2026-06-12 00:18:44.466537+00"
	workflow := benchApp[:35] + "2"
	stmts := []string{
		fmt.Sprintf(`INSERT INTO applications (id, name, next_session_number, created_at) VALUES ('%s', 'bench', %d, '%s')`, benchApp, sessions+1, t0),
		fmt.Sprintf(`INSERT INTO workflows (id, application_id, kind, name, created_at) VALUES ('%s', '%s', 'user', 'kyc', '%s')`, workflow, benchApp, t0),
		fmt.Sprintf(`INSERT INTO sessions (id, application_id, session_number, workflow_id, kind, status, created_at, activity_count, last_activity_at)
			SELECT (lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, '%s', i + 1, '%s', 'user', 'In Review',
				'%s', %d, timestamptz '%s' + interval '1 microsecond' * %d
			FROM generate_series(0, %d) AS i`, benchApp, workflow, t0, perSession, t0, perSession, sessions-1),
		fmt.Sprintf(`INSERT INTO activities (id, session_pk, seq, activity_type, actor_type, actor_display, previous_status, new_status,
				comment, previous_value, new_value, changed_fields, created_at)
			SELECT gen_random_uuid(), s.pk, g, 'STATUS_UPDATED', 'API_KEY', 'API Client', 'In Review', 'Approved',
				'Document re-checked manually; address matches.', '{"status":"In Review"}', '{"status":"Approved"}', '{status}',
				timestamptz '%s' + interval '1 microsecond' * g
			FROM sessions AS s, generate_series(1, %d) AS g`, t0, perSession),
		`ANALYZE`,
	}
	for _, s := range stmts {
		if err := db.ExecRaw(ctx, s); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

// logPlans logs EXPLAIN ANALYZE for the hot read queries on one session.
func logPlans(ctx context.Context, b *testing.B, db *DB, n int) {
	b.Helper()
	var pk int64
	if err := db.pool.QueryRow(ctx, `SELECT pk FROM sessions WHERE id = $1`, benchSessionID(n)).Scan(&pk); err != nil {
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
			[]any{benchSessionID(n), benchApp}},
		{"feed page, newest first", feedQuery(order), []any{pk, 20, 0}},
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
