package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/postgres"
	"github.com/kycreview/kycreview/internal/service"
)

// TestLeastPrivilegeRole applies docs/least-privilege.sql (the file the
// README points operators to), runs the service as that role through a
// whole review, and checks the role itself cannot change the feed: the
// database refuses it for lack of privilege, before any trigger runs.
func TestLeastPrivilegeRole(t *testing.T) {
	ctx := context.Background()
	owner, ownerURL := openURL(t) // migrates as the owner
	script, err := os.ReadFile("../../docs/least-privilege.sql")
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	role := "kycreview_app_" + hex.EncodeToString(b[:]) // roles are cluster-wide
	sql := strings.ReplaceAll(string(script), "kycreview_app", role)
	for _, stmt := range strings.Split(sql, ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if err := owner.ExecRaw(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		// Runs before the database is dropped (cleanups run last-in first-out).
		_ = owner.ExecRaw(ctx, "DROP OWNED BY "+role)
		_ = owner.ExecRaw(ctx, "DROP ROLE "+role)
	})

	u, err := url.Parse(ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "change-me")
	app, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("open as %s: %v", role, err)
	}
	defer app.Close()

	svc := service.New(app, nil)
	created, err := svc.CreateApplication(ctx, "Acme")
	if err != nil {
		t.Fatalf("create application as the service role: %v", err)
	}
	if _, err := svc.CreateConsoleUser(ctx, created.Application.ID, "ana@example.com", "Ana"); err != nil {
		t.Fatal(err)
	}
	key, err := svc.Authenticate(ctx, created.Token)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := svc.CreateSession(ctx, key, service.SessionInput{WorkflowID: created.Workflows[kycreview.KindUser].ID})
	if err != nil {
		t.Fatal(err)
	}
	comment := "checked, @ana@example.com"
	approved := kycreview.StatusApproved
	if _, err := svc.Review(ctx, key, sess.ID, kycreview.Change{NewStatus: &approved, Comment: &comment}, nil); err != nil {
		t.Fatalf("review as the service role: %v", err)
	}
	if err := svc.DeleteSession(ctx, key, sess.ID); err != nil {
		t.Fatalf("delete as the service role: %v", err)
	}

	for _, q := range []string{
		"UPDATE activities SET comment = 'forged'",
		"DELETE FROM activities",
		"TRUNCATE activities",
		"ALTER TABLE activities DISABLE TRIGGER USER",
		"DROP TRIGGER activities_no_update_delete ON activities",
	} {
		err := app.ExecRaw(ctx, q)
		var pgErr *pgconn.PgError
		// 42501 is insufficient_privilege, which "must be owner" also uses.
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s as the service role: %v, want permission denied (42501)", q, err)
		}
	}
	var n int
	if err := scalar(ctx, ownerURL, "SELECT count(*) FROM activities WHERE comment = 'checked, @ana@example.com'", &n); err != nil || n != 1 {
		t.Errorf("the feed row after the attempts: count %d, %v", n, err)
	}
}

// stripComments drops -- comment lines from a SQL fragment.
func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
