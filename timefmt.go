package kycreview

import "time"

// FormatMicro formats t the way DRF renders a datetime: UTC ISO 8601 with a
// Z, microseconds, and no fraction at all when the microseconds are zero
// (Python's isoformat drops them).
func FormatMicro(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}

// FormatMilli formats t with millisecond precision, as Didit's review POST
// response and healthcheck do.
func FormatMilli(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
