package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// record logs attempt a of c (with c's new state already set) and returns
// whether the delivery moved, and the attempt as stored.
func record(t *testing.T, s service.Store, c kycreview.ClaimedDelivery, a kycreview.Attempt, disableBefore time.Time) (bool, kycreview.Attempt) {
	t.Helper()
	if a.ID == "" {
		a.ID = uuid.NewString()
	}
	var moved bool
	write(t, s, func(tx service.Tx) error {
		var err error
		moved, err = tx.RecordAttempt(context.Background(), c, &a, disableBefore)
		return err
	})
	if a.PK == 0 || a.DeliveryPK != c.PK {
		t.Errorf("RecordAttempt: PK %d, DeliveryPK %d (delivery %d)", a.PK, a.DeliveryPK, c.PK)
	}
	return moved, a
}

// succeed and retry record a 200 that completes c, and a failure that
// schedules it again at next, as the dispatcher would.
func succeed(t *testing.T, s service.Store, c kycreview.ClaimedDelivery, at time.Time) (bool, kycreview.Attempt) {
	t.Helper()
	c.Attempts++
	c.State, c.CompletedAt = kycreview.DeliverySucceeded, ptr(at.Add(time.Millisecond))
	return record(t, s, c, kycreview.Attempt{Number: c.Attempts, StartedAt: at, Latency: time.Millisecond, StatusCode: ptr(200)}, time.Time{})
}

func retry(t *testing.T, s service.Store, c kycreview.ClaimedDelivery, at, next, disableBefore time.Time) (bool, kycreview.Attempt) {
	t.Helper()
	c.Attempts++
	c.State, c.NextAttemptAt = kycreview.DeliveryPending, next
	return record(t, s, c, kycreview.Attempt{Number: c.Attempts, StartedAt: at, Latency: 2 * time.Millisecond,
		StatusCode: ptr(500), Error: "HTTP 500"}, disableBefore)
}

// fail records a last failed attempt: the delivery is failed for good.
func fail(t *testing.T, s service.Store, c kycreview.ClaimedDelivery, at time.Time) (bool, kycreview.Attempt) {
	t.Helper()
	c.Attempts++
	c.State, c.CompletedAt = kycreview.DeliveryFailed, ptr(at.Add(time.Second))
	return record(t, s, c, kycreview.Attempt{Number: c.Attempts, StartedAt: at, Latency: time.Second, Error: "timeout"}, time.Time{})
}

