package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/postgres"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

func TestSessionID(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range []int{0, 1, 2, 1 << 20, 1<<32 + 1} {
		id := sessionID(s)
		if len(id) < 36 || seen[id] {
			t.Errorf("sessionID(%d) = %q: not a fresh UUID-shaped id", s, id)
		}
		seen[id] = true
	}
	if got, want := sessionID(1), "9e3779b1-0000-4000-8000-000000000001"; got != want {
		t.Errorf("sessionID(1) = %q, want %q (the SQL computes the same)", got, want)
	}
}

// TestSeedSQLite checks that seeded sessions read back through the service
// as the service itself would have written them. The 35 rows go in as
// chunks of 4, so a chunk boundary that lost or repeated a row would show.
func TestSeedSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ds, err := seedSQLite(ctx, dir, 7, 5, 4)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, dir+"/kycbench.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkSeeded(t, db, ds)
	// The feed's indexes were dropped for the bulk insert: they must be
	// back, as the migrations define them.
	got, err := sqliteFeedIndexes(ctx, dir+"/kycbench.db")
	if err != nil {
		t.Fatal(err)
	}
	fresh := t.TempDir() + "/fresh.db"
	fdb, err := sqlite.Open(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	fdb.Close()
	want, err := sqliteFeedIndexes(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("feed indexes after seeding = %v, want the migrations' %v", got, want)
	}
}

func TestSeedPostgres(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	ds, err := seedPostgres(ctx, &pgDatabase{url: url}, 7, 5)
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	checkSeeded(t, db, ds)
	got, err := postgresFeedIndexes(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].name != "activities_session_created" {
		t.Errorf("feed indexes after seeding = %v, want activities_session_created back", got)
	}
}

// checkSeeded reads every seeded session through the service: its feed must
// chain status to status from In Progress, and the session's status,
// activity count and last activity time must agree with its rows, as the
// service relies on them for the next review.
func checkSeeded(t *testing.T, store service.Store, ds dataset) {
	t.Helper()
	ctx := context.Background()
	svc := service.New(store, time.Now)
	key, err := svc.Authenticate(ctx, ds.Token)
	if err != nil {
		t.Fatalf("the seeded API key does not authenticate: %v", err)
	}
	if len(ds.SessionIDs) != ds.Sessions {
		t.Fatalf("%d session ids for %d sessions", len(ds.SessionIDs), ds.Sessions)
	}
	now := time.Now()
	oldest := []kycreview.OrderTerm{{Field: "created_at"}}
	for s, id := range ds.SessionIDs {
		entries, count, err := svc.Feed(ctx, key, id, kycreview.FeedQuery{Ordering: oldest, Limit: 1000})
		if err != nil {
			t.Fatalf("session %d (%s): %v", s, id, err)
		}
		if count != ds.Rows || len(entries) != ds.Rows {
			t.Fatalf("session %d: %d rows of %d, want %d", s, len(entries), count, ds.Rows)
		}
		// Every seeded row is a status row, so the decision lists them all,
		// with their columns; the entry the SQL built must be the one the
		// service would have rendered.
		dec, err := svc.Decision(ctx, key, id)
		if err != nil {
			t.Fatal(err)
		}
		rows := dec.Reviews
		if len(rows) != ds.Rows {
			t.Fatalf("session %d: %d status rows, want %d", s, len(rows), ds.Rows)
		}
		for g, row := range rows {
			want, err := row.EntryJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(entries[g]) != string(want) || string(row.Entry) != string(want) {
				t.Fatalf("session %d row %d: seeded entry\n%s\nwant\n%s", s, g+1, entries[g], want)
			}
		}
		prev := kycreview.Status("In Progress")
		for g, row := range rows {
			if row.Seq != int64(g+1) || row.Type != kycreview.ActivityStatusUpdated || row.PreviousStatus == nil ||
				*row.PreviousStatus != prev || row.NewStatus == nil || row.Comment == nil || *row.Comment == "" {
				t.Fatalf("session %d row %d: %+v", s, g+1, row)
			}
			wantActor := kycreview.ActorAPIKey
			if g == 0 {
				wantActor = kycreview.ActorSystem
			}
			if row.Actor.Type != wantActor {
				t.Errorf("session %d row %d: actor %s, want %s", s, g+1, row.Actor.Type, wantActor)
			}
			want := fmt.Sprintf(`{"status":%q}{"status":%q}`, prev, *row.NewStatus)
			if got := string(row.PreviousValue) + string(row.NewValue); got != want {
				t.Errorf("session %d row %d: values %s, want %s", s, g+1, got, want)
			}
			if diff := cmp.Diff([]string{"status"}, row.ChangedFields); diff != "" {
				t.Errorf("session %d row %d: changed fields (-want +got):\n%s", s, g+1, diff)
			}
			if !row.CreatedAt.Before(now) || (g > 0 && !row.CreatedAt.After(rows[g-1].CreatedAt)) {
				t.Errorf("session %d row %d: created at %v, after %v, before now", s, g+1, row.CreatedAt, rows[max(g-1, 0)].CreatedAt)
			}
			prev = *row.NewStatus
		}
		d, err := svc.Decision(ctx, key, id)
		if err != nil {
			t.Fatal(err)
		}
		last := rows[len(rows)-1]
		if d.Session.Status != *last.NewStatus || d.Session.ActivityCount != last.Seq ||
			!d.Session.LastActivityAt.Equal(last.CreatedAt) || d.Session.Kind != kycreview.KindUser ||
			!d.Session.CreatedAt.Before(rows[0].CreatedAt) {
			t.Errorf("session %d: %+v disagrees with its last row %+v", s, d.Session, last)
		}
	}
}
