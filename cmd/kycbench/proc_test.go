package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 (utime, stime) are 250 and 50 ticks in each line.
	tail := " S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 100 200 300"
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{"plain name", "1234 (kycreview)" + tail, 3 * time.Second, false},
		{"name with spaces and parentheses", "1234 (a b) (c) d)" + tail, 3 * time.Second, false},
		{"zero", "7 (x) S 1 2 3 4 5 6 7 8 9 10 0 0 0 0", 0, false},
		{"no name", "1234 kycreview S 1 2 3", 0, true},
		{"too few fields", "1234 (x) S 1 2 3 4", 0, true},
		{"not a number", "1234 (x) S 1 2 3 4 5 6 7 8 9 10 lots 50 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU(tt.stat)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatCPU(%q) = %v, %v; want %v, error %v", tt.stat, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestProcessCPU reads this test's own process, whose CPU time must grow
// while it spins.
func TestProcessCPU(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has charged at least two ticks more.
	deadline := time.Now().Add(10 * time.Second)
	for {
		now, err := processCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now < before {
			t.Fatalf("CPU time went back from %v to %v", before, now)
		}
		if now-before >= 2*time.Second/clockTicks {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stayed at %v while the test spun for 10s", now)
		}
		for i := 0; i < 1e6; i++ {
			_ = i * i
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{"present", "Name:\tkycreview\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n", 12345 * 1024, false},
		{"missing", "Name:\tkycreview\nVmRSS:\t 100 kB\n", 0, true},
		{"other unit", "VmHWM:\t 12 MB\n", 0, true},
		{"not a number", "VmHWM:\t lots kB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmHWM(tt.status)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseVmHWM = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestProcessPeakRSS(t *testing.T) {
	got, err := processPeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A Go test binary has at least a megabyte resident, and less than the
	// machine has.
	if got < 1<<20 || got > 1<<40 {
		t.Errorf("peak RSS of this test = %d bytes, not plausible", got)
	}
}
