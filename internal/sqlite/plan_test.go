package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
)

// TestQueryPlans checks that the hot queries are answered from indexes, so a
// page's cost does not grow with the tables: no full scan of activities or
// sessions, and no sort of the whole feed for the default ordering.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defaultOrder, err := orderBy(kycreview.DefaultFeedOrdering(), "a.")
	if err != nil {
		t.Fatal(err)
	}
	ascOrder, err := orderBy([]kycreview.OrderTerm{{Field: "created_at"}}, "a.")
	if err != nil {
		t.Fatal(err)
	}
	_, listAll := sessionListQueries("application_id = ? AND deleted_at IS NULL AND kind = ?")
	_, listStatus := sessionListQueries("application_id = ? AND deleted_at IS NULL AND kind = ? AND status IN (?)")
	tests := []struct {
		name, query string
		args        []any
		want        string // an index the plan must use
	}{
		{"feed, newest first", feedPageQuery(defaultOrder), []any{"x", "y", 20, 0}, "USING COVERING INDEX activities_feed"},
		{"feed, oldest first", feedPageQuery(ascOrder), []any{"x", "y", 20, 0}, "USING COVERING INDEX activities_feed"},
		{"decision reviews", statusRowsQuery, []any{1}, "sqlite_autoindex_activities_2"},
		{"session lookup", `SELECT ` + sessionColumns + ` FROM sessions WHERE id = ? AND application_id = ? AND deleted_at IS NULL`, []any{"x", "y"}, "sqlite_autoindex_sessions_1"},
		{"session list", listAll, []any{"app", "user", 50, 0}, "sqlite_autoindex_sessions_2"},
		{"session list by status", listStatus, []any{"app", "user", "In Review", 50, 0}, "sessions_app_status"},
		{"webhook backlog", webhookBacklogQuery, nil, "webhook_deliveries_due"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := db.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			text := strings.Join(plan, "\n")
			if !strings.Contains(text, tt.want) {
				t.Errorf("plan does not use %s:\n%s", tt.want, text)
			}
			for _, bad := range []string{"SCAN activities", "SCAN sessions", "USE TEMP B-TREE"} {
				if strings.Contains(text, bad) {
					t.Errorf("plan has %q:\n%s", bad, text)
				}
			}
			t.Logf("%s:\n%s", tt.name, text)
		})
	}
}
