// Command kycbench is kycreview's benchmark suite (issue 4). It seeds a fresh
// database on SQLite and on PostgreSQL, starts the kycreview server on it as a
// separate process, and drives closed-loop load at several connection counts
// for a feed page GET, a review POST and a 90/10 mix of the two. In the same
// run it measures a ceiling: a plain net/http server answering the same
// requests with fixed bodies of the same size. Throughput is reported as a
// ratio to the ceiling's, because on a shared, noisy machine only figures
// taken side by side in one run can be compared.
//
//	go run ./cmd/kycbench                                  # both backends, 100k sessions × 20 rows
//	go run ./cmd/kycbench --sessions 20000 --duration 5s   # smaller and shorter
//	go run ./cmd/kycbench --smoke                          # a few seconds; what CI runs
//	go run ./cmd/kycbench --target http://127.0.0.1:8080 --key kyc_… --pid 1234
//
// Targets are printed as PASS or MISS but never asserted: the command fails
// only when the harness itself does (a server that does not start, a
// workload of which every request failed).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kycbench: "+err.Error())
		var u *usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// ceilingCommand is the hidden subcommand with which kycbench re-executes
// itself as the ceiling server, so the ceiling is a process of its own whose
// CPU and memory can be measured like the real server's.
const ceilingCommand = "ceiling"

// run is the whole program, with its inputs passed in so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == ceilingCommand {
		return runCeiling(ctx, args[1:])
	}
	cfg, err := parseConfig(args, getenv)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if err != nil {
		return err
	}
	return bench(ctx, cfg, args, stdout, stderr)
}
