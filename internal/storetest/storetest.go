// Package storetest is the conformance suite every kycreview storage backend
// must pass: each backend's tests call Run with a way to open a fresh store.
// It checks the behaviours the service relies on (numbering, visibility,
// ordering, locking, atomicity, the append-only feed), not SQL text.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// Backend describes a storage backend under test.
type Backend struct {
	// Open returns an empty, migrated store that lives as long as t.
	Open func(t *testing.T) service.Store
	// Exec runs raw SQL on the store's database, bypassing the service, as
	// someone with direct database access would.
	Exec func(ctx context.Context, s service.Store, query string) error
}

// Run runs the whole suite against b.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"Applications", testApplications},
		{"Workflows", testWorkflows},
		{"APIKeys", testAPIKeys},
		{"ConsoleUsers", testConsoleUsers},
		{"SessionNumbering", testSessionNumbering},
		{"SessionVisibility", testSessionVisibility},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"ListSessions", testListSessions},
		{"ActivityRoundTrip", testActivityRoundTrip},
		{"FeedOrdering", testFeedOrdering},
		{"FeedPaging", testFeedPaging},
		{"FeedPage", testFeedPage},
		{"StatusActivities", testStatusActivities},
		{"DuplicateSeq", testDuplicateSeq},
		{"AppendOnly", testAppendOnly},
		{"Rollback", testRollback},
		{"ReadOutsideTransaction", testRead},
		{"LockSerialises", testLockSerialises},
		{"OutboxAndNotifications", testOutboxAndNotifications},
		{"Destinations", testDestinations},
		{"DestinationURLs", testDestinationURLs},
		{"FanOut", testFanOut},
		{"ClaimDeliveries", testClaimDeliveries},
		{"ClaimPerDestination", testClaimPerDestination},
		{"ConcurrentClaims", testConcurrentClaims},
		{"RecordAttempt", testRecordAttempt},
		{"AttemptText", testAttemptText},
		{"ListDeliveries", testListDeliveries},
		{"RequeueDelivery", testRequeueDelivery},
		{"AttemptsAppendOnly", testAttemptsAppendOnly},
		{"WebhookBacklog", testWebhookBacklog},
		{"AuditChainRoundTrip", testAuditChainRoundTrip},
		{"AuditCheckpoints", testCheckpoints},
		{"AuditProof", testProof},
		{"AuditAttacks", testAuditAttacks},
		{"AuditCheckpointCatchesTruncation", testAuditCheckpointCatchesTruncation},
		// Console users and notification delivery (notify.go).
		{"ConsoleUserAdmin", testConsoleUserAdmin},
		{"ClaimNotifications", testClaimNotifications},
		{"NotificationSkips", testNotificationSkips},
		{"ConcurrentNotificationClaims", testConcurrentNotificationClaims},
		{"Inbox", testInbox},
		// Idempotency keys (idempotency.go).
		{"IdempotencyRecords", testIdempotencyRecords},
		{"IdempotencyAtomic", testIdempotencyAtomic},
		{"IdempotencyConcurrent", testIdempotencyConcurrent},
		{"IdempotencyPurge", testIdempotencyPurge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

// epoch is a fixed, microsecond-precise time base for rows under test.
var epoch = time.Date(2026, 6, 12, 0, 18, 44, 466537000, time.UTC)

// fixture is an application with its two workflows, ready for sessions.
type fixture struct {
	app      kycreview.Application
	user     kycreview.Workflow
	business kycreview.Workflow
}

func write(t *testing.T, s service.Store, fn func(tx service.Tx) error) {
	t.Helper()
	if err := s.WriteTx(context.Background(), fn); err != nil {
		t.Fatalf("WriteTx: %v", err)
	}
}

func read(t *testing.T, s service.Store, fn func(tx service.Tx) error) {
	t.Helper()
	if err := s.ReadTx(context.Background(), fn); err != nil {
		t.Fatalf("ReadTx: %v", err)
	}
}

func newFixture(t *testing.T, s service.Store, name string) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{app: kycreview.Application{ID: uuid.NewString(), Name: name, CreatedAt: epoch}}
	f.user = kycreview.Workflow{ID: uuid.NewString(), ApplicationID: f.app.ID, Kind: kycreview.KindUser, Name: "kyc", CreatedAt: epoch}
	f.business = kycreview.Workflow{ID: uuid.NewString(), ApplicationID: f.app.ID, Kind: kycreview.KindBusiness, Name: "kyb", CreatedAt: epoch}
	write(t, s, func(tx service.Tx) error {
		if err := tx.CreateApplication(ctx, f.app); err != nil {
			return err
		}
		if err := tx.CreateWorkflow(ctx, f.user); err != nil {
			return err
		}
		return tx.CreateWorkflow(ctx, f.business)
	})
	return f
}

func (f fixture) newSession(t *testing.T, s service.Store, kind kycreview.Kind) kycreview.Session {
	t.Helper()
	w := f.user
	if kind == kycreview.KindBusiness {
		w = f.business
	}
	sess := kycreview.Session{
		ID: uuid.NewString(), ApplicationID: f.app.ID, WorkflowID: w.ID, Kind: kind,
		Status: kycreview.StatusNotStarted, CreatedAt: epoch,
	}
	write(t, s, func(tx service.Tx) error { return tx.CreateSession(context.Background(), &sess) })
	return sess
}

// appendRow writes a feed row for sess the way the service does: under the
// session's lock, with the next seq, updating the session's counters.
func appendRow(t *testing.T, s service.Store, sess kycreview.Session, a kycreview.Activity) kycreview.Activity {
	t.Helper()
	ctx := context.Background()
	write(t, s, func(tx service.Tx) error {
		cur, err := tx.LockSession(ctx, sess.ApplicationID, sess.ID)
		if err != nil {
			return err
		}
		a.SessionPK, a.Seq = cur.PK, cur.ActivityCount+1
		if a.ID == "" {
			a.ID = uuid.NewString()
		}
		if err := tx.InsertActivity(ctx, &a); err != nil {
			return err
		}
		cur.ActivityCount, cur.LastActivityAt = a.Seq, a.CreatedAt
		if a.NewStatus != nil {
			cur.Status = *a.NewStatus
		}
		return tx.UpdateSession(ctx, cur)
	})
	return a
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := kycreview.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (err %v), want %q", got, err, code)
	}
}

func ptr[T any](v T) *T { return &v }
