package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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
	// A destination, so the review below also queues a delivery.
	now := time.Now()
	dest := kycreview.Destination{ID: uuid.NewString(), ApplicationID: created.Application.ID, Label: "hook",
		URL: "https://hooks.example.com", WebhookVersion: kycreview.DefaultWebhookVersion, Enabled: true,
		SubscribedEvents: []string{kycreview.EventStatusUpdated}, Secret: kycreview.NewDestinationSecret(), CreatedAt: now, UpdatedAt: now}
	if err := app.WriteTx(ctx, func(tx service.Tx) error { return tx.CreateDestination(ctx, &dest) }); err != nil {
		t.Fatalf("create a destination as the service role: %v", err)
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
	deliverAsRole(t, app, dest)
	idempotencyAsRole(t, app, key.ID)

	for _, q := range []string{
		"UPDATE activities SET comment = 'forged'",
		"DELETE FROM activities",
		"TRUNCATE activities",
		"ALTER TABLE activities DISABLE TRIGGER USER",
		"DROP TRIGGER activities_no_update_delete ON activities",
		"UPDATE webhook_attempts SET error = 'forged'",
		"DELETE FROM webhook_attempts",
		"TRUNCATE webhook_attempts",
		"DELETE FROM webhook_deliveries",
		"DELETE FROM webhook_destinations",
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

// deliverAsRole runs the dispatcher's and the delivery log's storage calls
// as the service role: claim, record a failure that disables the
// destination, list, resend, and delete the destination.
func deliverAsRole(t *testing.T, app *postgres.DB, dest kycreview.Destination) {
	t.Helper()
	ctx := context.Background()
	later := time.Now().Add(time.Hour)
	err := app.WriteTx(ctx, func(tx service.Tx) error {
		claimed, err := tx.ClaimDeliveries(ctx, later, later.Add(time.Minute), "claim", 10)
		if err != nil {
			return err
		}
		if len(claimed) == 0 {
			return errors.New("the review queued no delivery")
		}
		c := claimed[0]
		c.State, c.Attempts, c.CompletedAt = kycreview.DeliveryFailed, 1, &later
		a := kycreview.Attempt{ID: uuid.NewString(), Number: 1, StartedAt: later, Error: "refused"}
		if moved, err := tx.RecordAttempt(ctx, c, &a, later.Add(time.Second)); err != nil || !moved {
			return fmt.Errorf("RecordAttempt: moved %v, %w", moved, err)
		}
		if _, _, err := tx.ListDeliveries(ctx, dest.PK, 10, 0); err != nil {
			return err
		}
		if _, err := tx.RequeueDelivery(ctx, dest.PK, c.ID, later); err != nil {
			return err
		}
		d, err := tx.FindDestination(ctx, dest.ApplicationID, dest.ID)
		if err != nil {
			return err
		}
		if d.DisabledAt == nil {
			t.Errorf("the failing destination was not disabled: %+v", d)
		}
		d.DeletedAt = &later
		return tx.UpdateDestination(ctx, d)
	})
	if err != nil {
		t.Fatalf("webhook delivery as the service role: %v", err)
	}
}

// idempotencyAsRole records an idempotency key, replaces it once expired,
// reads it and purges it, as the service role.
func idempotencyAsRole(t *testing.T, app *postgres.DB, apiKeyID string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	rec := service.IdempotencyRecord{APIKeyID: apiKeyID, Key: "k", Fingerprint: "POST /v3/session sha256:00",
		Response: service.Response{Status: 201, Header: map[string]string{"Content-Type": "application/json"}, Body: []byte("{}")}, CreatedAt: now}
	err := app.WriteTx(ctx, func(tx service.Tx) error {
		for _, r := range []service.IdempotencyRecord{rec, {APIKeyID: apiKeyID, Key: "k", Fingerprint: "again", CreatedAt: now.Add(time.Hour)}} {
			if stored, err := tx.InsertIdempotencyRecord(ctx, r, now.Add(time.Minute)); err != nil || !stored {
				return fmt.Errorf("InsertIdempotencyRecord: stored %v, %w", stored, err)
			}
		}
		if _, err := tx.FindIdempotencyRecord(ctx, apiKeyID, "k"); err != nil {
			return err
		}
		if n, err := tx.DeleteIdempotencyRecords(ctx, now.Add(2*time.Hour), 10); err != nil || n != 1 {
			return fmt.Errorf("DeleteIdempotencyRecords: %d, %w", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("idempotency keys as the service role: %v", err)
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
