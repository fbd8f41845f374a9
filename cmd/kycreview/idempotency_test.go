package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

func TestIdempotencyConfig(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "x.db")
	for _, args := range [][]string{
		{"serve", "--db", db, "--idempotency-ttl", "1h"},
		{"serve", "--db", db, "--idempotency-ttl", "721h"},
	} {
		if _, err := cli(t, nil, args...); exitCode(err) != 2 || !strings.Contains(err.Error(), "idempotency TTL") {
			t.Errorf("%v: %v", args, err)
		}
	}
	if _, err := cli(t, map[string]string{"KYCREVIEW_IDEMPOTENCY_TTL": "a day"}, "serve", "--db", db); exitCode(err) != 2 {
		t.Errorf("a bad KYCREVIEW_IDEMPOTENCY_TTL: %v", err)
	}
	cfg := defaultConfig()
	if err := cfg.fromEnv(func(k string) string { return map[string]string{"KYCREVIEW_IDEMPOTENCY_TTL": "36h"}[k] }); err != nil || cfg.IdempotencyTTL != 36*time.Hour {
		t.Errorf("KYCREVIEW_IDEMPOTENCY_TTL=36h: %v, %v", cfg.IdempotencyTTL, err)
	}
	if d := defaultConfig().IdempotencyTTL; d != 24*time.Hour {
		t.Errorf("default TTL %v, want 24h", d)
	}
}

// TestServeIdempotency runs serve with --idempotency-ttl 48h: a retry is
// replayed, and the purge that starts with serve deletes a record older
// than 48 hours and keeps one of 25.
func TestServeIdempotency(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "kycreview.db")
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)
	token := app["api_key"].(string)
	ctx := context.Background()

	store, err := openStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	key, err := service.New(store, time.Now).Authenticate(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for name, age := range map[string]time.Duration{"old": 49 * time.Hour, "kept": 25 * time.Hour} {
		rec := service.IdempotencyRecord{APIKeyID: key.ID, Key: name, Fingerprint: "POST /v3/session sha256:00",
			Response:  service.Response{Status: 201, Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(`{}`)},
			CreatedAt: now.Add(-age)}
		if err := store.WriteTx(ctx, func(tx service.Tx) error {
			_, err := tx.InsertIdempotencyRecord(ctx, rec, now.Add(-100*time.Hour))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	find := func(name string) error {
		return store.Read(ctx, func(tx service.Tx) error {
			_, err := tx.FindIdempotencyRecord(ctx, key.ID, name)
			return err
		})
	}

	srv := startServer(t, db, "--idempotency-ttl", "48h")
	deadline := time.Now().Add(20 * time.Second)
	for kycreview.ErrorCode(find("old")) != kycreview.ENOTFOUND {
		if time.Now().After(deadline) {
			t.Fatal("serve did not purge the expired record")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := find("kept"); err != nil {
		t.Errorf("a record 25h old, with a 48h TTL: %v", err)
	}

	post := func() (*http.Response, string) {
		req, _ := http.NewRequest("POST", "http://"+srv.addr+"/v3/session/",
			strings.NewReader(`{"workflow_id":"`+app["workflows"].(map[string]any)["user"].(string)+`"}`))
		req.Header.Set("x-api-key", token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "once")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	first, body := post()
	again, replayed := post()
	if first.StatusCode != 201 || again.StatusCode != 201 || replayed != body || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: %d %s, then %d %s %v", first.StatusCode, body, again.StatusCode, replayed, again.Header)
	}
}
