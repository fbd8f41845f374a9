package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/httpapi"
	"github.com/kycreview/kycreview/internal/postgres"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// Idempotency keys (issue 9, item 7): every POST and PATCH takes an
// Idempotency-Key. A retry with the same key and request answers the first
// response byte for byte, marked Idempotent-Replayed, and writes nothing;
// the key with another request is a 422; keys are per API key, kept 24
// hours, never burnt by an error, and never let two concurrent requests
// both write, on one server or on two over one database.

const detailKeyMismatch = `{"detail":"This Idempotency-Key was already used with different request parameters (method, path or body). Use a new key for a new request."}`

const detailKeyForm = `{"detail":"Idempotency-Key must be sent once, as 1 to 255 printable ASCII characters."}`

// idem sends a JSON request with the env's client key and an
// Idempotency-Key.
func (e *env) idem(method, path, body, key string) response {
	e.t.Helper()
	return e.do(method, path, body, e.key(), jsonType, "Idempotency-Key: "+key)
}

// dbState renders every row an API write can add or change, so a test can
// show a replay changed nothing at all.
func (e *env) dbState() string {
	e.t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, status, activity_count, deleted_at FROM sessions ORDER BY pk`,
		`SELECT id, session_pk, seq, new_status, comment FROM activities ORDER BY pk`,
		`SELECT id, session_pk FROM webhook_outbox ORDER BY pk`,
		`SELECT id, state, attempts, next_attempt_at FROM webhook_deliveries ORDER BY pk`,
		`SELECT id, activity_pk, user_id FROM notifications ORDER BY id`,
		`SELECT id, label, url, enabled, subscribed_events, secret, updated_at, deleted_at FROM webhook_destinations ORDER BY pk`,
		`SELECT api_key_id, key, fingerprint, status, body, created_at FROM idempotency_keys ORDER BY api_key_id, key`,
	} {
		rows, err := e.raw().Query(q)
		if err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				e.t.Fatal(err)
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v|", v)
			}
			b.WriteByte('\n')
		}
		if err := rows.Close(); err != nil {
			e.t.Fatal(err)
		}
		b.WriteString("--\n")
	}
	return b.String()
}

// idemCase is one endpoint under test: how to get to a state where the
// request can be made, the request, another body, and what may happen to
// the state between the first request and its replay.
type idemCase struct {
	name   string
	method string
	status int
	// setup prepares the env and returns the request's path and body, and
	// a different body for the same path.
	setup func(e *env) (path, body, otherBody string)
	// meanwhile, if set, changes the state after the first request without
	// the key, as another client would: a replay must not undo it.
	meanwhile func(e *env, path string)
	// check, if set, looks at the state after the replays.
	check func(t *testing.T, e *env, path string)
}

func idemCases() []idemCase {
	return []idemCase{
		{
			name: "review", method: "POST", status: 201,
			setup: func(e *env) (string, string, string) {
				if _, err := e.svc.CreateConsoleUser(context.Background(), e.app.Application.ID, "ana@example.com", "Ana"); err != nil {
					e.t.Fatal(err)
				}
				e.createDestination(e.key(), `{"label":"Hook","url":"`+hookURL+`","subscribed_events":["status.updated"]}`)
				path := "/v3/sessions/" + e.newSession(kycreview.KindUser) + "/reviews/"
				return path, `{"new_status":"Approved","comment":"ok, @ana@example.com"}`, `{"new_status":"Declined"}`
			},
			// The session is deleted meanwhile: sent again, the review
			// would be a 404; the replay answers the 201.
			meanwhile: func(e *env, path string) {
				id := strings.Split(path, "/")[3]
				if res := e.do("DELETE", "/v3/session/"+id+"/delete/", "", e.key()); res.status != 204 {
					e.t.Fatalf("delete: %d %s", res.status, res.body)
				}
			},
			check: func(t *testing.T, e *env, path string) {
				// One feed row, one event, one delivery, one notification.
				for table, want := range map[string]int{"activities": 1, "webhook_outbox": 1, "webhook_deliveries": 1, "notifications": 1} {
					if n := e.count(`SELECT count(*) FROM ` + table); n != want {
						t.Errorf("%s: %d rows, want %d", table, n, want)
					}
				}
			},
		},
		{
			name: "create session", method: "POST", status: 201,
			setup: func(e *env) (string, string, string) {
				wf := e.app.Workflows[kycreview.KindUser].ID
				return "/v3/session/", `{"workflow_id":"` + wf + `","vendor_data":"user-1"}`, `{"workflow_id":"` + wf + `","vendor_data":"user-2"}`
			},
			check: func(t *testing.T, e *env, path string) {
				if n := e.count(`SELECT count(*) FROM sessions`); n != 1 {
					t.Errorf("%d sessions, want 1", n)
				}
			},
		},
		{
			name: "update status", method: "PATCH", status: 200,
			setup: func(e *env) (string, string, string) {
				id := e.newSession(kycreview.KindUser)
				e.moveTo(id, kycreview.StatusInReview)
				return "/v3/session/" + id + "/update-status/", `{"new_status":"Approved","comment":"fine"}`, `{"new_status":"Declined"}`
			},
			// Sent again, the request would now fail ("the same status"):
			// the replay answers 200 all the same.
			check: func(t *testing.T, e *env, path string) {
				if n := e.count(`SELECT count(*) FROM activities`); n != 2 { // the move to In Review, and this
					t.Errorf("%d feed rows, want 2", n)
				}
			},
		},
		{
			name: "create destination", method: "POST", status: 201,
			setup: func(e *env) (string, string, string) {
				return destinationsPath, `{"label":"Prod","url":"` + hookURL + `","subscribed_events":["status.updated"]}`,
					`{"label":"Prod","url":"` + hookURL + `/2","subscribed_events":["status.updated"]}`
			},
			// Sent again it would be refused (the URL is taken); the replay
			// answers the same secret.
			check: func(t *testing.T, e *env, path string) {
				if n := e.count(`SELECT count(*) FROM webhook_destinations`); n != 1 {
					t.Errorf("%d destinations, want 1", n)
				}
			},
		},
		{
			name: "update destination", method: "PATCH", status: 200,
			setup: func(e *env) (string, string, string) {
				d := e.createDestination(e.key(), `{"label":"Prod","url":"`+hookURL+`","subscribed_events":["status.updated"]}`)
				return destinationsPath + d.UUID + "/", `{"label":"Renamed"}`, `{"label":"Other name"}`
			},
			meanwhile: func(e *env, path string) {
				if res := e.do("PATCH", path, `{"label":"Changed since"}`, e.key(), jsonType); res.status != 200 {
					e.t.Fatalf("patch: %d %s", res.status, res.body)
				}
			},
			check: func(t *testing.T, e *env, path string) {
				if d := decodeDestination(t, e.do("GET", path, "", e.key()).body); d.Label != "Changed since" {
					t.Errorf("label %q: the replay wrote", d.Label)
				}
			},
		},
		{
			name: "resend delivery", method: "POST", status: 202,
			setup: func(e *env) (string, string, string) {
				d := e.createDestination(e.key(), `{"label":"Prod","url":"`+hookURL+`","subscribed_events":["status.updated"]}`)
				e.review(e.newSession(kycreview.KindUser), "Approved")
				delivery := e.deliveries(d.UUID, "")[0]
				return destinationsPath + d.UUID + "/deliveries/" + delivery.UUID + "/resend/", "", `{"again":true}`
			},
			// The dispatcher tries the delivery meanwhile; a resend would
			// reset its attempt count.
			meanwhile: func(e *env, path string) { e.exec(`UPDATE webhook_deliveries SET attempts = 7`) },
			check: func(t *testing.T, e *env, path string) {
				if n := e.count(`SELECT attempts FROM webhook_deliveries`); n != 7 {
					t.Errorf("attempts = %d: the replay requeued the delivery", n)
				}
			},
		},
	}
}

// TestIdempotentReplay, for every POST and PATCH: the first request runs
// and records its answer; the same request with the key (with or without
// the trailing slash) gets that answer byte for byte, marked, and writes
// nothing; the key with another body or on another endpoint is a 422 that
// writes nothing either.
func TestIdempotentReplay(t *testing.T) {
	for _, c := range idemCases() {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			path, body, otherBody := c.setup(e)
			const key = "3f1c0a9e-retry-me"

			first := e.idem(c.method, path, body, key)
			if first.status != c.status {
				t.Fatalf("first request: %d %s", first.status, first.body)
			}
			if first.header.Get("Content-Type") != "application/json" || first.header.Get("Idempotent-Replayed") != "" {
				t.Errorf("first request's headers: %v", first.header)
			}
			if c.meanwhile != nil {
				c.meanwhile(e, path)
			}
			before := e.dbState()

			for _, p := range []string{path, strings.TrimSuffix(path, "/")} {
				again := e.idem(c.method, p, body, key)
				expectAt(t, "replay of "+p, again, first.status, first.body)
				if again.header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("replay of %s: Idempotent-Replayed = %q, want true", p, again.header.Get("Idempotent-Replayed"))
				}
			}
			expectAt(t, "same key, other body", e.idem(c.method, path, otherBody, key), 422, detailKeyMismatch)
			expectAt(t, "same key, other endpoint", e.idem("POST", "/v3/session/", `{"workflow_id":"`+e.app.Workflows[kycreview.KindUser].ID+`"}`, key),
				422, detailKeyMismatch)
			if c.method == "POST" {
				// The same path and body with another method is another request.
				expectAt(t, "same key, other method", e.idem("PATCH", path, body, key), 405, `{"detail":"Method \"PATCH\" not allowed."}`)
			}
			if after := e.dbState(); after != before {
				t.Errorf("a replay or a refused key wrote:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if c.check != nil {
				c.check(t, e, path)
			}
			// The body's bytes are the request: the same JSON spelled
			// differently is another request.
			if body != "" {
				expectAt(t, "same key, body re-encoded", e.idem(c.method, path, " "+body, key), 422, detailKeyMismatch)
			}
		})
	}
}

// TestIdempotencyKeyScope: a key belongs to the API key that sent it.
// Another key of the same application, or another application's key, may
// use the same value for its own request.
func TestIdempotencyKeyScope(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, second, err := e.svc.CreateAPIKey(ctx, e.app.Application.ID, kycreview.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.CreateApplication(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	const key = "same-value"
	bodies := map[string]string{}
	for _, c := range []struct{ token, workflow string }{
		{e.token, e.app.Workflows[kycreview.KindUser].ID},
		{second, e.app.Workflows[kycreview.KindUser].ID},
		{other.Token, other.Workflows[kycreview.KindUser].ID},
	} {
		body := `{"workflow_id":"` + c.workflow + `"}`
		res := e.do("POST", "/v3/session/", body, "x-api-key: "+c.token, jsonType, "Idempotency-Key: "+key)
		if res.status != 201 || res.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("first use by key %s…: %d %s %v", c.token[:8], res.status, res.body, res.header)
		}
		bodies[c.token] = res.body
		again := e.do("POST", "/v3/session/", body, "x-api-key: "+c.token, jsonType, "Idempotency-Key: "+key)
		expectAt(t, "replay", again, 201, res.body)
	}
	if len(bodies) != 3 || bodies[e.token] == bodies[second] {
		t.Errorf("the keys' answers are not their own: %v", bodies)
	}
	if n := e.count(`SELECT count(*) FROM sessions`); n != 3 {
		t.Errorf("%d sessions, want one per API key", n)
	}
	if n := e.count(`SELECT count(*) FROM idempotency_keys`); n != 3 {
		t.Errorf("%d records, want one per API key", n)
	}
}

// TestIdempotencyKeyForm: a key is 1 to 255 printable ASCII characters,
// sent once; anything else is a 400 that writes nothing. The header means
// nothing on GET and DELETE.
func TestIdempotencyKeyForm(t *testing.T) {
	e := newEnv(t)
	body := `{"workflow_id":"` + e.app.Workflows[kycreview.KindUser].ID + `"}`
	before := e.dbState()
	for name, key := range map[string]string{
		"empty":     "",
		"too long":  strings.Repeat("k", 256),
		"non-ASCII": "clé",
		"tab":       "a\tb",
	} {
		expectAt(t, name, e.idem("POST", "/v3/session/", body, key), 400, detailKeyForm)
	}
	req, _ := http.NewRequest("POST", e.url+"/v3/session/", strings.NewReader(body))
	req.Header.Set("x-api-key", e.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("Idempotency-Key", "one")
	req.Header.Add("Idempotency-Key", "two")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	expectAt(t, "sent twice", response{status: res.StatusCode, header: res.Header, body: string(b)}, 400, detailKeyForm)
	if after := e.dbState(); after != before {
		t.Errorf("a refused key wrote:\n%s\n%s", before, after)
	}

	// The longest key, and every printable character.
	for _, key := range []string{strings.Repeat("k", 255), " !\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~"} {
		first := e.idem("POST", "/v3/session/", body, key)
		if first.status != 201 {
			t.Fatalf("key %q: %d %s", key, first.status, first.body)
		}
		expectAt(t, "replay", e.idem("POST", "/v3/session/", body, key), 201, first.body)
	}

	// GET and DELETE ignore the header, whatever it holds.
	id := e.newSession(kycreview.KindUser)
	if res := e.idem("GET", "/v3/sessions/"+id+"/reviews/", "", "\tnot a key"); res.status != 200 {
		t.Errorf("GET with a malformed key: %d %s", res.status, res.body)
	}
	if res := e.idem("DELETE", "/v3/session/"+id+"/delete/", "", "k"); res.status != 204 {
		t.Errorf("DELETE with a key: %d %s", res.status, res.body)
	}
	if res := e.idem("DELETE", "/v3/session/"+id+"/delete/", "", "k"); res.status != 404 {
		t.Errorf("DELETE again with the same key: %d %s, want 404: DELETE is not replayed", res.status, res.body)
	}
}

// TestIdempotencyErrorsNotStored: a request that fails writes nothing and
// records nothing, so the key stays free: a validation error, a 404, and a
// 500 (the database failing mid-transaction) are each followed by a retry
// with the same key that runs.
func TestIdempotencyErrorsNotStored(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	path := "/v3/sessions/" + id + "/reviews/"

	expectAt(t, "invalid body", e.idem("POST", path, `{"new_status":"Resubmitted"}`, "k1"), 400,
		`{"new_status":["\"Resubmitted\" is not a valid choice."]}`)
	expectAt(t, "unknown session", e.idem("POST", "/v3/sessions/"+errUnknownID+"/reviews/", `{"new_status":"Approved"}`, "k2"), 404, detailSessionNotFound)
	expectAt(t, "retry of the 404", e.idem("POST", "/v3/sessions/"+errUnknownID+"/reviews/", `{"new_status":"Approved"}`, "k2"), 404, detailSessionNotFound)
	if n := e.count(`SELECT count(*) FROM idempotency_keys`); n != 0 {
		t.Errorf("errors were recorded: %d records", n)
	}
	// k1 and k2 were not burnt: other requests may use them.
	if res := e.idem("POST", path, `{"new_status":"In Review"}`, "k1"); res.status != 201 {
		t.Errorf("k1 after its 400: %d %s", res.status, res.body)
	}
	if res := e.idem("POST", path, `{"new_status":"In Review"}`, "k2"); res.status != 201 {
		t.Errorf("k2 after its 404: %d %s", res.status, res.body)
	}

	// A 500 in the middle of the write: nothing written, nothing recorded,
	// and the retry runs once.
	before := e.writeCounts()
	e.breakInserts("webhook_outbox")
	expectAt(t, "database failure", e.idem("POST", path, `{"new_status":"Approved"}`, "k3"), 500, `{"detail":"Internal error."}`)
	e.mendInserts("webhook_outbox")
	e.sameWrites(t, before)
	if n := e.count(`SELECT count(*) FROM idempotency_keys WHERE key = 'k3'`); n != 0 {
		t.Errorf("the 500 was recorded")
	}
	first := e.idem("POST", path, `{"new_status":"Approved"}`, "k3")
	if first.status != 201 || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after the 500: %d %s", first.status, first.body)
	}
	expectAt(t, "replay", e.idem("POST", path, `{"new_status":"Approved"}`, "k3"), 201, first.body)
	if n := e.count(`SELECT count(*) FROM activities`); n != 3 {
		t.Errorf("%d feed rows, want 3", n)
	}
}

// TestIdempotencyRecordAtomic: the record is written in the write's own
// transaction. When it cannot be written the write is rolled back with it:
// never a write without its record (which a retry would repeat).
func TestIdempotencyRecordAtomic(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	path := "/v3/sessions/" + id + "/reviews/"
	before, state := e.writeCounts(), e.dbState()
	e.breakInserts("idempotency_keys")
	expectAt(t, "record cannot be written", e.idem("POST", path, `{"new_status":"Approved"}`, "k"), 500, `{"detail":"Internal error."}`)
	expectAt(t, "create session", e.idem("POST", "/v3/session/", `{"workflow_id":"`+e.app.Workflows[kycreview.KindUser].ID+`"}`, "k2"),
		500, `{"detail":"Internal error."}`)
	e.mendInserts("idempotency_keys")
	e.sameWrites(t, before)
	if after := e.dbState(); after != state {
		t.Errorf("the failed writes left rows:\n%s\n%s", state, after)
	}
	if res := e.idem("POST", path, `{"new_status":"Approved"}`, "k"); res.status != 201 {
		t.Errorf("retry: %d %s", res.status, res.body)
	}
	if n := e.count(`SELECT count(*) FROM activities`); n != 1 {
		t.Errorf("%d feed rows, want 1", n)
	}
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestIdempotencyExpiry: a key is kept 24 hours (to the microsecond); after
// that it is as if it had never been used (the request runs again, and
// its new answer is what later retries get), and the purge deletes expired
// records in batches, leaving live ones.
func TestIdempotencyExpiry(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 6, 12, 9, 0, 0, 0, time.UTC)}
	e := newEnv(t, func(e *env) { e.now = clock.Now })
	body := `{"workflow_id":"` + e.app.Workflows[kycreview.KindUser].ID + `"}`

	first := e.idem("POST", "/v3/session/", body, "day-old")
	if first.status != 201 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	clock.Add(24 * time.Hour)
	expectAt(t, "replay at 24h", e.idem("POST", "/v3/session/", body, "day-old"), 201, first.body)
	expectAt(t, "other body at 24h", e.idem("POST", "/v3/session/", `{}`, "day-old"), 422, detailKeyMismatch)

	clock.Add(time.Microsecond)
	second := e.idem("POST", "/v3/session/", body, "day-old")
	if second.status != 201 || second.body == first.body || second.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("after 24h the request must run again: %d %s", second.status, second.body)
	}
	expectAt(t, "replay of the second run", e.idem("POST", "/v3/session/", body, "day-old"), 201, second.body)
	if n := e.count(`SELECT count(*) FROM sessions`); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
	// An expired key may also be reused for another request.
	clock.Add(25 * time.Hour)
	if res := e.idem("POST", "/v3/session/", `{"workflow_id":"`+e.app.Workflows[kycreview.KindBusiness].ID+`"}`, "day-old"); res.status != 201 {
		t.Errorf("expired key, new request: %d %s", res.status, res.body)
	}

	// Purge: five records expire, two stay live.
	for i := 0; i < 5; i++ {
		e.idem("POST", "/v3/session/", body, fmt.Sprint("old-", i))
	}
	clock.Add(12 * time.Hour)
	for i := 0; i < 2; i++ {
		e.idem("POST", "/v3/session/", body, fmt.Sprint("young-", i))
	}
	clock.Add(12*time.Hour + time.Second) // old-* are past 24h, young-* are 12h old
	if n := e.count(`SELECT count(*) FROM idempotency_keys`); n != 8 {
		t.Fatalf("%d records before the purge, want 8", n)
	}
	// old-* and day-old's record (its last use was with old-*) expire.
	n, err := e.svc.PurgeIdempotencyKeys(context.Background(), 2) // batches of 2: four transactions
	if err != nil || n != 6 {
		t.Errorf("purge: %d, %v; want 6", n, err)
	}
	if n := e.count(`SELECT count(*) FROM idempotency_keys WHERE key LIKE 'young-%'`); n != 2 {
		t.Errorf("live records left: %d, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM idempotency_keys`); n != 2 {
		t.Errorf("%d records after the purge, want 2", n)
	}
	// What was purged was expired already: the key runs afresh.
	if res := e.idem("POST", "/v3/session/", body, "old-0"); res.status != 201 || res.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("purged key: %d %s %v", res.status, res.body, res.header)
	}
}

