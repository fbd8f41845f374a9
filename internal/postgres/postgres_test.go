package postgres_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/postgres"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/storetest"
)

// open returns a store on a fresh database, closed before the database is
// dropped.
func open(t *testing.T) *postgres.DB {
	t.Helper()
	db, _ := openURL(t)
	return db
}

// openURL is open that also returns the database's URL, for tests that
// look at it from outside the store.
func openURL(t *testing.T) (*postgres.DB, string) {
	t.Helper()
	url := pgtest.URL(t)
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, url
}

func exec(ctx context.Context, s service.Store, query string) error {
	return s.(*postgres.DB).ExecRaw(ctx, query)
}

func TestConformance(t *testing.T) {
	pgtest.Require(t)
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) service.Store { return open(t) },
		Exec: exec,
	})
}

// TestConformanceLinguisticCollation runs the suite again with the feed's
// text columns in a natural-language collation, as on a database created
// with, say, en_US.UTF-8: the feed must still order text byte by byte, as
// SQLite does.
func TestConformanceLinguisticCollation(t *testing.T) {
	pgtest.Require(t)
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) service.Store {
			db, url := openURL(t)
			ctx := context.Background()
			var icu bool
			if err := scalar(ctx, url, `SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')`, &icu); err != nil {
				t.Fatal(err)
			}
			if !icu {
				t.Skip("the server has no ICU collations")
			}
			var cols []string
			for _, c := range []string{"activity_type", "actor_display", "actor_email", "actor_type", "new_status", "previous_status", "comment"} {
				cols = append(cols, "ALTER COLUMN "+c+` TYPE text COLLATE "und-x-icu"`)
			}
			if err := db.ExecRaw(ctx, "ALTER TABLE activities "+strings.Join(cols, ", ")); err != nil {
				t.Fatalf("alter collation: %v", err)
			}
			return db
		},
		Exec: exec,
	})
}

// TestConcurrentStarts opens several stores on one new database at once, as
// replicas starting together do: the advisory lock makes them apply each
// migration once, and every one of them opens.
func TestConcurrentStarts(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = postgres.Open(ctx, url)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
			continue
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if t.Failed() {
		return
	}
	var applied int
	if err := scalar(ctx, url, `SELECT count(*) FROM schema_migrations`, &applied); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(files) {
		t.Errorf("schema_migrations has %d rows, want one per migration (%d)", applied, len(files))
	}
	// A restart applies nothing.
	if err := dbs[0].Migrate(ctx); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
}

// TestTruncateRefused checks the statement triggers that guard the feed and
// the webhook attempt log against TRUNCATE, which row triggers do not see,
// including one that cascades from another table.
func TestTruncateRefused(t *testing.T) {
	db, ctx := open(t), context.Background()
	for _, q := range []string{"TRUNCATE activities", "TRUNCATE activities CASCADE", "TRUNCATE sessions CASCADE",
		"TRUNCATE webhook_attempts", "TRUNCATE webhook_deliveries CASCADE"} {
		if err := db.ExecRaw(ctx, q); err == nil {
			t.Errorf("%s: the database accepted it", q)
		}
	}
}

// TestIDSpellings checks that lookups by an id that is not a stored id's
// spelling find nothing, as on SQLite, instead of failing the uuid cast or
// matching through PostgreSQL's lenient uuid input.
func TestIDSpellings(t *testing.T) {
	db, ctx := open(t), context.Background()
	app := kycreview.Application{ID: uuid.NewString(), Name: "a", CreatedAt: time.Now()}
	w := kycreview.Workflow{ID: uuid.NewString(), ApplicationID: app.ID, Kind: kycreview.KindUser, Name: "kyc", CreatedAt: time.Now()}
	err := db.WriteTx(ctx, func(tx service.Tx) error {
		if err := tx.CreateApplication(ctx, app); err != nil {
			return err
		}
		return tx.CreateWorkflow(ctx, w)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"not-a-uuid", "", strings.ToUpper(w.ID), "{" + w.ID + "}", strings.ReplaceAll(w.ID, "-", "")} {
		err := db.ReadTx(ctx, func(tx service.Tx) error {
			_, err := tx.FindWorkflow(ctx, app.ID, id)
			return err
		})
		if code := kycreview.ErrorCode(err); code != kycreview.ENOTFOUND {
			t.Errorf("FindWorkflow(%q): code %q (%v), want %q", id, code, err, kycreview.ENOTFOUND)
		}
	}
	err = db.WriteTx(ctx, func(tx service.Tx) error { return tx.RevokeAPIKey(ctx, "nope", time.Now()) })
	if code := kycreview.ErrorCode(err); code != kycreview.ENOTFOUND {
		t.Errorf("RevokeAPIKey(nope): code %q (%v)", code, err)
	}
}

// TestConnectionLossIsUnavailable ends the server process behind an open
// transaction, as a restart or failover does: the error must say the
// database is unavailable, not be an internal error.
func TestConnectionLossIsUnavailable(t *testing.T) {
	db, url := openURL(t)
	ctx := context.Background()
	err := db.ReadTx(ctx, func(tx service.Tx) error {
		// Every backend on the database but the killer's own, which FILTER
		// leaves out before the call (a WHERE clause would not promise the
		// order); the timeout argument makes it wait until they have exited.
		var killed int
		if err := scalar(ctx, url, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`, &killed); err != nil {
			t.Fatal(err)
		}
		if killed == 0 {
			t.Fatal("no backend was terminated")
		}
		_, err := tx.CountApplications(ctx)
		return err
	})
	if code := kycreview.ErrorCode(err); code != kycreview.EUNAVAILABLE {
		t.Errorf("query after the backend ended: code %q (%v), want %q", code, err, kycreview.EUNAVAILABLE)
	}
	// The pool replaces the dead connection.
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping after reconnect: %v", err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there, so the connection is refused.
	_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5")
	if code := kycreview.ErrorCode(err); code != kycreview.EUNAVAILABLE {
		t.Errorf("Open on a closed port: code %q (%v), want %q", code, err, kycreview.EUNAVAILABLE)
	}
	_, err = postgres.Open(ctx, "postgres://user:s3cret@host:notaport/db")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open with a bad URL: %v", err)
	}
}

// scalar reads one value over a connection of its own, outside any store.
func scalar(ctx context.Context, url, query string, dst any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, query).Scan(dst)
}
