package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	// ms returns 1ms, 2ms, …, n ms.
	ms := func(n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(i+1) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value is every percentile", ms(1), 99.9, time.Millisecond},
		{"median of 2 is the lower", ms(2), 50, 1 * time.Millisecond},
		{"median of 3", ms(3), 50, 2 * time.Millisecond},
		{"p50 of 100", ms(100), 50, 50 * time.Millisecond},
		{"p90 of 100", ms(100), 90, 90 * time.Millisecond},
		{"p99 of 100", ms(100), 99, 99 * time.Millisecond},
		{"p99.9 of 100 is the maximum", ms(100), 99.9, 100 * time.Millisecond},
		{"p99.9 of 1000 is not rounded up by float error", ms(1000), 99.9, 999 * time.Millisecond},
		{"p99.9 of 1001", ms(1001), 99.9, 1000 * time.Millisecond},
		{"p99 of 10 is the maximum", ms(10), 99, 10 * time.Millisecond},
		{"p100", ms(7), 100, 7 * time.Millisecond},
		{"tiny p is the minimum", ms(7), 0.001, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%d values, %v) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	// Unsorted on purpose: summarize sorts.
	lat := []time.Duration{5, 1, 4, 2, 3}
	for i := range lat {
		lat[i] *= time.Millisecond
	}
	got := summarize(lat)
	want := latencySummary{Count: 5, Mean: 3 * time.Millisecond, P50: 3 * time.Millisecond, P90: 5 * time.Millisecond,
		P99: 5 * time.Millisecond, P999: 5 * time.Millisecond, Max: 5 * time.Millisecond}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if got := summarize(nil); got != (latencySummary{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
}
