package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/webhook"
)

func TestDefaultSchedule(t *testing.T) {
	s := webhook.DefaultSchedule()
	if got := s.String(); got != webhook.DefaultRetryDelays {
		t.Errorf("DefaultSchedule() = %s, want %s", got, webhook.DefaultRetryDelays)
	}
	parsed, err := webhook.ParseDelays(webhook.DefaultRetryDelays)
	if err != nil || !cmp.Equal(parsed, s.Delays) {
		t.Errorf("ParseDelays(DefaultRetryDelays) = %v, %v; want %v", parsed, err, s.Delays)
	}
	// "About three days", and no less.
	if total := s.Total(); total < 72*time.Hour || total > 84*time.Hour {
		t.Errorf("Total() = %s, want about three days", total)
	}
	if s.Total() != 77*time.Hour+35*time.Minute+5*time.Second || s.Attempts() != 13 {
		t.Errorf("Total() = %s, Attempts() = %d", s.Total(), s.Attempts())
	}
	if s.Jitter != webhook.DefaultJitter || webhook.DefaultTimeout != 5*time.Second {
		t.Errorf("Jitter = %v, DefaultTimeout = %s", s.Jitter, webhook.DefaultTimeout)
	}
	// Never shrinking, as backoff should.
	for i := 1; i < len(s.Delays); i++ {
		if s.Delays[i] < s.Delays[i-1] {
			t.Errorf("delay %d (%s) is shorter than delay %d (%s)", i, s.Delays[i], i-1, s.Delays[i-1])
		}
	}
}

func TestScheduleNext(t *testing.T) {
	now := time.Date(2026, 5, 17, 10, 0, 0, 0, time.UTC)
	fixed := func(r float64) func() float64 { return func() float64 { return r } }
	delays := []time.Duration{10 * time.Second, time.Minute, time.Hour}
	tests := []struct {
		name    string
		jitter  float64
		r       float64
		attempt int
		want    time.Duration
		ok      bool
	}{
		{"nothing tried yet", 0.2, 0.5, 0, 0, true},
		{"after the first attempt", 0, 0, 1, 10 * time.Second, true},
		{"after the second", 0, 0, 2, time.Minute, true},
		{"after the third", 0, 0, 3, time.Hour, true},
		{"after the last", 0, 0, 4, 0, false},
		{"long after the last", 0, 0, 100, 0, false},
		{"jitter centred", 0.2, 0.5, 3, time.Hour, true},
		{"jitter low end", 0.2, 0, 3, 48 * time.Minute, true},
		{"jitter high end", 0.2, 0.9999999999, 3, 72 * time.Minute, true}, // within a microsecond
		{"jitter a quarter", 0.1, 0.25, 2, 57 * time.Second, true},
		{"jitter clamped to 1", 5, 0, 2, 0, true},
		{"negative jitter is none", -1, 0, 2, time.Minute, true},
		{"exhausted even with jitter", 0.2, 0.5, 4, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := webhook.Schedule{Delays: delays, Jitter: tt.jitter, Rand: fixed(tt.r)}
			got, ok := s.Next(tt.attempt, now)
			if ok != tt.ok {
				t.Fatalf("Next(%d) ok = %v, want %v", tt.attempt, ok, tt.ok)
			}
			if !ok {
				if !got.IsZero() {
					t.Errorf("Next(%d) = %v with ok false", tt.attempt, got)
				}
				return
			}
			if d := got.Sub(now); d < tt.want-time.Microsecond || d > tt.want+time.Microsecond {
				t.Errorf("Next(%d) = now+%s, want now+%s", tt.attempt, d, tt.want)
			}
		})
	}
}

