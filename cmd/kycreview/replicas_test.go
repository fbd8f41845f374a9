package main

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/kycreview/kycreview/client"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
)

// TestReplicasShareOnePostgres runs two `kycreview serve` processes on one
// PostgreSQL database, as two replicas behind a load balancer, and checks
// that concurrent writes through both stay exact: one session's review
// chain, and session numbers that are unique and gapless.
func TestReplicasShareOnePostgres(t *testing.T) {
	db := pgtest.URL(t)
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)
	key := app["api_key"].(string)
	workflow := app["workflows"].(map[string]any)["user"].(string)
	ctx := context.Background()

	replicas := []*client.Client{
		client.New("http://"+startServer(t, db).addr, key),
		client.New("http://"+startServer(t, db).addr, key),
	}
	sess, err := replicas[0].CreateSession(ctx, client.CreateSessionRequest{WorkflowID: workflow})
	if err != nil {
		t.Fatal(err)
	}

	const reviews = 200
	statuses := []string{"Approved", "Declined", "In Review"}
	var wg sync.WaitGroup
	for i := 0; i < reviews; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := replicas[i%2]
			if _, err := c.CreateReview(ctx, sess.SessionID, client.ReviewRequest{NewStatus: statuses[rand.IntN(3)]}); err != nil {
				t.Errorf("review %d: %v", i, err)
			}
		}()
	}
	wg.Wait()

	var rows []client.FeedEntry
	for r, err := range replicas[1].FeedEntries(ctx, sess.SessionID, client.FeedParams{Ordering: "created_at", Limit: 64}) {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if len(rows) != reviews {
		t.Fatalf("feed has %d rows, want %d", len(rows), reviews)
	}
	prev := "Not Started"
	for i, r := range rows {
		if *r.PreviousStatus != prev {
			t.Errorf("row %d: previous_status %q, want %q", i, *r.PreviousStatus, prev)
		}
		prev = *r.NewStatus
	}
	d, err := replicas[0].Decision(ctx, sess.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != prev {
		t.Errorf("session status %q, want the last row's %q", d.Status, prev)
	}

	// Concurrent creation through both replicas.
	const created = 100
	numbers := make(chan int64, created)
	for i := 0; i < created; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := replicas[i%2].CreateSession(ctx, client.CreateSessionRequest{WorkflowID: workflow})
			if err != nil {
				t.Errorf("create %d: %v", i, err)
				return
			}
			numbers <- s.SessionNumber
		}()
	}
	wg.Wait()
	close(numbers)
	var got []int64
	for n := range numbers {
		got = append(got, n)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	for i, n := range got {
		if n != int64(i+2) { // session 1 is the reviewed one
			t.Fatalf("session numbers are not unique and gapless: %v", got)
		}
	}
}
