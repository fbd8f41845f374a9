package webhook

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
)

// DefaultTimeout bounds one delivery attempt, connect to last response
// byte; an attempt that takes longer failed and is retried.
const DefaultTimeout = 5 * time.Second

// DefaultRetryDelays is the default retry schedule, in ParseDelays' syntax:
// roughly exponential at first, so a blip costs seconds and a deploy
// minutes, then every 10 hours, reaching past three days (77 h 35 m after
// the first attempt, 13 attempts in all) so that a receiver that is down
// over a long weekend still gets every event.
const DefaultRetryDelays = "5s,5m,30m,2h,5h,10h*7"

// DefaultJitter is the default spread of each delay, as a fraction: ±20%,
// so that the deliveries that failed together during an outage do not all
// come back at the same second.
const DefaultJitter = 0.2

// DefaultDisableAfter is how long a destination may fail without a single
// success before the dispatcher disables it: longer than the retry
// schedule, so at least one event has been given up on first.
const DefaultDisableAfter = 5 * 24 * time.Hour

// Limits on a configured schedule, so that a typo cannot make a row retry
// for years or a schedule hold millions of entries.
const (
	maxRetries     = 1000
	maxRetryDelay  = 30 * 24 * time.Hour
	maxRetryRepeat = maxRetries
)

// Schedule says when a failed delivery is tried again.
type Schedule struct {
	// Delays[i] is the wait after attempt i+1 failed before attempt i+2;
	// after len(Delays)+1 attempts the delivery has finally failed.
	Delays []time.Duration
	// Jitter spreads each delay uniformly over ±Jitter of it (0 to 1).
	Jitter float64
	// Rand returns a number in [0, 1); nil means math/rand/v2's Float64.
	// Tests inject a fixed one.
	Rand func() float64
}

// DefaultSchedule returns the default schedule: DefaultRetryDelays with
// DefaultJitter.
func DefaultSchedule() Schedule {
	delays := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour}
	for range 7 {
		delays = append(delays, 10*time.Hour)
	}
	return Schedule{Delays: delays, Jitter: DefaultJitter}
}

// Attempts is the most attempts a delivery gets, the first included.
func (s Schedule) Attempts() int { return len(s.Delays) + 1 }

// Total is the time from the first attempt to the last, without jitter.
func (s Schedule) Total() time.Duration {
	var t time.Duration
	for _, d := range s.Delays {
		t += d
	}
	return t
}

// Next returns when the delivery whose attempt number attempt (counting
// from 1) just failed at now is tried again, or false once it has had every
// attempt the schedule gives: it has finally failed. An attempt number
// below 1 means nothing was tried yet, due now.
func (s Schedule) Next(attempt int, now time.Time) (time.Time, bool) {
	if attempt < 1 {
		return now, true
	}
	if attempt > len(s.Delays) {
		return time.Time{}, false
	}
	d := s.Delays[attempt-1]
	if j := min(max(s.Jitter, 0), 1); j > 0 {
		r := rand.Float64
		if s.Rand != nil {
			r = s.Rand
		}
		d = time.Duration(float64(d) * (1 + j*(2*r()-1)))
	}
	return now.Add(d), true
}

// String returns the delays in ParseDelays' syntax.
func (s Schedule) String() string { return FormatDelays(s.Delays) }

// ParseDelays reads a retry schedule: comma-separated Go durations, each
// optionally followed by "*N" to repeat it N times, e.g.
// "5s,5m,30m,2h,5h,10h*7". Spaces around items are ignored. "none" is the
// empty schedule: one attempt, no retries. Every delay must be positive and
// at most 30 days, and there may be at most 1000 of them.
func ParseDelays(spec string) ([]time.Duration, error) {
	spec = strings.TrimSpace(spec)
	if spec == "none" {
		return []time.Duration{}, nil
	}
	if spec == "" {
		return nil, fmt.Errorf("webhook: empty retry schedule (use %q for no retries)", "none")
	}
	var out []time.Duration
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		dur, count, repeated := strings.Cut(item, "*")
		n := 1
		if repeated {
			var err error
			n, err = strconv.Atoi(strings.TrimSpace(count))
			if err != nil || n < 1 || n > maxRetryRepeat {
				return nil, fmt.Errorf("webhook: retry schedule item %q: repeat count must be 1 to %d", item, maxRetryRepeat)
			}
		}
		d, err := time.ParseDuration(strings.TrimSpace(dur))
		if err != nil {
			return nil, fmt.Errorf("webhook: retry schedule item %q: %w", item, err)
		}
		if d <= 0 || d > maxRetryDelay {
			return nil, fmt.Errorf("webhook: retry schedule item %q: a delay must be more than 0 and at most %s", item, maxRetryDelay)
		}
		if len(out)+n > maxRetries {
			return nil, fmt.Errorf("webhook: retry schedule has more than %d retries", maxRetries)
		}
		for range n {
			out = append(out, d)
		}
	}
	return out, nil
}

// FormatDelays writes delays in ParseDelays' syntax, runs of one delay as
// "d*N" and each delay in its largest whole unit ("2h", not "2h0m0s").
func FormatDelays(delays []time.Duration) string {
	if len(delays) == 0 {
		return "none"
	}
	var parts []string
	for i := 0; i < len(delays); {
		j := i + 1
		for j < len(delays) && delays[j] == delays[i] {
			j++
		}
		p := formatDelay(delays[i])
		if j-i > 1 {
			p += "*" + strconv.Itoa(j-i)
		}
		parts = append(parts, p)
		i = j
	}
	return strings.Join(parts, ",")
}

func formatDelay(d time.Duration) string {
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.name
		}
	}
	return d.String()
}

// Succeeded reports whether an HTTP answer with this status code delivered
// the event. Anything else, redirects included, is retried.
func Succeeded(statusCode int) bool { return statusCode >= 200 && statusCode <= 299 }

// ShouldDisable reports whether a destination failing without a break
// since failingSince (nil: not failing) has failed for long enough at now to
// be disabled. disableAfter <= 0 never disables.
func ShouldDisable(failingSince *time.Time, now time.Time, disableAfter time.Duration) bool {
	return disableAfter > 0 && failingSince != nil && !now.Before(failingSince.Add(disableAfter))
}

// RecordOutcome returns d after an attempt to it at time at that succeeded
// (ok) or failed, and whether d changed and must be saved:
//
//   - a success ends the failure streak (FailingSince = nil); it does not
//     re-enable a disabled destination, which only the customer does;
//   - a failure starts a streak if none is running, and disables d
//     (DisabledAt = at) once ShouldDisable says so.
//
// "Without a break" means no successful attempt in between, however long
// the gaps between attempts. Storage applies the same rule atomically when
// several dispatchers record outcomes for one destination at once.
func RecordOutcome(d kycreview.Destination, ok bool, at time.Time, disableAfter time.Duration) (kycreview.Destination, bool) {
	if ok {
		if d.FailingSince == nil {
			return d, false
		}
		d.FailingSince = nil
		return d, true
	}
	changed := false
	if d.FailingSince == nil {
		t := at
		d.FailingSince = &t
		changed = true
	}
	if d.DisabledAt == nil && ShouldDisable(d.FailingSince, at, disableAfter) {
		t := at
		d.DisabledAt = &t
		changed = true
	}
	return d, changed
}
