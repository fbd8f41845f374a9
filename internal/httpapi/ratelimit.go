package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimits are SPEC §7's per-key limits: requests per sliding 60-second
// window, reads (GET, HEAD, OPTIONS) and writes (everything else) counted
// apart. A limit of 0 turns that limit off. They are kept per process:
// behind N replicas a key may make up to N times the limit.
type RateLimits struct {
	Read  int
	Write int
}

// rateWindow is the sliding window SPEC §7 fixes.
const rateWindow = time.Minute

// limiter counts each key's requests in the last rateWindow, exactly: it
// keeps the times of the requests it let through, at most limit of them.
type limiter struct {
	limit int
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*ring
	// swept is when idle keys were last dropped.
	swept time.Time
}

// ring holds the times of a key's admitted requests, oldest first, in a
// circular buffer of limit slots.
type ring struct {
	times []time.Time
	start int
	n     int
}

func newLimiter(limit int, now func() time.Time) *limiter {
	return &limiter{limit: limit, now: now, keys: map[string]*ring{}}
}

// verdict is what the limiter decided for one request.
type verdict struct {
	ok        bool
	remaining int
	reset     time.Time // when the window will hold one request fewer
}

// allow admits or refuses one request of key at the current time.
func (l *limiter) allow(key string) verdict {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > rateWindow {
		l.sweep(now)
	}
	r := l.keys[key]
	if r == nil {
		r = &ring{times: make([]time.Time, l.limit)}
		l.keys[key] = r
	}
	// Drop the requests that have left the window.
	for r.n > 0 && now.Sub(r.times[r.start]) >= rateWindow {
		r.start = (r.start + 1) % l.limit
		r.n--
	}
	if r.n == l.limit {
		return verdict{ok: false, remaining: 0, reset: r.times[r.start].Add(rateWindow)}
	}
	r.times[(r.start+r.n)%l.limit] = now
	r.n++
	return verdict{ok: true, remaining: l.limit - r.n, reset: r.times[r.start].Add(rateWindow)}
}

// sweep forgets keys with no request in the window, so the map does not
// grow with every key ever seen.
func (l *limiter) sweep(now time.Time) {
	for k, r := range l.keys {
		if r.n == 0 || now.Sub(r.times[(r.start+r.n-1)%l.limit]) >= rateWindow {
			delete(l.keys, k)
		}
	}
	l.swept = now
}

// isWrite reports whether method counts against the write limit.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// throttle applies the limit for r's method to the key keyID. It sets the
// X-RateLimit-* headers and, when the key is over the limit, answers 429
// and reports false.
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, keyID string) bool {
	// The message names the method, as SPEC §7's example does; HEAD and
	// OPTIONS count as GETs.
	l, kind := s.readLimit, http.MethodGet
	if isWrite(r.Method) {
		l, kind = s.writeLimit, r.Method
	}
	if l == nil {
		return true
	}
	v := l.allow(keyID)
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(v.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(v.reset), 10))
	if v.ok {
		return true
	}
	wait := max(1, ceilSeconds(v.reset.Sub(l.now())))
	h.Set("Retry-After", strconv.Itoa(wait))
	s.writeJSON(w, http.StatusTooManyRequests, detail(kind+" request rate limit exceeded. You can make up to "+
		strconv.Itoa(l.limit)+" requests per minute."))
	return false
}

func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func ceilUnix(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}
