package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary act as kycbench itself when the smoke test
// re-executes it as the ceiling server.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ceilingCommand {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs what CI runs, `kycbench --smoke`, on SQLite: it builds and
// starts the real server and the ceiling, seeds, loads and reports, and
// runs the webhook benchmark against its receiver.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"--smoke", "--backend", "sqlite", "--json", jsonPath}, func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("kycbench --smoke: %v\nstderr:\n%s", err, stderr.String())
	}
	for _, want := range []string{"## kycreview against the ceiling", "| sqlite | get | 2 |", "| sqlite | post | 2 |", "| sqlite | mix | 2 |", "synchronous=FULL",
		"## Webhook delivery", "| sqlite | 300 | 2 |", "webhook backlog delivered at", "webhook commit-to-receipt p99"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Backends) != 1 || rep.Backends[0].Backend != "sqlite" || len(rep.Backends[0].Results) != 3 {
		t.Fatalf("report has %+v, want sqlite with 3 results", rep.Backends)
	}
	if rep.Backends[0].PageBytes < 1000 {
		t.Errorf("a 5-row feed page of %d bytes is too small to be real", rep.Backends[0].PageBytes)
	}
	checkWebhooks(t, rep.Backends[0].Webhooks)
	for _, c := range rep.Backends[0].Results {
		for name, m := range map[string]measurement{"kycreview": c.Server, "ceiling": c.Ceiling} {
			// Errors mean the seeding or the harness is wrong (a review of a
			// seeded session must succeed), not that the server is slow.
			if m.Requests == 0 || m.Errors != 0 || m.CPUPercent == nil || m.PeakRSSBytes == nil || *m.PeakRSSBytes == 0 {
				t.Errorf("%s %s: %d requests, %d errors (%s), CPU %v, RSS %v", name, c.Workload, m.Requests, m.Errors, m.FirstError, m.CPUPercent, m.PeakRSSBytes)
			}
		}
	}
}

// checkWebhooks checks what a smoke run's webhook benchmark must show
// whatever the machine's speed: every event delivered, in order, each
// review's event matched to it, and no delivery while dispatch was off.
func checkWebhooks(t *testing.T, w *webhookRun) {
	t.Helper()
	if w == nil {
		t.Fatal("the report has no webhook figures")
	}
	tp, lat := w.Throughput, w.Latency
	if tp.Events != 300 || tp.Delivered != tp.Events || tp.Missing != 0 || tp.OutOfOrder != 0 || tp.Unexpected != 0 ||
		tp.Malformed != 0 || tp.ReceivedWhileOff != 0 || tp.TimedOut || tp.DeliveriesPerSecond <= 0 {
		t.Errorf("backlog: %+v", tp)
	}
	if tp.ReviewsPerSession != 2 {
		t.Errorf("backlog: %d reviews per session, want 2 (300 reviews over 200 sessions), so per-session order is exercised", tp.ReviewsPerSession)
	}
	// 100 reviews/s for 0.1 s of warmup and 1 s measured.
	if lat.Reviews != 100 || lat.Errors != 0 || lat.Missing != 0 || lat.OutOfOrder != 0 || lat.Unexpected != 0 ||
		lat.Matched != 110 || lat.CommitToReceipt.Count != lat.Reviews || lat.CommitToReceipt.P99Ms <= 0 || lat.CPU.ServerPercent <= 0 {
		t.Errorf("steady rate: %+v", lat)
	}
	if w.FirstMalformed != "" {
		t.Errorf("malformed delivery: %s", w.FirstMalformed)
	}
}
