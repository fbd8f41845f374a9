package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

func testSessionNumbering(t *testing.T, b Backend) {
	s := b.Open(t)
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	for want := int64(1); want <= 3; want++ {
		if got := a.newSession(t, s, kycreview.KindUser).Number; got != want {
			t.Fatalf("session number = %d, want %d", got, want)
		}
	}
	// Numbers are per application, and KYB sessions share the sequence.
	if got := other.newSession(t, s, kycreview.KindBusiness).Number; got != 1 {
		t.Errorf("other application's first session number = %d, want 1", got)
	}
	if got := a.newSession(t, s, kycreview.KindBusiness).Number; got != 4 {
		t.Errorf("fourth session number = %d, want 4", got)
	}
	// A rolled-back creation leaves no gap.
	err := s.WriteTx(context.Background(), func(tx service.Tx) error {
		sess := kycreview.Session{ID: uuid.NewString(), ApplicationID: a.app.ID, WorkflowID: a.user.ID,
			Kind: kycreview.KindUser, Status: kycreview.StatusNotStarted, CreatedAt: epoch}
		if err := tx.CreateSession(context.Background(), &sess); err != nil {
			return err
		}
		return kycreview.Errorf(kycreview.EINVALID, "abort")
	})
	wantCode(t, err, kycreview.EINVALID)
	if got := a.newSession(t, s, kycreview.KindUser).Number; got != 5 {
		t.Errorf("number after a rollback = %d, want 5", got)
	}

	// Concurrent creation stays unique and gapless.
	var wg sync.WaitGroup
	numbers := make(chan int64, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess := kycreview.Session{ID: uuid.NewString(), ApplicationID: a.app.ID, WorkflowID: a.user.ID,
				Kind: kycreview.KindUser, Status: kycreview.StatusNotStarted, CreatedAt: epoch}
			if err := s.WriteTx(context.Background(), func(tx service.Tx) error { return tx.CreateSession(context.Background(), &sess) }); err != nil {
				t.Errorf("CreateSession: %v", err)
				return
			}
			numbers <- sess.Number
		}()
	}
	wg.Wait()
	close(numbers)
	seen := map[int64]bool{}
	for n := range numbers {
		seen[n] = true
	}
	for n := int64(6); n <= 25; n++ {
		if !seen[n] {
			t.Errorf("concurrent creation: number %d missing (got %v)", n, seen)
		}
	}
}

func testSessionVisibility(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	sess := a.newSession(t, s, kycreview.KindUser)
	read(t, s, func(tx service.Tx) error {
		if _, err := tx.FindSession(ctx, a.app.ID, sess.ID); err != nil {
			t.Errorf("FindSession own: %v", err)
		}
		_, err := tx.FindSession(ctx, other.app.ID, sess.ID)
		wantCode(t, err, kycreview.ENOTFOUND)
		_, err = tx.FindSession(ctx, a.app.ID, uuid.NewString())
		wantCode(t, err, kycreview.ENOTFOUND)
		return nil
	})
	write(t, s, func(tx service.Tx) error { return tx.DeleteSession(ctx, sess.PK, epoch.Add(time.Minute)) })
	err := s.WriteTx(ctx, func(tx service.Tx) error {
		_, err := tx.LockSession(ctx, a.app.ID, sess.ID)
		return err
	})
	wantCode(t, err, kycreview.ENOTFOUND)
	read(t, s, func(tx service.Tx) error {
		_, err := tx.FindSession(ctx, a.app.ID, sess.ID)
		wantCode(t, err, kycreview.ENOTFOUND)
		// Work owed on a deleted session (its webhook events) still finds it.
		byPK, err := tx.FindSessionByPK(ctx, sess.PK)
		if err != nil || byPK.ID != sess.ID || byPK.DeletedAt == nil {
			t.Errorf("FindSessionByPK after delete: %+v, %v", byPK, err)
		}
		_, err = tx.FindSessionByPK(ctx, sess.PK+1000)
		wantCode(t, err, kycreview.ENOTFOUND)
		return nil
	})
}

func testSessionRoundTrip(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	in := kycreview.Session{
		ID: uuid.NewString(), ApplicationID: a.app.ID, WorkflowID: a.business.ID, Kind: kycreview.KindBusiness,
		Status: kycreview.StatusNotStarted, VendorData: ptr("vendör-1"), Callback: ptr("myapp://done"),
		Metadata: []byte(`{"b":[1.0,2e3],"a":"é"}`), CreatedAt: epoch,
	}
	write(t, s, func(tx service.Tx) error { return tx.CreateSession(ctx, &in) })
	if in.PK == 0 || in.Number != 1 {
		t.Fatalf("CreateSession assigned PK %d number %d", in.PK, in.Number)
	}
	bare := a.newSession(t, s, kycreview.KindUser)
	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindSession(ctx, a.app.ID, in.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(in, got); diff != "" {
			t.Errorf("session round trip (-want +got):\n%s", diff)
		}
		got, err = tx.FindSession(ctx, a.app.ID, bare.ID)
		if err != nil {
			return err
		}
		if got.VendorData != nil || got.Callback != nil || got.Metadata != nil || !got.LastActivityAt.IsZero() {
			t.Errorf("null fields came back as %+v", got)
		}
		return nil
	})
	// UpdateSession writes status and counters.
	last := epoch.Add(time.Second)
	write(t, s, func(tx service.Tx) error {
		cur, err := tx.LockSession(ctx, a.app.ID, bare.ID)
		if err != nil {
			return err
		}
		cur.Status, cur.ActivityCount, cur.LastActivityAt = kycreview.StatusKycExpired, 7, last
		return tx.UpdateSession(ctx, cur)
	})
	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindSession(ctx, a.app.ID, bare.ID)
		if err == nil && (got.Status != kycreview.StatusKycExpired || got.ActivityCount != 7 || !got.LastActivityAt.Equal(last)) {
			t.Errorf("after UpdateSession: %+v", got)
		}
		return err
	})
}

