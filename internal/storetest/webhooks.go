package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// lease is how long the tests' claims last: longer than any retry delay
// they schedule, so a delivery due again before its lease ends proves that
// recording the attempt released the claim.
const lease = time.Hour

// newDestination stores a destination of f's application at url: enabled,
// subscribed to status.updated, created at epoch, changed by edit if given.
func newDestination(t *testing.T, s service.Store, f fixture, url string, edit func(*kycreview.Destination)) kycreview.Destination {
	t.Helper()
	d := kycreview.Destination{
		ID: uuid.NewString(), ApplicationID: f.app.ID, Label: "hook", URL: url,
		WebhookVersion: kycreview.DefaultWebhookVersion, Enabled: true,
		SubscribedEvents: []string{kycreview.EventStatusUpdated}, Secret: kycreview.NewDestinationSecret(),
		CreatedAt: epoch, UpdatedAt: epoch,
	}
	if edit != nil {
		edit(&d)
	}
	write(t, s, func(tx service.Tx) error { return tx.CreateDestination(context.Background(), &d) })
	if d.PK == 0 {
		t.Fatalf("CreateDestination assigned no PK: %+v", d)
	}
	return d
}

// queueEvent appends a feed row to sess and queues an event of type typ
// for it, as a review does (in two transactions here; the service uses one).
func queueEvent(t *testing.T, s service.Store, sess kycreview.Session, typ string, at time.Time) kycreview.OutboxEvent {
	t.Helper()
	row := appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityComment,
		Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: at})
	ev := kycreview.OutboxEvent{ID: uuid.NewString(), ApplicationID: sess.ApplicationID, SessionPK: row.SessionPK,
		Seq: row.Seq, Type: typ, CreatedAt: at}
	write(t, s, func(tx service.Tx) error { return tx.InsertOutboxEvent(context.Background(), &ev) })
	return ev
}

func findDestination(t *testing.T, s service.Store, d kycreview.Destination) kycreview.Destination {
	t.Helper()
	var got kycreview.Destination
	read(t, s, func(tx service.Tx) error {
		var err error
		got, err = tx.FindDestination(context.Background(), d.ApplicationID, d.ID)
		return err
	})
	return got
}

func updateDestination(t *testing.T, s service.Store, d kycreview.Destination) {
	t.Helper()
	write(t, s, func(tx service.Tx) error { return tx.UpdateDestination(context.Background(), d) })
}

// deliveriesOf returns all of a destination's deliveries, newest first.
func deliveriesOf(t *testing.T, s service.Store, destPK int64) []kycreview.Delivery {
	t.Helper()
	var out []kycreview.Delivery
	read(t, s, func(tx service.Tx) error {
		var err error
		var count int
		out, count, err = tx.ListDeliveries(context.Background(), destPK, 100, 0)
		if err == nil && count != len(out) {
			t.Errorf("ListDeliveries: count %d for %d deliveries", count, len(out))
		}
		return err
	})
	return out
}

