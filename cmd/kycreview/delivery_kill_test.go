package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kycreview/kycreview/client"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
)

// TestWebhooksSurviveSIGKILL kills the server with SIGKILL while deliveries
// are in flight (the receiver holds its answers), starts it again on the
// same database, and checks that every event reaches the receiver at least
// once, and that a resent event keeps its event_id. It runs on SQLite and
// on PostgreSQL.
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testWebhooksSurviveSIGKILL(t, "sqlite:"+filepath.Join(t.TempDir(), "kycreview.db"))
	})
	t.Run("postgres", func(t *testing.T) { testWebhooksSurviveSIGKILL(t, pgtest.URL(t)) })
}

func testWebhooksSurviveSIGKILL(t *testing.T, db string) {
	var mu sync.Mutex
	seen := map[string]int{} // event_id → requests
	slow := true
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		seen[ev.EventID]++
		hold := slow
		mu.Unlock()
		if hold {
			time.Sleep(700 * time.Millisecond) // still in flight when the server dies
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()

	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)
	key := app["api_key"].(string)
	flags := []string{"--webhook-allow-http", "--webhook-allow", "127.0.0.1/32", "--webhook-timeout", "1s", "--webhook-retries", "100ms*50"}
	p := startServer(t, db, flags...)
	base := "http://" + p.addr

	createDestination(t, base, key, rc.URL+"/hook")

	ctx := context.Background()
	c := client.New(base, key)
	workflow := app["workflows"].(map[string]any)["user"].(string)
	events := 0
	for i := 0; i < 5; i++ {
		s, err := c.CreateSession(ctx, client.CreateSessionRequest{WorkflowID: workflow})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []string{"In Review", "Approved", "Declined", "Approved"} {
			if _, err := c.CreateReview(ctx, s.SessionID, client.ReviewRequest{NewStatus: st}); err != nil {
				t.Fatal(err)
			}
			events++
		}
	}
	// Kill once the first deliveries are in flight.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery started within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	mu.Lock()
	before := len(seen)
	slow = false
	mu.Unlock()

	startServer(t, db, flags...)
	deadline = time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= events {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the receiver has %d of %d events", n, events)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	// Exactly the events written, by event_id: a redelivery after the kill
	// reused the id (more distinct ids would mean new ids were minted).
	if len(seen) != events {
		t.Errorf("receiver saw %d distinct event ids, want %d", len(seen), events)
	}
	again := 0
	for _, n := range seen {
		if n > 1 {
			again++
		}
	}
	t.Logf("%d events; %d had started before the kill; %d were received more than once", events, before, again)
}
