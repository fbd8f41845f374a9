package sqlite_test

import (
	"context"
	"os"
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

// TestPathIsNotURISyntax: a file name is used as given, even when it holds
// characters SQLite's URI names give a meaning to.
func TestPathIsNotURISyntax(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a%41b?c#d.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := os.Stat(path); err != nil {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("database not at %q: %v (the folder holds %v)", path, err, names)
	}
}
