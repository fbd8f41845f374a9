package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

func webhookBacklog(t *testing.T, s service.Store) kycreview.WebhookBacklog {
	t.Helper()
	var b kycreview.WebhookBacklog
	read(t, s, func(tx service.Tx) error {
		var err error
		b, err = tx.WebhookBacklog(context.Background())
		return err
	})
	return b
}

// testWebhookBacklog: the backlog counts pending deliveries, retries
// included, of every application; those of inactive destinations apart,
// since nothing will send them; and dates the oldest owed one.
func testWebhookBacklog(t *testing.T, b Backend) {
	s := b.Open(t)
	check := func(step string, want kycreview.WebhookBacklog) {
		t.Helper()
		if diff := cmp.Diff(want, webhookBacklog(t, s)); diff != "" {
			t.Errorf("%s: backlog (-want +got):\n%s", step, diff)
		}
	}
	check("empty", kycreview.WebhookBacklog{})

	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	one := newDestination(t, s, a, "https://one.example.com/", nil)
	two := newDestination(t, s, a, "https://two.example.com/", nil)
	three := newDestination(t, s, other, "https://three.example.com/", nil)
	s1, s2, s3 := a.newSession(t, s, kycreview.KindUser), a.newSession(t, s, kycreview.KindUser), other.newSession(t, s, kycreview.KindUser)
	check("no events", kycreview.WebhookBacklog{})
	queueEvent(t, s, s1, kycreview.EventStatusUpdated, epoch)                    // one, two
	queueEvent(t, s, s2, kycreview.EventStatusUpdated, epoch.Add(time.Minute))   // one, two
	queueEvent(t, s, s3, kycreview.EventStatusUpdated, epoch.Add(2*time.Minute)) // three
	check("queued", kycreview.WebhookBacklog{Pending: 5, OldestPendingAt: ptr(epoch)})

	// A success leaves the backlog; a failure that will be retried (and a
	// claim) does not.
	now := epoch.Add(3 * time.Minute)
	claimed := map[[2]int64]kycreview.ClaimedDelivery{}
	for _, c := range claim(t, s, now, "mine", 10) {
		claimed[[2]int64{c.DestinationPK, c.SessionPK}] = c
	}
	if len(claimed) != 5 {
		t.Fatalf("claimed %d deliveries, want 5", len(claimed))
	}
	if moved, _ := succeed(t, s, claimed[[2]int64{one.PK, s1.PK}], now); !moved {
		t.Fatal("success not recorded")
	}
	if moved, _ := succeed(t, s, claimed[[2]int64{three.PK, s3.PK}], now); !moved {
		t.Fatal("success not recorded")
	}
	next := now.Add(time.Hour)
	if moved, _ := retry(t, s, claimed[[2]int64{one.PK, s2.PK}], now, next, time.Time{}); !moved {
		t.Fatal("retry not recorded")
	}
	check("one sent, one retrying", kycreview.WebhookBacklog{Pending: 3, OldestPendingAt: ptr(epoch)})

	// A paused destination's deliveries are held, not owed.
	two.Enabled = false
	updateDestination(t, s, two)
	check("destination paused", kycreview.WebhookBacklog{Pending: 1, OldestPendingAt: ptr(epoch.Add(time.Minute)), Held: 2})

	// A delivery that gives up leaves the backlog too.
	c := claim(t, s, next, "again", 10)
	if len(c) != 1 || c[0].DestinationPK != one.PK {
		t.Fatalf("claimed %+v, want one's retry", c)
	}
	if moved, _ := fail(t, s, c[0], next); !moved {
		t.Fatal("failure not recorded")
	}
	check("retry failed", kycreview.WebhookBacklog{Held: 2})

	// Resumed, the destination's deliveries are owed again.
	two.Enabled = true
	updateDestination(t, s, two)
	check("destination resumed", kycreview.WebhookBacklog{Pending: 2, OldestPendingAt: ptr(epoch)})
}
