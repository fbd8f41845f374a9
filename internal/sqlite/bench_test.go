package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
	"github.com/kycreview/kycreview/internal/storetest"
)

// BenchmarkFeedPage is storetest.BenchmarkFeedPage on SQLite:
//
//	go test ./internal/sqlite/ -run '^$' -bench FeedPage -benchtime 3s
func BenchmarkFeedPage(b *testing.B) {
	storetest.BenchmarkFeedPage(b, storetest.FeedBench{
		Open: func(b *testing.B) service.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db
		},
		Seed: seedFeed,
	})
}

// seedFeed seeds the bench application with sessions × 20 rows.
func seedFeed(ctx context.Context, s service.Store, sessions int) error {
	const t0 = 1781223524466537 // 2026-06-12T00:18:44.466537Z in microseconds
	db := s.(*sqlite.DB)
	id := `printf('%08x-0000-4000-9000-%012x', i, i)`
	createdAt := `strftime('%Y-%m-%dT%H:%M:%S', ca / 1000000, 'unixepoch') || '.' || printf('%06d', ca % 1000000) || 'Z'`
	stmts := []string{
		fmt.Sprintf(`INSERT INTO applications (id, name, next_session_number, created_at) VALUES ('%s', 'bench', %d, %d)`, storetest.BenchApp, sessions+1, t0),
		fmt.Sprintf(`INSERT INTO workflows (id, application_id, kind, name, created_at) VALUES ('%s', '%s', 'user', 'kyc', %d)`, storetest.BenchWorkflow, storetest.BenchApp, t0),
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < %d)
			INSERT INTO sessions (pk, id, application_id, session_number, workflow_id, kind, status, created_at, activity_count, last_activity_at)
			SELECT i + 1, printf('%%08x-0000-4000-8000-%%012x', i, i), '%s', i + 1, '%s', 'user', 'Approved', %d, 20, %d FROM n`,
			sessions, storetest.BenchApp, storetest.BenchWorkflow, t0, t0+20),
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < %d)
			INSERT INTO activities (id, session_pk, seq, activity_type, actor_type, actor_display, previous_status, new_status,
				comment, previous_value, new_value, changed_fields, created_at, entry)
			SELECT %s, i / 20 + 1, i %% 20 + 1, 'STATUS_UPDATED', 'API_KEY', 'API Client', 'In Review', 'Approved',
				'Document re-checked manually; address matches.', '{"status":"In Review"}', '{"status":"Approved"}', '["status"]',
				ca, %s
			FROM (SELECT i, %d + i %% 20 AS ca FROM n)`,
			sessions*20, id, storetest.BenchEntrySQL(id, createdAt), t0),
		// No ANALYZE, as in service: see cmd/kycbench's seeding.
	}
	for _, st := range stmts {
		if err := db.ExecRaw(ctx, st); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}