// TestScheduleNextJitterRange uses the real random source: every delay
// stays within its bounds, and they are not all equal.
func TestScheduleNextJitterRange(t *testing.T) {
	s := webhook.DefaultSchedule()
	now := time.Unix(1_700_000_000, 0)
	seen := map[time.Duration]bool{}
	for attempt := 1; attempt <= len(s.Delays); attempt++ {
		base := s.Delays[attempt-1]
		for range 50 {
			next, ok := s.Next(attempt, now)
			d := next.Sub(now)
			lo := time.Duration(float64(base) * (1 - webhook.DefaultJitter))
			hi := time.Duration(float64(base) * (1 + webhook.DefaultJitter))
			if !ok || d < lo || d > hi {
				t.Fatalf("Next(%d) = now+%s, %v; want within [%s, %s]", attempt, d, ok, lo, hi)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct delays: no jitter?", len(seen))
	}
	if _, ok := s.Next(s.Attempts(), now); ok {
		t.Error("a delivery is retried after its last attempt")
	}
}

func TestParseDelays(t *testing.T) {
	s, m, h := time.Second, time.Minute, time.Hour
	tests := []struct {
		spec string
		want []time.Duration
		err  string
	}{
		{"5s", []time.Duration{5 * s}, ""},
		{"5s,5m,30m", []time.Duration{5 * s, 5 * m, 30 * m}, ""},
		{" 5s , 1h30m * 2 ,500ms ", []time.Duration{5 * s, 90 * m, 90 * m, 500 * time.Millisecond}, ""},
		{"10h*3", []time.Duration{10 * h, 10 * h, 10 * h}, ""},
		{"720h", []time.Duration{720 * h}, ""},
		{"none", []time.Duration{}, ""},
		{" none ", []time.Duration{}, ""},
		{"1s*1000", nil, ""}, // checked by length below
		{"", nil, "empty retry schedule"},
		{"  ", nil, "empty retry schedule"},
		{"5", nil, "missing unit"},
		{"5s,", nil, "invalid duration"},
		{",5s", nil, "invalid duration"},
		{"5s,,5s", nil, "invalid duration"},
		{"0s", nil, "more than 0"},
		{"-5s", nil, "more than 0"},
		{"721h", nil, "at most 720h0m0s"},
		{"5s*0", nil, "repeat count"},
		{"5s*-1", nil, "repeat count"},
		{"5s*x", nil, "repeat count"},
		{"5s*", nil, "repeat count"},
		{"5s*1001", nil, "repeat count"},
		{"5s*2*3", nil, "repeat count"},
		{"1s*1000,1s", nil, "more than 1000 retries"},
		{"5 seconds", nil, "unknown unit"},
	}
	for _, tt := range tests {
		got, err := webhook.ParseDelays(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseDelays(%q) = %v, %v; want an error containing %q", tt.spec, got, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDelays(%q): %v", tt.spec, err)
			continue
		}
		if tt.spec == "1s*1000" {
			if len(got) != 1000 {
				t.Errorf("ParseDelays(%q) has %d delays", tt.spec, len(got))
			}
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseDelays(%q) (-want +got):\n%s", tt.spec, diff)
		}
	}
}

func TestFormatDelays(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want string
	}{
		{nil, "none"},
		{[]time.Duration{time.Second}, "1s"},
		{[]time.Duration{90 * time.Second, 90 * time.Minute, 1500 * time.Millisecond, 1500 * time.Microsecond}, "90s,90m,1500ms,1.5ms"},
		{[]time.Duration{time.Hour, time.Hour, time.Minute, time.Hour}, "1h*2,1m,1h"},
		{[]time.Duration{24 * time.Hour}, "24h"},
	}
	for _, tt := range tests {
		got := webhook.FormatDelays(tt.in)
		if got != tt.want {
			t.Errorf("FormatDelays(%v) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := webhook.ParseDelays(got)
		if err != nil || (len(tt.in) > 0 && !cmp.Equal(back, tt.in)) {
			t.Errorf("ParseDelays(FormatDelays(%v)) = %v, %v", tt.in, back, err)
		}
	}
}

func TestSucceeded(t *testing.T) {
	for code, want := range map[int]bool{
		0: false, 100: false, 199: false, 200: true, 201: true, 204: true, 299: true,
		300: false, 302: false, 400: false, 404: false, 410: false, 429: false, 500: false, 503: false,
	} {
		if got := webhook.Succeeded(code); got != want {
			t.Errorf("Succeeded(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestShouldDisable(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	after := 5 * 24 * time.Hour
	tests := []struct {
		name    string
		since   *time.Time
		now     time.Time
		after   time.Duration
		disable bool
	}{
		{"not failing", nil, t0.Add(100 * after), after, false},
		{"just started failing", &t0, t0, after, false},
		{"a second short", &t0, t0.Add(after - time.Second), after, false},
		{"exactly the limit", &t0, t0.Add(after), after, true},
		{"past it", &t0, t0.Add(after + time.Hour), after, true},
		{"clock stepped back", &t0, t0.Add(-time.Hour), after, false},
		{"disabling turned off", &t0, t0.Add(100 * after), 0, false},
		{"negative is off too", &t0, t0.Add(100 * after), -time.Hour, false},
	}
	for _, tt := range tests {
		if got := webhook.ShouldDisable(tt.since, tt.now, tt.after); got != tt.disable {
			t.Errorf("%s: ShouldDisable = %v, want %v", tt.name, got, tt.disable)
		}
	}
}

func TestRecordOutcome(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	after := webhook.DefaultDisableAfter
	d := kycreview.Destination{ID: "d", Enabled: true}

	// A run of failures: the streak starts at the first and is kept.
	d, changed := webhook.RecordOutcome(d, false, t0, after)
	if !changed || d.FailingSince == nil || !d.FailingSince.Equal(t0) || d.DisabledAt != nil {
		t.Fatalf("first failure: changed=%v %+v", changed, d)
	}
	d, changed = webhook.RecordOutcome(d, false, t0.Add(time.Hour), after)
	if changed || !d.FailingSince.Equal(t0) {
		t.Fatalf("second failure: changed=%v FailingSince=%v", changed, d.FailingSince)
	}
	// A success breaks it.
	d, changed = webhook.RecordOutcome(d, true, t0.Add(2*time.Hour), after)
	if !changed || d.FailingSince != nil || !d.Active() {
		t.Fatalf("success: changed=%v %+v", changed, d)
	}
	d, changed = webhook.RecordOutcome(d, true, t0.Add(3*time.Hour), after)
	if changed {
		t.Fatal("a success on a healthy destination changed it")
	}
	// Failing from t1 for the whole period disables it, at that moment.
	t1 := t0.Add(4 * time.Hour)
	d, _ = webhook.RecordOutcome(d, false, t1, after)
	d, changed = webhook.RecordOutcome(d, false, t1.Add(after-time.Minute), after)
	if changed || d.DisabledAt != nil {
		t.Fatalf("disabled too early: %+v", d)
	}
	end := t1.Add(after)
	d, changed = webhook.RecordOutcome(d, false, end, after)
	if !changed || d.DisabledAt == nil || !d.DisabledAt.Equal(end) || d.Active() {
		t.Fatalf("not disabled at the limit: changed=%v %+v", changed, d)
	}
	// Further failures keep the first DisabledAt.
	d, changed = webhook.RecordOutcome(d, false, end.Add(time.Hour), after)
	if changed || !d.DisabledAt.Equal(end) {
		t.Fatalf("a later failure moved DisabledAt: %v", d.DisabledAt)
	}
	// A late success (an attempt in flight when it was disabled) ends the
	// streak but leaves re-enabling to the customer.
	d, changed = webhook.RecordOutcome(d, true, end.Add(2*time.Hour), after)
	if !changed || d.FailingSince != nil || d.DisabledAt == nil {
		t.Fatalf("late success: changed=%v %+v", changed, d)
	}
	// With disabling off, nothing is ever disabled.
	d2 := kycreview.Destination{Enabled: true}
	d2, _ = webhook.RecordOutcome(d2, false, t0, 0)
	d2, _ = webhook.RecordOutcome(d2, false, t0.Add(1000*time.Hour), 0)
	if d2.DisabledAt != nil {
		t.Error("disabled with disableAfter 0")
	}
}