func destinationIDs(ds []kycreview.Destination) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func testDestinations(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	full := newDestination(t, s, a, "https://hooks.example.com/kyc?x=1", func(d *kycreview.Destination) {
		d.Label = "Grüße ✓ \"prod\""
		d.SubscribedEvents = []string{kycreview.EventStatusUpdated, "data.updated"}
		d.Enabled = false
		d.CreatedAt, d.UpdatedAt = epoch.Add(time.Microsecond), epoch.Add(2*time.Microsecond)
		d.FailingSince, d.DisabledAt = ptr(epoch.Add(3*time.Microsecond)), ptr(epoch.Add(4*time.Microsecond))
	})
	// Created at the same time as full: the row order breaks the tie.
	bare := newDestination(t, s, a, "https://b.example.com", func(d *kycreview.Destination) {
		d.SubscribedEvents = []string{}
		d.CreatedAt = epoch.Add(time.Microsecond)
	})
	oldest := newDestination(t, s, a, "https://c.example.com", nil)
	newest := newDestination(t, s, a, "https://d.example.com", func(d *kycreview.Destination) { d.CreatedAt = epoch.Add(time.Second) })
	newDestination(t, s, a, "https://gone.example.com", func(d *kycreview.Destination) { d.DeletedAt = ptr(epoch) })
	newDestination(t, s, other, "https://other.example.com", nil)

	read(t, s, func(tx service.Tx) error {
		for _, want := range []kycreview.Destination{full, bare} {
			got, err := tx.FindDestination(ctx, a.app.ID, want.ID)
			if err != nil {
				return err
			}
			// An empty event list reads back empty, not nil.
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("FindDestination round trip (-want +got):\n%s", diff)
			}
		}
		for _, q := range []struct{ app, id string }{
			{other.app.ID, full.ID},      // another application's
			{a.app.ID, uuid.NewString()}, // unknown
			{a.app.ID, "not-a-uuid"},
			{"not-a-uuid", full.ID},
		} {
			_, err := tx.FindDestination(ctx, q.app, q.id)
			wantCode(t, err, kycreview.ENOTFOUND)
		}
		return nil
	})

	// Oldest first, ties in creation order; deleted destinations and other
	// applications' are neither listed nor counted.
	wantOrder := destinationIDs([]kycreview.Destination{oldest, full, bare, newest})
	var walked []string
	for offset := 0; offset <= 6; offset += 3 {
		read(t, s, func(tx service.Tx) error {
			page, count, err := tx.ListDestinations(ctx, a.app.ID, 3, offset)
			if count != 4 {
				t.Errorf("ListDestinations(offset %d): count %d, want 4", offset, count)
			}
			if page == nil {
				t.Errorf("ListDestinations(offset %d): nil page, want an empty one", offset)
			}
			walked = append(walked, destinationIDs(page)...)
			return err
		})
	}
	if diff := cmp.Diff(wantOrder, walked); diff != "" {
		t.Errorf("ListDestinations pages walked (-want +got):\n%s", diff)
	}
	read(t, s, func(tx service.Tx) error {
		page, count, err := tx.ListDestinations(ctx, "not-a-uuid", 10, 0)
		if len(page) != 0 || count != 0 {
			t.Errorf("ListDestinations(malformed application id) = %d rows, count %d", len(page), count)
		}
		return err
	})

	// UpdateDestination writes every mutable field.
	changed := full
	changed.Label, changed.URL, changed.Enabled = "renamed", "https://hooks.example.com/v2", true
	changed.SubscribedEvents, changed.Secret = []string{}, kycreview.NewDestinationSecret()
	changed.UpdatedAt, changed.FailingSince, changed.DisabledAt = epoch.Add(time.Hour), nil, nil
	updateDestination(t, s, changed)
	if diff := cmp.Diff(changed, findDestination(t, s, full)); diff != "" {
		t.Errorf("after UpdateDestination (-want +got):\n%s", diff)
	}
	streak := changed
	streak.FailingSince, streak.DisabledAt = ptr(epoch.Add(time.Minute)), ptr(epoch.Add(2*time.Minute))
	streak.SubscribedEvents = []string{"data.updated"}
	updateDestination(t, s, streak)
	if diff := cmp.Diff(streak, findDestination(t, s, full)); diff != "" {
		t.Errorf("after UpdateDestination (-want +got):\n%s", diff)
	}

	// Deleting is an update that sets DeletedAt: the destination is gone
	// from the API.
	deleted := streak
	deleted.DeletedAt = ptr(epoch.Add(2 * time.Hour))
	updateDestination(t, s, deleted)
	read(t, s, func(tx service.Tx) error {
		_, err := tx.FindDestination(ctx, a.app.ID, full.ID)
		wantCode(t, err, kycreview.ENOTFOUND)
		page, count, err := tx.ListDestinations(ctx, a.app.ID, 10, 0)
		if diff := cmp.Diff(destinationIDs([]kycreview.Destination{oldest, bare, newest}), destinationIDs(page)); diff != "" || count != 3 {
			t.Errorf("ListDestinations after a delete: count %d (-want +got):\n%s", count, diff)
		}
		return err
	})

	missing := bare
	missing.PK = 1 << 40
	err := s.WriteTx(ctx, func(tx service.Tx) error { return tx.UpdateDestination(ctx, missing) })
	wantCode(t, err, kycreview.ENOTFOUND)
}

// testDestinationURLs checks that an application's live destinations have
// distinct URLs, while deleted ones and other applications' do not count.
func testDestinationURLs(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	const url = "https://hooks.example.com/kyc"
	first := newDestination(t, s, a, url, nil)

	dup := first
	dup.ID, dup.PK = uuid.NewString(), 0
	err := s.WriteTx(ctx, func(tx service.Tx) error { return tx.CreateDestination(ctx, &dup) })
	wantCode(t, err, kycreview.ECONFLICT)

	// Another application may use the same URL; URLs compare exactly.
	newDestination(t, s, other, url, nil)
	second := newDestination(t, s, a, url+"/", nil)

	moved := second
	moved.URL, moved.Label = url, "moved"
	err = s.WriteTx(ctx, func(tx service.Tx) error { return tx.UpdateDestination(ctx, moved) })
	wantCode(t, err, kycreview.ECONFLICT)
	if got := findDestination(t, s, second); got.URL != second.URL || got.Label != second.Label {
		t.Errorf("a refused update changed the destination: %+v", got)
	}

	// A deleted destination frees its URL, and may itself still be written.
	gone := first
	gone.DeletedAt = ptr(epoch.Add(time.Second))
	updateDestination(t, s, gone)
	third := newDestination(t, s, a, url, nil)
	gone.Label = "still deleted"
	updateDestination(t, s, gone)
	// The URL is taken again, now by third.
	err = s.WriteTx(ctx, func(tx service.Tx) error { return tx.UpdateDestination(ctx, moved) })
	wantCode(t, err, kycreview.ECONFLICT)
	if got := findDestination(t, s, third); got.URL != url {
		t.Errorf("third destination: %+v", got)
	}
}

