package postgres_test

import (
	"context"
	"testing"

	"github.com/kycreview/kycreview/internal/postgres"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/storetest"
)

// TestAuditMigration: migration 0005 chains the rows already stored.
func TestAuditMigration(t *testing.T) {
	pgtest.Require(t)
	db, url := openURL(t)
	reopen := func(t *testing.T) service.Store {
		db, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	storetest.AuditMigration(t, storetest.Backend{Exec: exec}, db, reopen)
}
