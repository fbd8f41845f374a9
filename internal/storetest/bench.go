package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// BenchApp is the application the feed benchmarks seed; its sessions' ids
// are BenchSessionID(0), BenchSessionID(1), …
const BenchApp = "00000000-0000-4000-8000-00000000a001"

// BenchWorkflow is BenchApp's KYC workflow.
const BenchWorkflow = "00000000-0000-4000-8000-00000000a002"

// BenchSessionID is the id of the bench application's session n.
func BenchSessionID(n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n) }

// BenchEntrySQL is the SQL expression, common to both dialects, that renders
// a seeded feed row as Activity.EntryJSON does, from an expression for its
// id and one for its created_at text. The other values are the constants
// every seeded row has.
func BenchEntrySQL(id, createdAt string) string {
	return `'{"uuid":"' || ` + id + ` || '","activity_type":"STATUS_UPDATED","actor_display":"API Client",` +
		`"actor_email":null,"actor_type":"API_KEY","new_status":"Approved","previous_status":"In Review",` +
		`"comment":"Document re-checked manually; address matches.","mentioned_emails":[],` +
		`"previous_value":{"status":"In Review"},"new_value":{"status":"Approved"},"changed_fields":["status"],` +
		`"metadata":null,"created_at":"' || ` + createdAt + ` || '"}'`
}

// FeedBench is a backend's part of BenchmarkFeedPage.
type FeedBench struct {
	// Open returns an empty, migrated store.
	Open func(b *testing.B) service.Store
	// Seed fills it with the bench application and sessions × 20 feed rows
	// (STATUS_UPDATED, In Review to Approved, by an API key), with set-based
	// SQL: far faster than going through the API.
	Seed func(ctx context.Context, s service.Store, sessions int) error
	// Inspect, if set, runs once after seeding (to log query plans).
	Inspect func(ctx context.Context, b *testing.B, s service.Store, session int)
}

// BenchmarkFeedPage measures one feed page (the default ordering, 20 rows)
// through the service on tables of 10 thousand and 1 million activity rows,
// each in a fresh store. A page's cost should not grow with the table.
func BenchmarkFeedPage(b *testing.B, fb FeedBench) {
	for _, rows := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			ctx := context.Background()
			s := fb.Open(b)
			sessions := rows / 20
			if err := fb.Seed(ctx, s, sessions); err != nil {
				b.Fatal(err)
			}
			svc := service.New(s, time.Now)
			key := kycreview.APIKey{ApplicationID: BenchApp}
			checkSeeded(ctx, b, svc, key)
			if fb.Inspect != nil && testing.Verbose() {
				fb.Inspect(ctx, b, s, sessions/2)
			}
			q := kycreview.FeedQuery{Ordering: kycreview.DefaultFeedOrdering(), Limit: 20}
			b.ResetTimer()
			// The same number of distinct sessions at every size, spread over
			// the whole table: the comparison is of the query's cost, not of
			// how much of a larger table the cache holds.
			const hot = 500
			for i := 0; b.Loop(); i++ {
				id := BenchSessionID((i * 7919) % hot * (sessions / hot))
				page, count, err := svc.Feed(ctx, key, id, q)
				if err != nil || count != 20 || len(page) != 20 {
					b.Fatalf("feed %s: %d rows of %d, %v", id, len(page), count, err)
				}
			}
		})
	}
}

// checkSeeded makes sure the seeded entries are what the service itself
// would render for those rows, so the benchmark reads realistic pages.
func checkSeeded(ctx context.Context, b *testing.B, svc *service.Service, key kycreview.APIKey) {
	id := BenchSessionID(0)
	entries, _, err := svc.Feed(ctx, key, id, kycreview.FeedQuery{Ordering: []kycreview.OrderTerm{{Field: "created_at"}}, Limit: 20})
	if err != nil {
		b.Fatal(err)
	}
	d, err := svc.Decision(ctx, key, id)
	if err != nil {
		b.Fatal(err)
	}
	if len(entries) != 20 || len(d.Reviews) != 20 {
		b.Fatalf("seeded session: %d entries, %d rows", len(entries), len(d.Reviews))
	}
	for i, row := range d.Reviews {
		want, err := row.EntryJSON()
		if err != nil {
			b.Fatal(err)
		}
		if string(entries[i]) != string(want) {
			b.Fatalf("seeded entry %d:\n%s\nwant\n%s", i, entries[i], want)
		}
	}
}
