package service_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// pausingStore is a real store whose Read, once armed, stops after the
// read and waits: the moment in Authenticate between looking a key up and
// remembering it.
type pausingStore struct {
	service.Store
	armed  atomic.Bool
	paused chan struct{}
	resume chan struct{}
}

func (p *pausingStore) Read(ctx context.Context, fn func(service.Tx) error) error {
	err := p.Store.Read(ctx, fn)
	if p.armed.CompareAndSwap(true, false) {
		p.paused <- struct{}{}
		<-p.resume
	}
	return err
}

// TestKeyCacheRevocationRace: a key revoked through this Service is refused
// by every request that starts after RevokeAPIKey returns, even when a
// request that read the key just before the revocation committed finishes
// after it (and would otherwise put the key back into the cache for the
// cache's whole TTL).
func TestKeyCacheRevocationRace(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := &pausingStore{Store: db, paused: make(chan struct{}), resume: make(chan struct{})}
	svc := service.New(store, time.Now, service.WithKeyCache(time.Minute))
	app, err := svc.CreateApplication(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	keyID, token, err := svc.CreateAPIKey(ctx, app.Application.ID, kycreview.RoleClient)
	if err != nil {
		t.Fatal(err)
	}

	// A request looks the key up (live), and stops there...
	store.armed.Store(true)
	inFlight := make(chan error, 1)
	go func() {
		_, err := svc.Authenticate(ctx, token)
		inFlight <- err
	}()
	<-store.paused
	// ...while the key is revoked through the same Service...
	if err := svc.RevokeAPIKey(ctx, keyID); err != nil {
		t.Fatal(err)
	}
	// ...then it finishes. It read the key before the revocation, so it
	// may be let through; what matters is what comes after.
	close(store.resume)
	<-inFlight

	if _, err := svc.Authenticate(ctx, token); kycreview.ErrorCode(err) != kycreview.EFORBIDDEN {
		t.Fatalf("a request after the revocation returned: %v, want EFORBIDDEN", err)
	}
}
