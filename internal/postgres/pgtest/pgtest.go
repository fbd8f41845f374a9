// Package pgtest gives tests a fresh PostgreSQL database of their own. It is
// imported only by tests, so its helpers never reach the kycreview binary.
//
// The server comes from the environment variable named by EnvURL, the URL of
// a role allowed to create databases. When it is unset, tests that need
// PostgreSQL are skipped with a note on how to run them, except under CI
// (CI=true), where they fail: a CI run that silently skipped the PostgreSQL
// suite would report a success it never checked.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable holding the admin connection URL.
const EnvURL = "KYCREVIEW_TEST_POSTGRES"

// Example is a value of EnvURL for a local server with trust authentication.
const Example = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// URL creates an empty database named kycreview_test_<random> and returns
// its URL; the database is dropped, connections and all, when the test and
// its subtests end. Stores opened on it should be closed in a t.Cleanup
// registered after URL returns, so they close before the drop.
func URL(t testing.TB) string {
	t.Helper()
	admin := Require(t)
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", EnvURL)
	}

	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	name := "kycreview_test_" + hex.EncodeToString(b[:])
	// The name is ours (letters, digits and underscores), so quoting it as an
	// identifier is all the escaping it needs.
	ident := pgx.Identifier{name}.Sanitize()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := exec(ctx, admin, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends connections a test left open (PostgreSQL 13+).
		if err := exec(ctx, admin, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})

	db := *u
	db.Path = "/" + name
	db.RawPath = ""
	return db.String()
}

// Require returns the admin URL from EnvURL. When it is unset, it skips t
// with a note on how to run the PostgreSQL tests, or fails t under CI. A test
// that runs a suite of subtests, each calling URL, calls it first so the
// note is printed once.
func Require(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests (e.g. %s=%s)", EnvURL, EnvURL, Example)
		}
		t.Skipf("PostgreSQL tests skipped: %s is not set. Run them with\n\t%s=%s go test ./...", EnvURL, EnvURL, Example)
	}
	return admin
}

// exec runs one statement on a short-lived admin connection. CREATE and
// DROP DATABASE cannot run in a transaction, so there is no pool or
// transaction around it.
func exec(ctx context.Context, admin, stmt string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}

// AnnounceSkip tells the person at the terminal that the PostgreSQL tests
// will be skipped, and how to run them. A plain `go test ./...` shows no
// output of packages that pass, skip messages included, so without this a
// newcomer would never learn that part of the suite did not run. It writes
// to the controlling terminal only: CI has none (and fails instead of
// skipping), and redirected output stays clean.
func AnnounceSkip() {
	if os.Getenv(EnvURL) != "" || os.Getenv("CI") == "true" {
		return
	}
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer tty.Close()
	_, _ = tty.WriteString("kycreview: the PostgreSQL tests were skipped (" + EnvURL + " is not set). Run them with\n\t" +
		EnvURL + "=" + Example + " go test ./...\n")
}
