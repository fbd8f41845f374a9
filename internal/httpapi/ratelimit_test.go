package httpapi

import (
	"testing"
	"time"
)

// TestLimiterSlidingWindow checks the window slides request by request
// (not in fixed minutes), that keys are counted apart, and the remaining
// count and reset time the headers report.
func TestLimiterSlidingWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	l := newLimiter(3, func() time.Time { return now })
	step := func(d time.Duration, key string, wantOK bool, wantRemaining int, wantReset time.Time) {
		t.Helper()
		now = now.Add(d)
		v := l.allow(key)
		if v.ok != wantOK || v.remaining != wantRemaining || !v.reset.Equal(wantReset) {
			t.Fatalf("at +%s key %s: got ok=%v remaining=%d reset=+%s, want %v %d +%s", now.Sub(t0), key,
				v.ok, v.remaining, v.reset.Sub(t0), wantOK, wantRemaining, wantReset.Sub(t0))
		}
	}
	m := time.Minute
	step(0, "a", true, 2, t0.Add(m))
	step(10*time.Second, "a", true, 1, t0.Add(m))
	step(10*time.Second, "a", true, 0, t0.Add(m))
	step(10*time.Second, "a", false, 0, t0.Add(m))  // 4th within the minute
	step(0, "b", true, 2, t0.Add(30*time.Second+m)) // another key is not held up
	// At +60s the first request leaves the window: one more is allowed,
	// and the next reset is the second request's.
	step(30*time.Second, "a", true, 0, t0.Add(10*time.Second+m))
	step(time.Second, "a", false, 0, t0.Add(10*time.Second+m))
	// Refused requests do not count: once the window has moved past all
	// three admitted ones, the key is whole again.
	step(2*m, "a", true, 2, t0.Add(61*time.Second+2*m+m))
}

func TestLimiterSweepsIdleKeys(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(2, func() time.Time { return now })
	for _, k := range []string{"a", "b", "c"} {
		l.allow(k)
	}
	now = now.Add(2 * time.Minute)
	l.allow("d")
	if len(l.keys) != 1 {
		t.Errorf("%d keys kept after two idle minutes, want only the active one", len(l.keys))
	}
}