// TestIdempotencyTTLOption: the retention is the service's setting.
func TestIdempotencyTTLOption(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 6, 12, 9, 0, 0, 0, time.UTC)}
	e := newEnv(t, func(e *env) { e.now = clock.Now }, withServiceOptions(service.WithIdempotencyTTL(48*time.Hour)))
	body := `{"workflow_id":"` + e.app.Workflows[kycreview.KindUser].ID + `"}`
	first := e.idem("POST", "/v3/session/", body, "k")
	clock.Add(48 * time.Hour)
	expectAt(t, "replay at 48h", e.idem("POST", "/v3/session/", body, "k"), 201, first.body)
	clock.Add(time.Microsecond)
	if res := e.idem("POST", "/v3/session/", body, "k"); res.status != 201 || res.body == first.body {
		t.Errorf("after 48h: %d %s", res.status, res.body)
	}
}

// secondServer runs another service and API over the env's database, as a
// second replica (or, on SQLite, a second process on the same file) would.
func (e *env) secondServer() string {
	e.t.Helper()
	ctx := context.Background()
	var store service.Store
	var err error
	switch e.backend {
	case "sqlite":
		path, _, _ := strings.Cut(strings.TrimPrefix(e.dbURL, "file:"), "?")
		store, err = sqlite.Open(ctx, path)
	case "postgres":
		store, err = postgres.Open(ctx, e.dbURL)
	}
	if err != nil {
		e.t.Fatalf("second store: %v", err)
	}
	srv := httptest.NewServer(httpapi.New(service.New(store, e.now, e.svcOpts...), e.cfg, slog.New(slog.NewTextHandler(io.Discard, nil))))
	e.t.Cleanup(func() { srv.Close(); store.Close() })
	return srv.URL
}

