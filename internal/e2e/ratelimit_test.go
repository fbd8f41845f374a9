package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/kycreview/kycreview/internal/httpapi"
)

func withRateLimits(read, write int) envOption {
	return func(e *env) { e.cfg.RateLimits = httpapi.RateLimits{Read: read, Write: write} }
}

// TestRateLimits checks SPEC §7 through a real server: reads and writes
// are limited per key and apart, the 429 carries the documented headers
// and body, another key and the healthcheck are not affected.
func TestRateLimits(t *testing.T) {
	e := newEnv(t, withRateLimits(3, 2))
	id := e.newSession("user") // one write: the session
	path := "/v3/sessions/" + id + "/reviews/"

	for i := 0; i < 3; i++ {
		r := e.do(http.MethodGet, path, "", e.key())
		if r.status != http.StatusOK {
			t.Fatalf("GET %d: %d %s", i+1, r.status, r.body)
		}
		if got, want := r.header.Get("X-RateLimit-Remaining"), strconv.Itoa(2-i); got != want || r.header.Get("X-RateLimit-Limit") != "3" {
			t.Errorf("GET %d: X-RateLimit-Limit %q Remaining %q, want 3 %s", i+1, r.header.Get("X-RateLimit-Limit"), got, want)
		}
	}
	r := e.do(http.MethodGet, path, "", e.key())
	if r.status != http.StatusTooManyRequests || r.body != `{"detail":"GET request rate limit exceeded. You can make up to 3 requests per minute."}` {
		t.Fatalf("4th GET: %d %s", r.status, r.body)
	}
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	reset, err := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
	if now := time.Now().Unix(); err != nil || reset < now || reset > now+61 {
		t.Errorf("X-RateLimit-Reset %q (now %d)", r.header.Get("X-RateLimit-Reset"), now)
	}
	if r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("X-RateLimit-Remaining on a 429: %q", r.header.Get("X-RateLimit-Remaining"))
	}

	// Writes have their own budget: one used by the session above.
	body := `{"new_status":"Approved"}`
	if r := e.do(http.MethodPost, path, body, e.key(), "Content-Type: application/json"); r.status != http.StatusCreated {
		t.Fatalf("POST within the write limit: %d %s", r.status, r.body)
	}
	r = e.do(http.MethodPost, path, body, e.key(), "Content-Type: application/json")
	if r.status != http.StatusTooManyRequests || r.body != `{"detail":"POST request rate limit exceeded. You can make up to 2 requests per minute."}` {
		t.Fatalf("POST over the write limit: %d %s", r.status, r.body)
	}

	// Another key of the same application has its own window.
	if r := e.do(http.MethodGet, path, "", "x-api-key: "+e.systemKey()); r.status != http.StatusOK {
		t.Errorf("GET with another key: %d %s", r.status, r.body)
	}
	// The healthcheck is exempt, and so are unauthenticated requests
	// (they are refused before any limit is counted).
	for i := 0; i < 5; i++ {
		if r := e.do(http.MethodGet, "/system/healthcheck/", ""); r.status != http.StatusOK {
			t.Fatalf("healthcheck %d: %d %s", i, r.status, r.body)
		}
	}
	if r := e.do(http.MethodGet, path, ""); r.status != http.StatusForbidden {
		t.Errorf("GET without a key: %d", r.status)
	}
}
