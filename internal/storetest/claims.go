package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// claim claims up to limit deliveries at now for lease under token.
func claim(t *testing.T, s service.Store, now time.Time, token string, limit int) []kycreview.ClaimedDelivery {
	t.Helper()
	var out []kycreview.ClaimedDelivery
	write(t, s, func(tx service.Tx) error {
		var err error
		out, err = tx.ClaimDeliveries(context.Background(), now, now.Add(lease), token, limit)
		return err
	})
	return out
}

// claimedEvents names claimed deliveries by their event's id.
func claimedEvents(cs []kycreview.ClaimedDelivery) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.EventID)
	}
	return out
}

func testClaimDeliveries(t *testing.T, b Backend) {
	s := b.Open(t)
	a := newFixture(t, s, "a")
	dest := newDestination(t, s, a, "https://hooks.example.com/", nil)
	s1, s2 := a.newSession(t, s, kycreview.KindUser), a.newSession(t, s, kycreview.KindUser)
	e1 := queueEvent(t, s, s1, kycreview.EventStatusUpdated, epoch)
	e2 := queueEvent(t, s, s1, kycreview.EventStatusUpdated, epoch.Add(time.Second))
	e3 := queueEvent(t, s, s2, kycreview.EventStatusUpdated, epoch.Add(2*time.Second))

	if got := claim(t, s, epoch.Add(-time.Microsecond), "early", 10); len(got) != 0 {
		t.Errorf("claimed before anything was due: %v", claimedEvents(got))
	}
	// Due, in order of due time; e2 waits for e1, first of its session.
	now := epoch.Add(time.Minute)
	first := claim(t, s, now, "one", 10)
	if diff := cmp.Diff([]string{e1.ID, e3.ID}, claimedEvents(first)); diff != "" {
		t.Fatalf("first claim (-want +got):\n%s", diff)
	}
	log := deliveriesOf(t, s, dest.PK) // e3, e2, e1
	want := kycreview.ClaimedDelivery{Delivery: log[2], Claim: "one", ClaimedUntil: now.Add(lease), URL: dest.URL, Secret: dest.Secret}
	if diff := cmp.Diff(want, first[0], cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("claimed delivery (-want +got):\n%s", diff)
	}
	if c := first[1]; c.SessionID != s2.ID || c.SessionPK != e3.SessionPK || c.EventType != kycreview.EventStatusUpdated {
		t.Errorf("second claimed delivery: %+v", c)
	}

	// A live claim is not taken again, up to its last microsecond.
	if got := claim(t, s, now.Add(lease-time.Microsecond), "two", 10); len(got) != 0 {
		t.Errorf("claimed under live claims: %v", claimedEvents(got))
	}
	// An expired one is: its dispatcher is presumed dead. The limit holds.
	later := now.Add(lease)
	again := claim(t, s, later, "three", 1)
	if diff := cmp.Diff([]string{e1.ID}, claimedEvents(again)); diff != "" {
		t.Fatalf("claim after expiry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{e3.ID}, claimedEvents(claim(t, s, later, "four", 10))); diff != "" {
		t.Errorf("second claim after expiry (-want +got):\n%s", diff)
	}
	// When the head of the chain succeeds, the next event is due.
	if moved, _ := succeed(t, s, again[0], later); !moved {
		t.Fatal("the success under the current claim was not applied")
	}
	if diff := cmp.Diff([]string{e2.ID}, claimedEvents(claim(t, s, later, "five", 10))); diff != "" {
		t.Errorf("claim after the head succeeded (-want +got):\n%s", diff)
	}

	// A head that is waiting for its next attempt still holds its chain
	// back; one that finally failed releases it.
	s3 := a.newSession(t, s, kycreview.KindUser)
	e4 := queueEvent(t, s, s3, kycreview.EventStatusUpdated, later)
	e5 := queueEvent(t, s, s3, kycreview.EventStatusUpdated, later)
	head := claim(t, s, later, "six", 10)
	if diff := cmp.Diff([]string{e4.ID}, claimedEvents(head)); diff != "" {
		t.Fatalf("claim of a new session (-want +got):\n%s", diff)
	}
	next := later.Add(5 * time.Minute)
	if moved, _ := retry(t, s, head[0], later, next, time.Time{}); !moved {
		t.Fatal("the retry was not applied")
	}
	if got := claim(t, s, next.Add(-time.Microsecond), "seven", 10); len(got) != 0 {
		t.Errorf("claimed while the head waits for its retry: %v", claimedEvents(got))
	}
	head = claim(t, s, next, "eight", 10)
	if diff := cmp.Diff([]string{e4.ID}, claimedEvents(head)); diff != "" {
		t.Fatalf("claim of the retry (-want +got):\n%s", diff)
	}
	if head[0].Attempts != 1 || !head[0].NextAttemptAt.Equal(next) {
		t.Errorf("retried delivery: attempts %d, next %v", head[0].Attempts, head[0].NextAttemptAt)
	}
	if moved, _ := fail(t, s, head[0], next); !moved {
		t.Fatal("the final failure was not applied")
	}
	if diff := cmp.Diff([]string{e5.ID}, claimedEvents(claim(t, s, next, "nine", 10))); diff != "" {
		t.Errorf("claim after the head failed (-want +got):\n%s", diff)
	}
}

// testClaimPerDestination checks that each destination has its own chain
// for a session, and that only active destinations' deliveries are claimed.
func testClaimPerDestination(t *testing.T, b Backend) {
	s := b.Open(t)
	a := newFixture(t, s, "a")
	fast := newDestination(t, s, a, "https://fast.example.com", nil)
	slow := newDestination(t, s, a, "https://slow.example.com", nil)
	off := newDestination(t, s, a, "https://off.example.com", nil)
	disabled := newDestination(t, s, a, "https://disabled.example.com", nil)
	deleted := newDestination(t, s, a, "https://deleted.example.com", nil)
	sess := a.newSession(t, s, kycreview.KindUser)
	e1 := queueEvent(t, s, sess, kycreview.EventStatusUpdated, epoch)
	e2 := queueEvent(t, s, sess, kycreview.EventStatusUpdated, epoch.Add(time.Second))
	// Switched off after the events were queued.
	off.Enabled = false
	disabled.DisabledAt = ptr(epoch)
	deleted.DeletedAt = ptr(epoch)
	for _, d := range []kycreview.Destination{off, disabled, deleted} {
		updateDestination(t, s, d)
	}

	now := epoch.Add(time.Minute)
	got := claim(t, s, now, "one", 10)
	byDest := map[int64][]string{}
	for _, c := range got {
		byDest[c.DestinationPK] = append(byDest[c.DestinationPK], c.EventID)
	}
	if diff := cmp.Diff(map[int64][]string{fast.PK: {e1.ID}, slow.PK: {e1.ID}}, byDest); diff != "" {
		t.Fatalf("claim (-want +got):\n%s", diff)
	}
	for _, c := range got {
		if c.DestinationPK == fast.PK {
			if moved, _ := succeed(t, s, c, now); !moved {
				t.Fatal("success not applied")
			}
		}
	}
	// fast's chain moved on; slow's first event is still under its claim.
	got = claim(t, s, now, "two", 10)
	if len(got) != 1 || got[0].DestinationPK != fast.PK || got[0].EventID != e2.ID {
		t.Errorf("claim after fast's success: %+v", got)
	}

	// Enabled again, a destination gets its waiting deliveries.
	off.Enabled = true
	updateDestination(t, s, off)
	got = claim(t, s, now, "three", 10)
	if len(got) != 1 || got[0].DestinationPK != off.PK || got[0].EventID != e1.ID {
		t.Errorf("claim after enabling a destination: %+v", got)
	}
}

// testConcurrentClaims claims from several goroutines at once: no delivery
// is handed to two claimers, and none is left behind. On PostgreSQL the
// claims run in parallel (SKIP LOCKED); on SQLite one after another.
func testConcurrentClaims(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	for i := range 4 {
		newDestination(t, s, a, fmt.Sprintf("https://%d.example.com", i), nil)
	}
	const sessions = 10
	for range sessions {
		queueEvent(t, s, a.newSession(t, s, kycreview.KindUser), kycreview.EventStatusUpdated, epoch)
	}
	now := epoch.Add(time.Minute)
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := fmt.Sprintf("claimer-%d", g)
			for {
				var got []kycreview.ClaimedDelivery
				err := s.WriteTx(ctx, func(tx service.Tx) error {
					var err error
					got, err = tx.ClaimDeliveries(ctx, now, now.Add(lease), token, 3)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					if prev, ok := seen[c.PK]; ok {
						t.Errorf("delivery %d claimed by %s and %s", c.PK, prev, c.Claim)
					}
					seen[c.PK] = c.Claim
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("ClaimDeliveries: %v", err)
	}
	if rest := claim(t, s, now, "last", 100); len(rest) != 0 {
		t.Errorf("%d deliveries left unclaimed after every claimer stopped", len(rest))
	}
	if len(seen) != 4*sessions {
		t.Errorf("%d deliveries claimed, want %d", len(seen), 4*sessions)
	}
}
