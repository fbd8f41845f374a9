package service_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// clock is a settable clock for the key cache's expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestKeyCacheRevocation pins the key cache's trade-off: a key revoked by
// another process (here another Service on the same file, as the admin
// command is) is still accepted until the entry expires, never after; one
// revoked through the same Service is refused at once; and a wrong secret
// is refused even when its lookup prefix is cached.
func TestKeyCacheRevocation(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	server := service.New(db, clk.now, service.WithKeyCache(time.Second))
	admin := service.New(db, clk.now) // another process: no shared cache

	app, err := admin.CreateApplication(ctx, "cache")
	if err != nil {
		t.Fatal(err)
	}
	keyID, token, err := admin.CreateAPIKey(ctx, app.Application.ID, kycreview.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, token); err != nil {
		t.Fatalf("fresh key: %v", err)
	}

	// Same lookup prefix, different secret: the cached entry must not vouch
	// for it.
	last := byte('A')
	if token[len(token)-1] == 'A' {
		last = 'B'
	}
	forged := token[:len(token)-1] + string(last)
	if _, err := server.Authenticate(ctx, forged); kycreview.ErrorCode(err) != kycreview.EFORBIDDEN {
		t.Errorf("forged token with a cached prefix: err %v, want forbidden", err)
	}

	if err := admin.RevokeAPIKey(ctx, keyID); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, token); err != nil {
		t.Errorf("within the TTL a key revoked elsewhere is still accepted (the documented trade-off); got %v", err)
	}
	clk.advance(time.Second)
	if _, err := server.Authenticate(ctx, token); kycreview.ErrorCode(err) != kycreview.EFORBIDDEN {
		t.Errorf("after the TTL the revoked key must be refused; got err %v", err)
	}

	// Revoked through the serving Service itself: refused at once.
	keyID2, token2, err := admin.CreateAPIKey(ctx, app.Application.ID, kycreview.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, token2); err != nil {
		t.Fatal(err)
	}
	if err := server.RevokeAPIKey(ctx, keyID2); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, token2); kycreview.ErrorCode(err) != kycreview.EFORBIDDEN {
		t.Errorf("key revoked through the same Service: err %v, want forbidden at once", err)
	}
}

// TestKeyCacheOff checks that without the option a revocation anywhere is
// seen by the next request.
func TestKeyCacheOff(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	server, admin := service.New(db, nil), service.New(db, nil)
	app, err := admin.CreateApplication(ctx, "nocache")
	if err != nil {
		t.Fatal(err)
	}
	keyID, token, err := admin.CreateAPIKey(ctx, app.Application.ID, kycreview.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	if err := admin.RevokeAPIKey(ctx, keyID); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, token); kycreview.ErrorCode(err) != kycreview.EFORBIDDEN {
		t.Errorf("revoked key with the cache off: err %v, want forbidden", err)
	}
}
