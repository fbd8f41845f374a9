package kycreview

import (
	"testing"
	"time"
)

// TestFormatMicro checks the feed's created_at against what DRF writes:
// Python's datetime.isoformat() with "+00:00" turned into "Z", which has six
// fraction digits, or none when the microseconds are zero. Python datetimes
// have no nanoseconds, so they are cut, never rounded.
func TestFormatMicro(t *testing.T) {
	cest := time.FixedZone("CEST", 2*60*60)
	nyc := time.FixedZone("EST", -5*60*60)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"seed example", time.Date(2026, 6, 12, 0, 19, 31, 918735000, time.UTC), "2026-06-12T00:19:31.918735Z"},
		{"leading zeros kept", time.Date(2026, 6, 12, 0, 19, 31, 1000, time.UTC), "2026-06-12T00:19:31.000001Z"},
		{"trailing zeros kept", time.Date(2026, 6, 12, 0, 19, 31, 100000000, time.UTC), "2026-06-12T00:19:31.100000Z"},
		{"nanoseconds cut, not rounded", time.Date(2026, 6, 12, 0, 19, 31, 918735999, time.UTC), "2026-06-12T00:19:31.918735Z"},
		{"zero microseconds: no fraction", time.Date(2026, 6, 12, 0, 19, 31, 0, time.UTC), "2026-06-12T00:19:31Z"},
		{"sub-microsecond only: no fraction", time.Date(2026, 6, 12, 0, 19, 31, 999, time.UTC), "2026-06-12T00:19:31Z"},
		{"midnight", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "2026-01-01T00:00:00Z"},
		{"non-UTC converted", time.Date(2026, 6, 12, 2, 19, 31, 500000000, cest), "2026-06-12T00:19:31.500000Z"},
		{"non-UTC across a day", time.Date(2026, 1, 1, 1, 0, 0, 0, cest), "2025-12-31T23:00:00Z"},
		{"negative offset across a day", time.Date(2026, 12, 31, 20, 30, 0, 250, nyc), "2027-01-01T01:30:00Z"},
		{"Local converted", time.Date(2026, 6, 12, 0, 19, 31, 918735000, time.UTC).Local(), "2026-06-12T00:19:31.918735Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatMicro(tt.in); got != tt.want {
				t.Errorf("FormatMicro(%s) = %q, want %q", tt.in.Format(time.RFC3339Nano), got, tt.want)
			}
		})
	}
}

// TestFormatMilli checks the review POST's and healthcheck's created_at:
// always three fraction digits, cut (as Python's
// isoformat(timespec="milliseconds") does), UTC with a Z.
func TestFormatMilli(t *testing.T) {
	cest := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"seed example", time.Date(2026, 4, 21, 16, 42, 50, 445000000, time.UTC), "2026-04-21T16:42:50.445Z"},
		{"zero fraction still three digits", time.Date(2026, 4, 21, 16, 42, 50, 0, time.UTC), "2026-04-21T16:42:50.000Z"},
		{"leading zeros kept", time.Date(2026, 4, 21, 16, 42, 50, 7000000, time.UTC), "2026-04-21T16:42:50.007Z"},
		{"trailing zeros kept", time.Date(2026, 4, 21, 16, 42, 50, 400000000, time.UTC), "2026-04-21T16:42:50.400Z"},
		{"microseconds cut, not rounded", time.Date(2026, 4, 21, 16, 42, 50, 445999999, time.UTC), "2026-04-21T16:42:50.445Z"},
		{"under a millisecond", time.Date(2026, 4, 21, 16, 42, 50, 999999, time.UTC), "2026-04-21T16:42:50.000Z"},
		{"non-UTC converted", time.Date(2026, 4, 21, 18, 42, 50, 445000000, cest), "2026-04-21T16:42:50.445Z"},
		{"non-UTC across a year", time.Date(2027, 1, 1, 1, 59, 59, 999000000, cest), "2026-12-31T23:59:59.999Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatMilli(tt.in); got != tt.want {
				t.Errorf("FormatMilli(%s) = %q, want %q", tt.in.Format(time.RFC3339Nano), got, tt.want)
			}
		})
	}
}
