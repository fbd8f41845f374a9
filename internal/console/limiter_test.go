package console

import (
	"testing"
	"time"
)

// TestFailureLimiterWindow: failures count for the window only, per key,
// and a reset forgets a key.
func TestFailureLimiterWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailureLimiter(15*time.Minute, func() time.Time { return now })
	for range 3 {
		l.fail("a", "ip")
		now = now.Add(time.Minute)
	}
	if !l.blocked("a", 3) || l.blocked("a", 4) || l.blocked("b", 1) {
		t.Fatal("counts after three failures are wrong")
	}
	now = now.Add(12*time.Minute + time.Second) // the first failure is now 15m1s old
	if l.blocked("a", 3) || !l.blocked("a", 2) {
		t.Fatal("the oldest failure did not leave the window")
	}
	now = now.Add(time.Hour)
	if l.blocked("ip", 1) {
		t.Fatal("failures an hour old still count")
	}
	l.fail("c")
	l.reset("c")
	if l.blocked("c", 1) {
		t.Fatal("reset did not forget the key")
	}
	if len(l.fails) > 1 {
		t.Errorf("idle keys kept: %v", l.fails)
	}
}