func testListSessions(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	other.newSession(t, s, kycreview.KindUser)
	// Sessions 1–4 with these statuses, 5 with vendor_data, 6 KYB, 7 deleted.
	statuses := []kycreview.Status{kycreview.StatusInReview, kycreview.StatusApproved, kycreview.StatusInReview, kycreview.StatusDeclined}
	for _, st := range statuses {
		sess := a.newSession(t, s, kycreview.KindUser)
		sess.Status = st
		write(t, s, func(tx service.Tx) error { return tx.UpdateSession(ctx, sess) })
	}
	vendor := kycreview.Session{ID: uuid.NewString(), ApplicationID: a.app.ID, WorkflowID: a.user.ID, Kind: kycreview.KindUser,
		Status: kycreview.StatusNotStarted, VendorData: ptr("user-42"), CreatedAt: epoch}
	write(t, s, func(tx service.Tx) error { return tx.CreateSession(ctx, &vendor) })
	kyb := a.newSession(t, s, kycreview.KindBusiness)
	deleted := a.newSession(t, s, kycreview.KindUser)
	write(t, s, func(tx service.Tx) error { return tx.DeleteSession(ctx, deleted.PK, epoch) })

	numbers := func(f kycreview.SessionFilter) ([]int64, int) {
		t.Helper()
		f.ApplicationID = a.app.ID
		if f.Limit == 0 {
			f.Limit = 50
		}
		var out []int64
		var count int
		read(t, s, func(tx service.Tx) error {
			rows, n, err := tx.ListSessions(ctx, f)
			for _, r := range rows {
				out = append(out, r.Number)
			}
			count = n
			return err
		})
		return out, count
	}
	user := []kycreview.Kind{kycreview.KindUser}
	tests := []struct {
		name      string
		f         kycreview.SessionFilter
		want      []int64
		wantCount int
	}{
		{"all user sessions newest first", kycreview.SessionFilter{Kinds: user}, []int64{5, 4, 3, 2, 1}, 5},
		{"both kinds", kycreview.SessionFilter{}, []int64{6, 5, 4, 3, 2, 1}, 6},
		{"business only", kycreview.SessionFilter{Kinds: []kycreview.Kind{kycreview.KindBusiness}}, []int64{kyb.Number}, 1},
		{"status any-of", kycreview.SessionFilter{Kinds: user, Statuses: []kycreview.Status{kycreview.StatusInReview, kycreview.StatusDeclined}}, []int64{4, 3, 1}, 3},
		{"unknown status matches nothing", kycreview.SessionFilter{Kinds: user, Statuses: []kycreview.Status{"approved"}}, nil, 0},
		{"vendor_data exact", kycreview.SessionFilter{Kinds: user, VendorData: ptr("user-42")}, []int64{vendor.Number}, 1},
		{"vendor_data no partial match", kycreview.SessionFilter{Kinds: user, VendorData: ptr("user-4")}, nil, 0},
		{"page", kycreview.SessionFilter{Kinds: user, Limit: 2, Offset: 1}, []int64{4, 3}, 5},
		{"offset past the end", kycreview.SessionFilter{Kinds: user, Limit: 2, Offset: 10}, nil, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, count := numbers(tt.f)
			if diff := cmp.Diff(tt.want, got); diff != "" || count != tt.wantCount {
				t.Errorf("numbers (-want +got):\n%s\ncount = %d, want %d", diff, count, tt.wantCount)
			}
		})
	}
}

func testLockSerialises(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	sess := a.newSession(t, s, kycreview.KindUser)
	// Each transaction reads the counter under the lock, waits a little,
	// and writes it back plus one. Without real mutual exclusion some
	// increments would be lost.
	const n = 16
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.WriteTx(ctx, func(tx service.Tx) error {
				cur, err := tx.LockSession(ctx, a.app.ID, sess.ID)
				if err != nil {
					return err
				}
				time.Sleep(2 * time.Millisecond)
				cur.ActivityCount++
				return tx.UpdateSession(ctx, cur)
			})
			if err != nil {
				t.Errorf("WriteTx: %v", err)
			}
		}()
	}
	wg.Wait()
	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindSession(ctx, a.app.ID, sess.ID)
		if err == nil && got.ActivityCount != n {
			t.Errorf("ActivityCount = %d after %d locked increments", got.ActivityCount, n)
		}
		return err
	})
}