// testFanOut checks that queueing an event queues, in the same
// transaction, one pending delivery per active destination subscribed to
// its type, and none for any other destination.
func testFanOut(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	status := newDestination(t, s, a, "https://status.example.com", nil)
	both := newDestination(t, s, a, "https://both.example.com", func(d *kycreview.Destination) {
		d.SubscribedEvents = []string{"data.updated", kycreview.EventStatusUpdated}
	})
	data := newDestination(t, s, a, "https://data.example.com", func(d *kycreview.Destination) {
		d.SubscribedEvents = []string{"data.updated"}
	})
	quiet := []kycreview.Destination{
		newDestination(t, s, a, "https://off.example.com", func(d *kycreview.Destination) { d.Enabled = false }),
		newDestination(t, s, a, "https://disabled.example.com", func(d *kycreview.Destination) { d.DisabledAt = ptr(epoch) }),
		newDestination(t, s, a, "https://deleted.example.com", func(d *kycreview.Destination) { d.DeletedAt = ptr(epoch) }),
		newDestination(t, s, a, "https://nothing.example.com", func(d *kycreview.Destination) { d.SubscribedEvents = []string{} }),
		newDestination(t, s, other, "https://status.example.com", nil),
	}
	sess := a.newSession(t, s, kycreview.KindUser)
	at := epoch.Add(time.Minute + 7*time.Microsecond)
	ev := queueEvent(t, s, sess, kycreview.EventStatusUpdated, at)
	if ev.PK == 0 {
		t.Fatal("InsertOutboxEvent assigned no PK")
	}

	ids := map[string]bool{}
	for _, dest := range []kycreview.Destination{status, both} {
		got := deliveriesOf(t, s, dest.PK)
		if len(got) != 1 {
			t.Fatalf("destination %s has %d deliveries, want 1", dest.URL, len(got))
		}
		d := got[0]
		want := kycreview.Delivery{
			PK: d.PK, ID: d.ID, DestinationPK: dest.PK, EventPK: ev.PK, EventID: ev.ID, EventType: ev.Type,
			SessionPK: ev.SessionPK, SessionID: sess.ID, State: kycreview.DeliveryPending,
			NextAttemptAt: at, CreatedAt: at, AttemptHistory: []kycreview.Attempt{},
		}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Errorf("delivery to %s (-want +got):\n%s", dest.URL, diff)
		}
		// Ids are random (version 4) UUIDs in the spelling storage uses.
		if u, err := uuid.Parse(d.ID); err != nil || u.Version() != 4 || u.String() != d.ID || ids[d.ID] {
			t.Errorf("delivery id %q: not a fresh lower-case version 4 UUID (%v)", d.ID, err)
		}
		ids[d.ID] = true
	}
	for _, dest := range append(quiet, data) {
		if got := deliveriesOf(t, s, dest.PK); len(got) != 0 {
			t.Errorf("destination %s (%+v) got deliveries: %+v", dest.URL, dest, got)
		}
	}

	// The subscription is matched on the event's type.
	dataEv := queueEvent(t, s, sess, "data.updated", at.Add(time.Second))
	for _, tt := range []struct {
		dest kycreview.Destination
		want []string // newest first
	}{
		{status, []string{ev.ID}},
		{both, []string{dataEv.ID, ev.ID}},
		{data, []string{dataEv.ID}},
	} {
		var got []string
		for _, d := range deliveriesOf(t, s, tt.dest.PK) {
			got = append(got, d.EventID)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("events delivered to %s (-want +got):\n%s", tt.dest.URL, diff)
		}
	}

	// An event that is rolled back leaves no delivery behind.
	row := appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityComment,
		Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: at.Add(2 * time.Second)})
	boom := kycreview.Errorf(kycreview.EINVALID, "boom")
	err := s.WriteTx(ctx, func(tx service.Tx) error {
		e := kycreview.OutboxEvent{ID: uuid.NewString(), ApplicationID: a.app.ID, SessionPK: row.SessionPK, Seq: row.Seq,
			Type: kycreview.EventStatusUpdated, CreatedAt: row.CreatedAt}
		if err := tx.InsertOutboxEvent(ctx, &e); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("WriteTx returned %v, want the function's error", err)
	}
	if got := deliveriesOf(t, s, status.PK); len(got) != 1 {
		t.Errorf("after a rolled back event the destination has %d deliveries, want 1", len(got))
	}
}
