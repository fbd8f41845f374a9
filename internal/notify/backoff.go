package notify

import (
	"math/rand/v2"
	"time"
)

// Backoff is the retry schedule after transient failures: the wait after
// attempt n is Base·2^(n-1), at most Max, spread by ±Jitter (a fraction)
// so that a burst of failures does not come back as a burst. After
// Attempts attempts the notification fails.
type Backoff struct {
	Base     time.Duration
	Max      time.Duration
	Attempts int
	Jitter   float64
}

// DefaultBackoff retries for about a day: 30s, 1m, 2m, … doubling up to
// 2h, 20 attempts in all. A mail server down for maintenance, or a
// misconfigured password fixed the next morning, loses nothing.
var DefaultBackoff = Backoff{Base: 30 * time.Second, Max: 2 * time.Hour, Attempts: 20, Jitter: 0.2}

// Next returns when to try again after attempt number attempt (1 for the
// first) ended at end, and false when the attempts have run out.
func (b Backoff) Next(attempt int, end time.Time) (time.Time, bool) {
	if attempt >= b.Attempts {
		return time.Time{}, false
	}
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 {
		d = time.Duration(float64(d) * (1 + b.Jitter*(2*rand.Float64()-1)))
	}
	return end.Add(d), true
}
