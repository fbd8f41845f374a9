package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// Idempotency keys (service/idempotency.go): a record per (API key, key),
// written in the write's own transaction, never two live ones for a key
// even from concurrent transactions, expired ones replaced, and purged in
// batches oldest first.

// newAPIKey stores a client key of the fixture's application.
func (f fixture) newAPIKey(t *testing.T, s service.Store) kycreview.APIKey {
	t.Helper()
	k := kycreview.APIKey{ID: uuid.NewString(), ApplicationID: f.app.ID, Role: kycreview.RoleClient,
		Lookup: "lookup-" + uuid.NewString(), Hash: []byte{1, 2, 3}, CreatedAt: epoch}
	write(t, s, func(tx service.Tx) error { return tx.CreateAPIKey(context.Background(), k) })
	return k
}

func idempotencyRecord(apiKeyID, key string, at time.Time, body string) service.IdempotencyRecord {
	return service.IdempotencyRecord{APIKeyID: apiKeyID, Key: key, Fingerprint: "POST /v3/session sha256:" + key,
		Response:  service.Response{Status: 201, Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(body)},
		CreatedAt: at}
}

// insertRecord runs InsertIdempotencyRecord in a transaction of its own.
func insertRecord(t *testing.T, s service.Store, rec service.IdempotencyRecord, expiredBefore time.Time) bool {
	t.Helper()
	var stored bool
	write(t, s, func(tx service.Tx) error {
		var err error
		stored, err = tx.InsertIdempotencyRecord(context.Background(), rec, expiredBefore)
		return err
	})
	return stored
}

// findRecord looks a record up outside any transaction, as the service does.
func findRecord(s service.Store, apiKeyID, key string) (service.IdempotencyRecord, error) {
	var rec service.IdempotencyRecord
	err := s.Read(context.Background(), func(tx service.Tx) error {
		var err error
		rec, err = tx.FindIdempotencyRecord(context.Background(), apiKeyID, key)
		return err
	})
	return rec, err
}

func testIdempotencyRecords(t *testing.T, b Backend) {
	s := b.Open(t)
	a, other := newFixture(t, s, "a"), newFixture(t, s, "other")
	k1, k2, k3 := a.newAPIKey(t, s), a.newAPIKey(t, s), other.newAPIKey(t, s)
	const key = "order-1 ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"

	// Every field round-trips: the body byte for byte (any bytes, not only
	// UTF-8), the headers, the time to the microsecond.
	first := idempotencyRecord(k1.ID, key, epoch, "")
	first.Response.Body = []byte("{\"a\":1}\x00\xff\n")
	first.Response.Header["X-Other"] = "1"
	if !insertRecord(t, s, first, epoch.Add(-time.Hour)) {
		t.Fatal("a new key was not stored")
	}
	got, err := findRecord(s, k1.ID, key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("record (-stored +read):\n%s", diff)
	}

	// A live record stays: the second is not stored.
	second := idempotencyRecord(k1.ID, key, epoch.Add(time.Minute), `{"second":true}`)
	if insertRecord(t, s, second, epoch.Add(-time.Hour)) {
		t.Error("a live record was replaced")
	}
	if got, _ := findRecord(s, k1.ID, key); string(got.Response.Body) != string(first.Response.Body) {
		t.Errorf("after a refused insert the record holds %q", got.Response.Body)
	}
	// A record created exactly at the cutoff is still live.
	if insertRecord(t, s, second, epoch) {
		t.Error("a record created at the cutoff was replaced")
	}

	// Keys are per API key: another key of the application, or of another
	// application, has its own.
	for _, k := range []kycreview.APIKey{k2, k3} {
		if _, err := findRecord(s, k.ID, key); kycreview.ErrorCode(err) != kycreview.ENOTFOUND {
			t.Errorf("key %s sees another key's record: %v", k.ID, err)
		}
		if !insertRecord(t, s, idempotencyRecord(k.ID, key, epoch, k.ID), epoch.Add(-time.Hour)) {
			t.Errorf("key %s could not use a value another key used", k.ID)
		}
		if got, err := findRecord(s, k.ID, key); err != nil || string(got.Response.Body) != k.ID {
			t.Errorf("key %s's record: %+v, %v", k.ID, got, err)
		}
	}
	// Keys are exact: case and spaces matter.
	for _, near := range []string{"ORDER-1", "order-1", key + " "} {
		if _, err := findRecord(s, k1.ID, near); kycreview.ErrorCode(err) != kycreview.ENOTFOUND {
			t.Errorf("%q finds %q's record: %v", near, key, err)
		}
	}

	// An expired record is replaced whole.
	if !insertRecord(t, s, second, epoch.Add(time.Microsecond)) {
		t.Fatal("an expired record was not replaced")
	}
	if got, err := findRecord(s, k1.ID, key); err != nil || cmp.Diff(second, got) != "" {
		t.Errorf("the replaced record: %v\n%s", err, cmp.Diff(second, got))
	}

	// Missing records, and ids that are no API key's, are ENOTFOUND.
	for _, id := range []string{k1.ID, uuid.NewString(), "not-a-uuid"} {
		if _, err := findRecord(s, id, "never-used"); kycreview.ErrorCode(err) != kycreview.ENOTFOUND {
			t.Errorf("missing record of %s: %v, want ENOTFOUND", id, err)
		}
	}
}