func testRecordAttempt(t *testing.T, b Backend) {
	s := b.Open(t)
	a := newFixture(t, s, "a")
	dest := newDestination(t, s, a, "https://hooks.example.com", nil)
	sess := a.newSession(t, s, kycreview.KindUser)
	queueEvent(t, s, sess, kycreview.EventStatusUpdated, epoch)
	now := epoch.Add(time.Minute)
	c := claim(t, s, now, "mine", 1)[0]
	untouched := deliveriesOf(t, s, dest.PK)[0]

	// A result under another claim is logged, but does not move the
	// delivery, nor release the claim.
	stale := c
	stale.Claim = "someone else's"
	stale.State, stale.Attempts, stale.CompletedAt = kycreview.DeliveryFailed, 1, ptr(now)
	moved, a1 := record(t, s, stale, kycreview.Attempt{Number: 1, StartedAt: now, Latency: 1500 * time.Microsecond,
		Error: "dial tcp 203.0.113.7:443: connect: connection refused"}, time.Time{})
	if moved {
		t.Error("RecordAttempt applied a result under another claim")
	}
	log := deliveriesOf(t, s, dest.PK)
	untouched.AttemptHistory = []kycreview.Attempt{a1}
	if diff := cmp.Diff([]kycreview.Delivery{untouched}, log); diff != "" {
		t.Errorf("after a stale result (-want +got):\n%s", diff)
	}
	if got := claim(t, s, now, "thief", 1); len(got) != 0 {
		t.Errorf("a stale result released the claim: %+v", got)
	}
	// Every attempt counts for the destination's health, stale or not.
	if got := findDestination(t, s, dest); got.FailingSince == nil || !got.FailingSince.Equal(a1.StartedAt) || got.DisabledAt != nil {
		t.Errorf("after a failure: failing since %v, disabled at %v; want since %v", got.FailingSince, got.DisabledAt, a1.StartedAt)
	}

	// Under the claim: the delivery moves on and the claim is released
	// (the retry is due well before the lease ends). The text of the
	// response is kept as given, up to what a text column can hold.
	next := now.Add(5 * time.Minute)
	retried := c
	retried.State, retried.Attempts, retried.NextAttemptAt = kycreview.DeliveryPending, 1, next
	moved, a2 := record(t, s, retried, kycreview.Attempt{Number: 1, StartedAt: now.Add(time.Second), Latency: 250 * time.Millisecond,
		StatusCode: ptr(503), Error: "HTTP 503", ResponseHead: "überlastet ✓ <html>"}, time.Time{})
	if !moved {
		t.Fatal("RecordAttempt did not apply a result under its claim")
	}
	log = deliveriesOf(t, s, dest.PK)
	wantLog := untouched
	wantLog.Attempts, wantLog.NextAttemptAt, wantLog.AttemptHistory = 1, next, []kycreview.Attempt{a1, a2}
	if diff := cmp.Diff([]kycreview.Delivery{wantLog}, log); diff != "" {
		t.Errorf("after a retry (-want +got):\n%s", diff)
	}
	if a2.ResponseHead != "überlastet ✓ <html>" || *a2.StatusCode != 503 {
		t.Errorf("attempt as stored: %+v", a2)
	}
	if got := claim(t, s, next.Add(-time.Microsecond), "early", 1); len(got) != 0 {
		t.Errorf("claimed before the retry was due: %+v", got)
	}

	// A streak that began at a1 is not long enough for a cutoff before it:
	// the streak keeps its start.
	c = claim(t, s, next, "retry", 1)[0]
	next2 := next.Add(time.Hour)
	if moved, _ := retry(t, s, c, next, next2, a1.StartedAt.Add(-time.Microsecond)); !moved {
		t.Fatal("retry not applied")
	}
	got := findDestination(t, s, dest)
	if got.FailingSince == nil || !got.FailingSince.Equal(a1.StartedAt) || got.DisabledAt != nil {
		t.Errorf("a second failure: failing since %v, disabled at %v; want since %v", got.FailingSince, got.DisabledAt, a1.StartedAt)
	}
	// It is for a cutoff after it: the destination is disabled when the
	// attempt ended, and its deliveries are no longer claimed.
	c = claim(t, s, next2, "retry", 1)[0]
	next3 := next2.Add(time.Hour)
	_, a4 := retry(t, s, c, next2, next3, a1.StartedAt.Add(time.Microsecond))
	got = findDestination(t, s, dest)
	if got.FailingSince == nil || !got.FailingSince.Equal(a1.StartedAt) || got.DisabledAt == nil ||
		!got.DisabledAt.Equal(a4.StartedAt.Add(a4.Latency)) || !got.Enabled || got.Active() {
		t.Errorf("a failure past the cutoff: %+v", got)
	}
	if got := claim(t, s, next3.Add(time.Hour), "disabled", 10); len(got) != 0 {
		t.Errorf("claimed a disabled destination's delivery: %+v", got)
	}
	// Later results do not move the disabled time.
	disabledAt := *got.DisabledAt
	if _, err := retryUnclaimed(s, c, next3); err != nil {
		t.Fatal(err)
	}
	if got := findDestination(t, s, dest); got.DisabledAt == nil || !got.DisabledAt.Equal(disabledAt) {
		t.Errorf("disabled at moved from %v to %v", disabledAt, got.DisabledAt)
	}

	// Enabled again, it starts afresh; a failure starts a new streak and a
	// success ends it.
	dest = got.Update(kycreview.DestinationInput{Enabled: ptr(true)}, next3)
	updateDestination(t, s, dest)
	c = claim(t, s, next3, "fresh", 1)[0]
	next4 := next3.Add(time.Minute)
	_, a6 := retry(t, s, c, next3, next4, time.Time{})
	if got := findDestination(t, s, dest); got.FailingSince == nil || !got.FailingSince.Equal(a6.StartedAt) || got.DisabledAt != nil {
		t.Errorf("a failure after enabling: %+v", got)
	}
	c = claim(t, s, next4, "fresh", 1)[0]
	if moved, _ := succeed(t, s, c, next4); !moved {
		t.Fatal("success not applied")
	}
	if got := findDestination(t, s, dest); got.FailingSince != nil || got.DisabledAt != nil {
		t.Errorf("after a success: %+v", got)
	}
	final := deliveriesOf(t, s, dest.PK)[0]
	if final.State != kycreview.DeliverySucceeded || final.Attempts != 5 || final.CompletedAt == nil ||
		!final.CompletedAt.Equal(next4.Add(time.Millisecond)) || len(final.AttemptHistory) != 7 {
		t.Errorf("delivery after its success: %+v", final)
	}
}