// TestIdempotencyConcurrent: many requests with one key at once, on one
// server and spread over two servers sharing the database. Exactly one
// write happens; every answer is the first one's (the others waited and
// replayed it) or, across servers, at worst a 409 to retry; the same key
// with different bodies at once gives one write and 422s.
func TestIdempotencyConcurrent(t *testing.T) {
	e := newEnv(t)
	urls := []string{e.url, e.secondServer()}
	workflow := e.app.Workflows[kycreview.KindUser].ID

	// race sends n requests at once, request i to urls[i%servers] with
	// bodies[i%len(bodies)], and returns the answers.
	race := func(method, path string, servers, n int, key string, bodies ...string) []response {
		out := make([]response, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(method, urls[i%servers]+path, strings.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("x-api-key", e.token)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", key)
				<-start
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				out[i] = response{status: res.StatusCode, header: res.Header, body: string(b)}
			}()
		}
		close(start)
		wg.Wait()
		return out
	}
	// oneWrite checks that exactly one answer is a first run, and that
	// every other is its replay (or a 409 when allowed).
	oneWrite := func(name string, got []response, status int, allow409 bool) {
		t.Helper()
		var firsts []response
		for _, r := range got {
			if r.status == status && r.header.Get("Idempotent-Replayed") == "" {
				firsts = append(firsts, r)
			}
		}
		if len(firsts) != 1 {
			t.Fatalf("%s: %d first runs, want 1: %v", name, len(firsts), got)
		}
		for i, r := range got {
			switch {
			case r.status == status && r.body == firsts[0].body:
			case allow409 && r.status == 409 && r.body == `{"detail":"A request with this Idempotency-Key is being processed. Retry it later."}`:
			default:
				t.Errorf("%s: answer %d is %d %s, want the first's %s", name, i, r.status, r.body, firsts[0].body)
			}
		}
	}

	for _, servers := range []int{1, 2} {
		key := fmt.Sprint("race-", servers)
		sessions := e.count(`SELECT count(*) FROM sessions`)
		oneWrite(fmt.Sprint("create session on ", servers), race("POST", "/v3/session/", servers, 12, key, `{"workflow_id":"`+workflow+`"}`), 201, servers > 1)
		if n := e.count(`SELECT count(*) FROM sessions`); n != sessions+1 {
			t.Errorf("%d servers: %d sessions created, want 1", servers, n-sessions)
		}

		id := e.newSession(kycreview.KindUser)
		path := "/v3/sessions/" + id + "/reviews/"
		oneWrite(fmt.Sprint("review on ", servers), race("POST", path, servers, 12, key+"-review", `{"new_status":"Approved","comment":"once"}`), 201, servers > 1)
		if n := e.count(`SELECT count(*) FROM activities a JOIN sessions s ON s.pk = a.session_pk WHERE s.id = ?`, id); n != 1 {
			t.Errorf("%d servers: %d feed rows, want 1", servers, n)
		}

		// Sent twice without a key, the second would be refused ("the same
		// status"); with one, every answer is the first's.
		id = e.newSession(kycreview.KindUser)
		e.moveTo(id, kycreview.StatusInReview)
		oneWrite(fmt.Sprint("update status on ", servers), race("PATCH", "/v3/session/"+id+"/update-status/", servers, 12, key+"-status", `{"new_status":"Approved"}`), 200, servers > 1)
		if n := e.count(`SELECT count(*) FROM activities a JOIN sessions s ON s.pk = a.session_pk WHERE s.id = ?`, id); n != 2 {
			t.Errorf("%d servers: %d feed rows, want 2 (In Review, then Approved once)", servers, n)
		}

		// One key, different bodies at once: one write, the rest 422 (or a
		// 409 across servers).
		sessions = e.count(`SELECT count(*) FROM sessions`)
		got := race("POST", "/v3/session/", servers, 12, key+"-mixed",
			`{"workflow_id":"`+workflow+`","vendor_data":"a"}`, `{"workflow_id":"`+workflow+`","vendor_data":"b"}`)
		writes := 0
		for _, r := range got {
			switch {
			case r.status == 201 && r.header.Get("Idempotent-Replayed") == "":
				writes++
			case r.status == 201, r.status == 422 && r.body == detailKeyMismatch, servers > 1 && r.status == 409:
			default:
				t.Errorf("mixed bodies: %d %s", r.status, r.body)
			}
		}
		if n := e.count(`SELECT count(*) FROM sessions`); writes != 1 || n != sessions+1 {
			t.Errorf("mixed bodies on %d servers: %d first runs, %d sessions created; want 1 and 1", servers, writes, n-sessions)
		}
	}
}
