package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
	"github.com/kycreview/kycreview/internal/storetest"
)

func open(t *testing.T) service.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kycreview.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: open,
		Exec: func(ctx context.Context, s service.Store, query string) error {
			return s.(*sqlite.DB).ExecRaw(ctx, query)
		},
	})
}
