package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
	"github.com/kycreview/kycreview/internal/storetest"
)

// TestAuditMigration: migration 0005 chains the rows already stored.
func TestAuditMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kycreview.db")
	reopen := func(t *testing.T) service.Store {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	storetest.AuditMigration(t, storetest.Backend{
		Exec: func(ctx context.Context, s service.Store, query string) error {
			return s.(*sqlite.DB).ExecRaw(ctx, query)
		},
	}, reopen(t), reopen)
}