// testIdempotencyAtomic: the record belongs to its transaction: rolled back
// with it, committed with it.
func testIdempotencyAtomic(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	k := a.newAPIKey(t, s)
	boom := errors.New("boom")
	sess := kycreview.Session{ID: uuid.NewString(), ApplicationID: a.app.ID, WorkflowID: a.user.ID, Kind: kycreview.KindUser,
		Status: kycreview.StatusNotStarted, CreatedAt: epoch}
	err := s.WriteTx(ctx, func(tx service.Tx) error {
		if err := tx.CreateSession(ctx, &sess); err != nil {
			return err
		}
		if ok, err := tx.InsertIdempotencyRecord(ctx, idempotencyRecord(k.ID, "k", epoch, "{}"), epoch.Add(-time.Hour)); err != nil || !ok {
			return fmt.Errorf("insert: %v %w", ok, err)
		}
		// The transaction sees its own record.
		if _, err := tx.FindIdempotencyRecord(ctx, k.ID, "k"); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("WriteTx: %v, want boom", err)
	}
	if _, err := findRecord(s, k.ID, "k"); kycreview.ErrorCode(err) != kycreview.ENOTFOUND {
		t.Errorf("a rolled-back record is there: %v", err)
	}
	read(t, s, func(tx service.Tx) error {
		_, err := tx.FindSession(ctx, a.app.ID, sess.ID)
		wantCode(t, err, kycreview.ENOTFOUND)
		return nil
	})

	write(t, s, func(tx service.Tx) error {
		if err := tx.CreateSession(ctx, &sess); err != nil {
			return err
		}
		_, err := tx.InsertIdempotencyRecord(ctx, idempotencyRecord(k.ID, "k", epoch, "{}"), epoch.Add(-time.Hour))
		return err
	})
	if _, err := findRecord(s, k.ID, "k"); err != nil {
		t.Errorf("the committed record: %v", err)
	}
}

// testIdempotencyConcurrent: a transaction recording a key that another
// open transaction has recorded waits for it: if it commits, the second is
// refused; if it rolls back, the second is stored. Never two.
func testIdempotencyConcurrent(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	k := a.newAPIKey(t, s)
	for _, commit := range []bool{true, false} {
		key := fmt.Sprintf("concurrent-%v", commit)
		inserted, release := make(chan struct{}), make(chan struct{})
		firstDone := make(chan error, 1)
		go func() {
			firstDone <- s.WriteTx(ctx, func(tx service.Tx) error {
				ok, err := tx.InsertIdempotencyRecord(ctx, idempotencyRecord(k.ID, key, epoch, "first"), epoch.Add(-time.Hour))
				if err != nil || !ok {
					close(inserted)
					return fmt.Errorf("first insert: %v %w", ok, err)
				}
				close(inserted)
				<-release
				if !commit {
					return errors.New("rolled back")
				}
				return nil
			})
		}()
		<-inserted
		secondDone := make(chan bool, 1)
		go func() {
			var stored bool
			err := s.WriteTx(ctx, func(tx service.Tx) error {
				var err error
				stored, err = tx.InsertIdempotencyRecord(ctx, idempotencyRecord(k.ID, key, epoch, "second"), epoch.Add(-time.Hour))
				return err
			})
			if err != nil {
				t.Errorf("second insert: %v", err)
			}
			secondDone <- stored
		}()
		// Give the second a moment to reach the key and wait on it; the
		// outcome below does not depend on whether it got there.
		time.Sleep(50 * time.Millisecond)
		close(release)
		err := <-firstDone
		stored := <-secondDone
		if commit && (err != nil || stored) {
			t.Errorf("first committed (%v): second stored %v, want false", err, stored)
		}
		if !commit && !stored {
			t.Errorf("first rolled back: second stored %v, want true", stored)
		}
		want := map[bool]string{true: "first", false: "second"}[commit]
		if got, err := findRecord(s, k.ID, key); err != nil || string(got.Response.Body) != want {
			t.Errorf("record after the race: %q, %v; want %q", got.Response.Body, err, want)
		}
	}
}

// testIdempotencyPurge: DeleteIdempotencyRecords deletes at most limit
// records created before the cutoff, oldest first, and none younger.
func testIdempotencyPurge(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	k1, k2 := a.newAPIKey(t, s), a.newAPIKey(t, s)
	cutoff := epoch.Add(time.Hour)
	// Five expired (inserted newest first, so the order is by time, not by
	// insertion), one at the cutoff and one after it: both live.
	for i := 4; i >= 0; i-- {
		k := []kycreview.APIKey{k1, k2}[i%2]
		insertRecord(t, s, idempotencyRecord(k.ID, fmt.Sprint("old-", i), epoch.Add(time.Duration(i)*time.Minute), "{}"), epoch.Add(-time.Hour))
	}
	insertRecord(t, s, idempotencyRecord(k1.ID, "at-cutoff", cutoff, "{}"), epoch.Add(-time.Hour))
	insertRecord(t, s, idempotencyRecord(k2.ID, "young", cutoff.Add(time.Minute), "{}"), epoch.Add(-time.Hour))

	purge := func() int {
		var n int
		write(t, s, func(tx service.Tx) error {
			var err error
			n, err = tx.DeleteIdempotencyRecords(ctx, cutoff, 2)
			return err
		})
		return n
	}
	if n := purge(); n != 2 {
		t.Fatalf("first batch deleted %d, want 2", n)
	}
	for i := 0; i < 5; i++ {
		k := []kycreview.APIKey{k1, k2}[i%2]
		_, err := findRecord(s, k.ID, fmt.Sprint("old-", i))
		if gone := kycreview.ErrorCode(err) == kycreview.ENOTFOUND; gone != (i < 2) {
			t.Errorf("after one batch, old-%d gone = %v (%v); the oldest go first", i, gone, err)
		}
	}
	if n := purge(); n != 2 {
		t.Errorf("second batch deleted %d, want 2", n)
	}
	if n := purge(); n != 1 {
		t.Errorf("third batch deleted %d, want 1", n)
	}
	if n := purge(); n != 0 {
		t.Errorf("fourth batch deleted %d, want 0", n)
	}
	if _, err := findRecord(s, k1.ID, "at-cutoff"); err != nil {
		t.Errorf("the record created at the cutoff was purged: %v", err)
	}
	if _, err := findRecord(s, k2.ID, "young"); err != nil {
		t.Errorf("a live record was purged: %v", err)
	}
}