// retryUnclaimed records a failed attempt under a claim that no longer
// holds (the destination was disabled meanwhile).
func retryUnclaimed(s service.Store, c kycreview.ClaimedDelivery, at time.Time) (bool, error) {
	var moved bool
	err := s.WriteTx(context.Background(), func(tx service.Tx) error {
		a := kycreview.Attempt{ID: uuid.NewString(), Number: c.Attempts + 1, StartedAt: at, Error: "late"}
		var err error
		moved, err = tx.RecordAttempt(context.Background(), c, &a, at)
		return err
	})
	return moved, err
}

// testAttemptText checks that an attempt is logged whatever bytes the
// receiver answered with: text that is not UTF-8, or holds NUL, is stored
// with U+FFFD in their place, the same on every backend.
func testAttemptText(t *testing.T, b Backend) {
	s := b.Open(t)
	a := newFixture(t, s, "a")
	dest := newDestination(t, s, a, "https://hooks.example.com", nil)
	sess := a.newSession(t, s, kycreview.KindUser)
	queueEvent(t, s, sess, kycreview.EventStatusUpdated, epoch)
	c := claim(t, s, epoch, "mine", 1)[0]
	c.State, c.Attempts, c.CompletedAt = kycreview.DeliverySucceeded, 1, ptr(epoch)
	// A body cut in the middle of "é", after a NUL and a stray byte.
	head := "ok\x00bin\xff\xfeary caf\xc3"
	_, stored := record(t, s, c, kycreview.Attempt{Number: 1, StartedAt: epoch, StatusCode: ptr(200),
		Error: "bad \x00 error \xff", ResponseHead: head}, time.Time{})
	const wantHead, wantErr = "ok\uFFFDbin\uFFFDary caf\uFFFD", "bad \uFFFD error \uFFFD"
	if stored.ResponseHead != wantHead || stored.Error != wantErr {
		t.Errorf("RecordAttempt left the attempt as %q, %q; want %q, %q", stored.ResponseHead, stored.Error, wantHead, wantErr)
	}
	got := deliveriesOf(t, s, dest.PK)[0].AttemptHistory
	if len(got) != 1 || got[0].ResponseHead != wantHead || got[0].Error != wantErr {
		t.Errorf("logged attempt: %+v, want head %q and error %q", got, wantHead, wantErr)
	}
}

func testListDeliveries(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	dest := newDestination(t, s, a, "https://a.example.com", nil)
	other := newDestination(t, s, a, "https://b.example.com", nil)
	s1, s2 := a.newSession(t, s, kycreview.KindUser), a.newSession(t, s, kycreview.KindUser)
	e1 := queueEvent(t, s, s1, kycreview.EventStatusUpdated, epoch)
	e2 := queueEvent(t, s, s2, kycreview.EventStatusUpdated, epoch.Add(time.Second))
	e3 := queueEvent(t, s, s1, kycreview.EventStatusUpdated, epoch.Add(2*time.Second))

	// e1 to dest: a failure, then a success; e2 to dest: one failure.
	now := epoch.Add(time.Minute)
	history := map[string][]kycreview.Attempt{}
	for _, c := range claim(t, s, now, "one", 10) {
		if c.DestinationPK != dest.PK {
			continue
		}
		_, at := retry(t, s, c, now, now, time.Time{})
		history[c.EventID] = append(history[c.EventID], at)
	}
	for _, c := range claim(t, s, now, "two", 10) {
		if c.DestinationPK == dest.PK && c.EventID == e1.ID {
			_, at := succeed(t, s, c, now.Add(time.Second))
			history[c.EventID] = append(history[c.EventID], at)
		}
	}

	var walked []string
	for offset := 0; offset <= 4; offset += 2 {
		read(t, s, func(tx service.Tx) error {
			page, count, err := tx.ListDeliveries(ctx, dest.PK, 2, offset)
			if err != nil {
				return err
			}
			if count != 3 || page == nil {
				t.Errorf("ListDeliveries(offset %d): count %d, page %v", offset, count, page)
			}
			for _, d := range page {
				walked = append(walked, d.EventID)
				if d.DestinationPK != dest.PK {
					t.Errorf("another destination's delivery: %+v", d)
				}
				// Attempts oldest first.
				if diff := cmp.Diff(history[d.EventID], d.AttemptHistory, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("attempts of %s (-want +got):\n%s", d.EventID, diff)
				}
			}
			return nil
		})
	}
	if diff := cmp.Diff([]string{e3.ID, e2.ID, e1.ID}, walked); diff != "" {
		t.Errorf("ListDeliveries pages walked (-want +got):\n%s", diff)
	}
	if got := deliveriesOf(t, s, other.PK); len(got) != 3 {
		t.Errorf("the other destination has %d deliveries, want 3", len(got))
	}
	read(t, s, func(tx service.Tx) error {
		page, count, err := tx.ListDeliveries(ctx, 1<<40, 10, 0)
		if len(page) != 0 || count != 0 {
			t.Errorf("ListDeliveries(unknown destination) = %d rows, count %d", len(page), count)
		}
		return err
	})
}

