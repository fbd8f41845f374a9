package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// TestGroupCommit: concurrent writes that may share a commit keep their own
// outcomes. Each write creates an application; every third fails after
// writing and every seventh panics. Exactly the successful ones remain, each
// failure and panic reaches its own caller, and nothing else is touched.
func TestGroupCommit(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = s.WriteTx(ctx, func(tx service.Tx) error {
				app := kycreview.Application{ID: uuid.NewString(), Name: fmt.Sprint("app-", i), CreatedAt: time.Unix(0, 0)}
				if err := tx.CreateApplication(ctx, app); err != nil {
					return err
				}
				switch {
				case i%7 == 0:
					panic(fmt.Sprint("boom ", i))
				case i%3 == 0:
					return fmt.Errorf("refused %d", i)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	want := 0
	for i := 0; i < n; i++ {
		switch {
		case i%7 == 0:
			if panics[i] != fmt.Sprint("boom ", i) {
				t.Errorf("write %d: panic %v, want its own", i, panics[i])
			}
		case i%3 == 0:
			if errs[i] == nil || errs[i].Error() != fmt.Sprint("refused ", i) {
				t.Errorf("write %d: error %v, want its own", i, errs[i])
			}
		default:
			want++
			if errs[i] != nil || panics[i] != nil {
				t.Errorf("write %d: %v %v, want success", i, errs[i], panics[i])
			}
		}
	}
	var got int
	if err := s.ReadTx(ctx, func(tx service.Tx) error {
		var err error
		got, err = tx.CountApplications(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("%d applications stored, want the %d successful writes", got, want)
	}

	// A caller that gives up before its write starts gets its context's
	// error, and the write never happens.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err := s.WriteTx(cctx, func(tx service.Tx) error {
		return tx.CreateApplication(ctx, kycreview.Application{ID: uuid.NewString(), Name: "late", CreatedAt: time.Unix(0, 0)})
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled write: %v", err)
	}
	if err := s.ReadTx(ctx, func(tx service.Tx) error {
		_, err := tx.FindApplicationByName(ctx, "late")
		if kycreview.ErrorCode(err) != kycreview.ENOTFOUND {
			t.Errorf("the cancelled write happened anyway: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// After Close, writes are refused as unavailable, not hung.
	s.Close()
	err = s.WriteTx(ctx, func(service.Tx) error { return nil })
	if kycreview.ErrorCode(err) != kycreview.EUNAVAILABLE {
		t.Errorf("write after Close: %v", err)
	}
}
