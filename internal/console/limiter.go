package console

import (
	"sync"
	"time"
)

// failureLimiter counts failed sign-ins per key (an account's email, a
// client address) over a sliding window. It lives in the process: with
// several replicas each allows its own share, which still bounds guessing
// to a few attempts per minute per replica.
type failureLimiter struct {
	mu     sync.Mutex
	window time.Duration
	now    func() time.Time
	fails  map[string][]time.Time
	sweep  time.Time
}

func newFailureLimiter(window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{window: window, now: now, fails: map[string][]time.Time{}}
}

// blocked reports whether key has max or more failures in the window.
func (l *failureLimiter) blocked(key string, max int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, l.now())) >= max
}

// fail records a failure for each key.
func (l *failureLimiter) fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.fails[k] = append(l.recent(k, now), now)
	}
	// Forget idle keys now and then, so the map does not grow forever.
	if now.Sub(l.sweep) > l.window {
		for k := range l.fails {
			if len(l.recent(k, now)) == 0 {
				delete(l.fails, k)
			}
		}
		l.sweep = now
	}
}

// reset forgets key's failures (after a successful sign-in to the account).
func (l *failureLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

// recent drops key's failures older than the window and returns the rest.
// The caller holds mu.
func (l *failureLimiter) recent(key string, now time.Time) []time.Time {
	ts := l.fails[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = ts
	return ts
}
