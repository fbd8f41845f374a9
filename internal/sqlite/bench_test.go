package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// BenchmarkFeedPage measures one feed page (the default ordering, 20 rows)
// through the service, on tables of 10 thousand and 1 million activity rows
// (20 per session). The page's cost should not grow with the table:
//
//	go test ./internal/sqlite/ -run '^$' -bench FeedPage -benchtime 3s
func BenchmarkFeedPage(b *testing.B) {
	for _, rows := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			sessions := rows / 20
			if err := seedFeed(ctx, db, sessions, 20); err != nil {
				b.Fatal(err)
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
// set-based statements, which is far faster than going through the API.
func seedFeed(ctx context.Context, db *sqlite.DB, sessions, perSession int) error {
	const t0 = 1781223524466537 // 2026-06-12T00:18:44.466537Z in microseconds
	stmts := []string{
		fmt.Sprintf(`INSERT INTO applications (id, name, next_session_number, created_at) VALUES ('%s', 'bench', %d, %d)`, benchApp, sessions+1, t0),
		fmt.Sprintf(`INSERT INTO workflows (id, application_id, kind, name, created_at) VALUES ('%s', '%s', 'user', 'kyc', %d)`, benchApp[:35]+"2", benchApp, t0),
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < %d)
			INSERT INTO sessions (pk, id, application_id, session_number, workflow_id, kind, status, created_at, activity_count, last_activity_at)
			SELECT i + 1, printf('%%08x-0000-4000-8000-%%012x', i, i), '%s', i + 1, '%s', 'user', 'In Review', %d, %d, %d FROM n`,
			sessions, benchApp, benchApp[:35]+"2", t0, perSession, t0+perSession),
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < %d)
			INSERT INTO activities (id, session_pk, seq, activity_type, actor_type, actor_display, previous_status, new_status,
				comment, previous_value, new_value, changed_fields, created_at)
			SELECT printf('%%08x-0000-4000-9000-%%012x', i, i), i / %d + 1, i %% %d + 1, 'STATUS_UPDATED', 'API_KEY', 'API Client',
				'In Review', 'Approved', 'Document re-checked manually; address matches.',
				'{"status":"In Review"}', '{"status":"Approved"}', '["status"]', %d + i %% %d FROM n`,
			sessions*perSession, perSession, perSession, t0, perSession),
	}
	for _, s := range stmts {
		if err := db.ExecRaw(ctx, s); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return db.ExecRaw(ctx, "ANALYZE")
}