func testRequeueDelivery(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	dest := newDestination(t, s, a, "https://a.example.com", nil)
	// Subscribed to nothing: it has no deliveries, but it may not resend
	// dest's.
	other := newDestination(t, s, a, "https://b.example.com", func(d *kycreview.Destination) { d.SubscribedEvents = []string{} })
	sess := a.newSession(t, s, kycreview.KindUser)
	queueEvent(t, s, sess, kycreview.EventStatusUpdated, epoch)
	now := epoch.Add(time.Minute)
	c := claim(t, s, now, "one", 10)[0]
	fail(t, s, c, now)
	failed := deliveriesOf(t, s, dest.PK)[0]
	if failed.State != kycreview.DeliveryFailed || failed.CompletedAt == nil {
		t.Fatalf("delivery before the resend: %+v", failed)
	}

	// Not the destination's, unknown, or not an id: not found, and nothing
	// changes.
	for _, q := range []struct {
		dest int64
		id   string
	}{{other.PK, c.ID}, {dest.PK, uuid.NewString()}, {dest.PK, "not-a-uuid"}} {
		err := s.WriteTx(ctx, func(tx service.Tx) error {
			_, err := tx.RequeueDelivery(ctx, q.dest, q.id, now)
			return err
		})
		wantCode(t, err, kycreview.ENOTFOUND)
	}
	if diff := cmp.Diff([]kycreview.Delivery{failed}, deliveriesOf(t, s, dest.PK)); diff != "" {
		t.Errorf("after refused resends (-want +got):\n%s", diff)
	}

	later := now.Add(time.Hour)
	var got kycreview.Delivery
	write(t, s, func(tx service.Tx) error {
		var err error
		got, err = tx.RequeueDelivery(ctx, dest.PK, c.ID, later)
		return err
	})
	want := failed
	want.State, want.Attempts, want.NextAttemptAt, want.CompletedAt = kycreview.DeliveryPending, 0, later, nil
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("RequeueDelivery (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]kycreview.Delivery{want}, deliveriesOf(t, s, dest.PK)); diff != "" {
		t.Errorf("log after the resend (-want +got):\n%s", diff)
	}
	if got := claim(t, s, later.Add(-time.Microsecond), "early", 10); len(got) != 0 {
		t.Errorf("claimed before the resend was due: %+v", got)
	}

	// Resending a delivery under a claim takes it from its holder.
	held := claim(t, s, later, "holder", 10)
	if len(held) != 1 || held[0].ID != c.ID || held[0].Attempts != 0 {
		t.Fatalf("claim after the resend: %+v", held)
	}
	write(t, s, func(tx service.Tx) error {
		_, err := tx.RequeueDelivery(ctx, dest.PK, c.ID, later)
		return err
	})
	if moved, _ := succeed(t, s, held[0], later); moved {
		t.Error("the old holder's result was applied after a resend")
	}
	if got := claim(t, s, later, "new", 10); len(got) != 1 || got[0].ID != c.ID {
		t.Errorf("claim after resending a claimed delivery: %+v", got)
	}
}

// testAttemptsAppendOnly checks that the database itself refuses to change
// the attempt log.
func testAttemptsAppendOnly(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	dest := newDestination(t, s, a, "https://a.example.com", nil)
	sess := a.newSession(t, s, kycreview.KindUser)
	queueEvent(t, s, sess, kycreview.EventStatusUpdated, epoch)
	_, at := fail(t, s, claim(t, s, epoch, "one", 1)[0], epoch)
	for _, q := range []string{
		"UPDATE webhook_attempts SET error = 'forged'",
		"UPDATE webhook_attempts SET status_code = 200 WHERE id = '" + at.ID + "'",
		"DELETE FROM webhook_attempts",
	} {
		if err := b.Exec(ctx, s, q); err == nil {
			t.Errorf("%s: the database accepted it", q)
		}
	}
	log := deliveriesOf(t, s, dest.PK)[0].AttemptHistory
	if len(log) != 1 || log[0].Error != "timeout" || log[0].StatusCode != nil {
		t.Errorf("attempts after tampering attempts: %+v", log)
	}
}
