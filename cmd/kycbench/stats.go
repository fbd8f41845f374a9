package main

import (
	"math"
	"slices"
	"time"
)

// latencySummary is the distribution of one window's latencies.
type latencySummary struct {
	Count int
	Mean  time.Duration
	P50   time.Duration
	P90   time.Duration
	P99   time.Duration
	P999  time.Duration
	Max   time.Duration
}

// summarize sorts lat in place and returns its percentiles. Every latency
// is kept and sorted rather than bucketed in a histogram: at the rates this
// machine reaches that is a few megabytes, and the tail percentiles the
// targets are about are then exact.
func summarize(lat []time.Duration) latencySummary {
	if len(lat) == 0 {
		return latencySummary{}
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return latencySummary{
		Count: len(lat),
		Mean:  sum / time.Duration(len(lat)),
		P50:   percentile(lat, 50),
		P90:   percentile(lat, 90),
		P99:   percentile(lat, 99),
		P999:  percentile(lat, 99.9),
		Max:   lat[len(lat)-1],
	}
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value with at least p% of the values at
// or below it. It is always an observed latency, never an interpolation, and
// with fewer than 1000 values p99.9 is simply the maximum.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The small epsilon keeps p/100*n from landing just above a whole
	// number through floating-point error (99.9/100*1000 is 999.0000000000001).
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}
