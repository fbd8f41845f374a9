package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/postgres"
	"github.com/kycreview/kycreview/internal/service"
)

// TestClaimSkipsLocked holds one replica's claim open (its rows locked, its
// claim not yet committed) while another claims: the second neither waits
// for the first nor takes what it is claiming, nor the next event of that
// session, whose head it sees as still pending. The conformance suite
// cannot hold a transaction open like this: SQLite's second writer would
// wait for the first.
func TestClaimSkipsLocked(t *testing.T) {
	db, ctx := open(t), context.Background()
	at := time.Date(2026, 6, 12, 0, 0, 0, 0, time.UTC)
	// Session 0 has two events, session 1 one.
	events := queueForClaims(t, db, at, 2, 1)

	now := at.Add(time.Minute)
	claimed := make(chan []kycreview.ClaimedDelivery, 1)
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.WriteTx(ctx, func(tx service.Tx) error {
			got, err := tx.ClaimDeliveries(ctx, now, now.Add(time.Minute), "first", 1)
			if err != nil {
				return err
			}
			claimed <- got
			<-release
			return nil
		})
	}()
	var first []kycreview.ClaimedDelivery
	select {
	case first = <-claimed:
	case err := <-done:
		t.Fatalf("first claim: %v", err)
	}
	if len(first) != 1 || first[0].EventID != events[0][0] {
		close(release)
		t.Fatalf("first claim: %+v, want session 0's first event", first)
	}

	// Without SKIP LOCKED the second claim would wait for the first to end,
	// which waits for the second: the timeout turns that into a failure
	// instead of a hung test.
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var second []kycreview.ClaimedDelivery
	err := db.WriteTx(waitCtx, func(tx service.Tx) error {
		var err error
		second, err = tx.ClaimDeliveries(waitCtx, now, now.Add(time.Minute), "second", 10)
		return err
	})
	close(release)
	if err != nil {
		t.Fatalf("second claim while the first is open: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("first claim's commit: %v", err)
	}
	var got []string
	for _, c := range second {
		got = append(got, c.EventID)
	}
	if diff := cmp.Diff([]string{events[1][0]}, got); diff != "" {
		t.Errorf("second claim (-want +got):\n%s", diff)
	}
}

// queueForClaims stores an application with one destination and a session
// per element of perSession, each with that many status events at the
// given time, and returns the events' ids by session.
func queueForClaims(t *testing.T, db *postgres.DB, at time.Time, perSession ...int) [][]string {
	t.Helper()
	ctx := context.Background()
	app := kycreview.Application{ID: uuid.NewString(), Name: "a", CreatedAt: at}
	w := kycreview.Workflow{ID: uuid.NewString(), ApplicationID: app.ID, Kind: kycreview.KindUser, Name: "kyc", CreatedAt: at}
	dest := kycreview.Destination{ID: uuid.NewString(), ApplicationID: app.ID, Label: "hook", URL: "https://hooks.example.com",
		WebhookVersion: kycreview.DefaultWebhookVersion, Enabled: true, SubscribedEvents: []string{kycreview.EventStatusUpdated},
		Secret: kycreview.NewDestinationSecret(), CreatedAt: at, UpdatedAt: at}
	var ids [][]string
	err := db.WriteTx(ctx, func(tx service.Tx) error {
		if err := tx.CreateApplication(ctx, app); err != nil {
			return err
		}
		if err := tx.CreateWorkflow(ctx, w); err != nil {
			return err
		}
		if err := tx.CreateDestination(ctx, &dest); err != nil {
			return err
		}
		for _, n := range perSession {
			s := kycreview.Session{ID: uuid.NewString(), ApplicationID: app.ID, WorkflowID: w.ID, Kind: kycreview.KindUser,
				Status: kycreview.StatusNotStarted, CreatedAt: at}
			if err := tx.CreateSession(ctx, &s); err != nil {
				return err
			}
			var sessionIDs []string
			for seq := 1; seq <= n; seq++ {
				a := kycreview.Activity{ID: uuid.NewString(), SessionPK: s.PK, Seq: int64(seq), Type: kycreview.ActivityComment,
					Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: at}
				if err := tx.InsertActivity(ctx, &a); err != nil {
					return err
				}
				e := kycreview.OutboxEvent{ID: uuid.NewString(), ApplicationID: app.ID, SessionPK: s.PK, Seq: a.Seq,
					Type: kycreview.EventStatusUpdated, CreatedAt: at}
				if err := tx.InsertOutboxEvent(ctx, &e); err != nil {
					return err
				}
				sessionIDs = append(sessionIDs, e.ID)
			}
			ids = append(ids, sessionIDs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
