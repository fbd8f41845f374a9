package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const usage = `kycbench — kycreview's benchmark suite: closed-loop load against the real
server and a plain net/http ceiling, measured side by side in one run.

Usage:
  go run ./cmd/kycbench [flags]

Flags:
  --backend sqlite,postgres   databases to seed and measure (default both)
  --sessions 100000           KYC sessions to seed
  --rows 20                   feed rows per session
  --conns 8,64                connection counts (one closed-loop worker each)
  --workloads get,post,mix    feed page GET, review POST, 90/10 mix; add
                              webhooks for webhook delivery (not in the default)
  --duration 10s              measured window per workload
  --warmup 2s                 unrecorded load before each window
  --postgres-url URL          admin URL on which a fresh database is created
                              (default $KYCREVIEW_TEST_POSTGRES, else
                              postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
  --target URL --key KEY      measure a running server on 127.0.0.1 instead of
                              seeding and starting one
  --pid PID                   with --target: the server's process, for CPU and RSS
  --json FILE                 also write the report as JSON
  --hot-sessions N            send requests to N sessions only, spread evenly
                              over the dataset (0: all): the page cost at the
                              dataset's size with its pages in memory
  --sqlite-dir DIR            seed the SQLite dataset into DIR and keep it; a
                              later run with the same --sessions and --rows
                              reuses it (with the rows earlier POSTs added)
  --smoke                     a few seconds in all: tiny dataset, 2 conns, short
                              windows, webhooks included; PostgreSQL only when
                              reachable

Webhook delivery (--workloads webhooks):
  --webhook-events 20000      reviews queued while dispatch is off, then
                              delivered as a backlog: deliveries/s
  --webhook-rate 100          open-loop reviews/s while dispatch is on
  --webhook-duration 20s      how long that rate is measured (after --warmup):
                              commit-to-receipt percentiles
  --webhook-workers N         passed on as serve --webhook-workers (default:
                              the server's own)

Targets are printed with PASS or MISS, never asserted.
`

// errHelp is returned by parseConfig for -h and --help.
var errHelp = flag.ErrHelp

// usageError is a mistake in the command line; main exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Workload names.
const (
	workloadGet  = "get"
	workloadPost = "post"
	workloadMix  = "mix"
	// workloadWebhooks is not a closed-loop workload against the ceiling
	// but the webhook delivery benchmark (webhooks.go): it restarts the
	// server and measures a local receiver, so it is not in the default.
	workloadWebhooks = "webhooks"
)

// Backend names.
const (
	backendSQLite   = "sqlite"
	backendPostgres = "postgres"
)

// defaultPostgresURL is a local server with trust authentication, the same
// default the PostgreSQL tests document.
const defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// config is every setting of a run, in one struct: defaults, then the
// environment, then flags, then --smoke's defaults for what was not given;
// validated once by parseConfig.
type config struct {
	Backends    []string      // --backend
	Sessions    int           // --sessions
	Rows        int           // --rows: feed rows per session
	Conns       []int         // --conns
	Workloads   []string      // --workloads
	Duration    time.Duration // --duration: measured window per workload
	Warmup      time.Duration // --warmup: unrecorded load before each window
	PostgresURL string        // --postgres-url, $KYCREVIEW_TEST_POSTGRES
	Target      string        // --target: base URL of a running server
	Key         string        // --key: an API key of the target
	PID         int           // --pid: the target's process id, 0 if unknown
	JSONPath    string        // --json
	SQLiteDir   string        // --sqlite-dir: keep (and reuse) the SQLite dataset here
	HotSessions int           // --hot-sessions: requests go to this many sessions, spread over the dataset
	Smoke       bool          // --smoke
	// Webhook delivery, for the webhooks workload.
	WebhookEvents   int           // --webhook-events: backlog of reviews for throughput
	WebhookRate     float64       // --webhook-rate: open-loop reviews/s for latency
	WebhookDuration time.Duration // --webhook-duration: measured window at that rate
	WebhookWorkers  int           // --webhook-workers: serve's dispatcher workers; 0 keeps the server's default
	// PostgresOptional skips PostgreSQL with a note when it cannot be
	// reached, instead of failing: only for a smoke run that did not name
	// its backends, so CI without PostgreSQL still runs the suite.
	PostgresOptional bool
}

func defaultConfig() config {
	return config{
		Backends:    []string{backendSQLite, backendPostgres},
		Sessions:    100_000,
		Rows:        20,
		Conns:       []int{8, 64},
		Workloads:   []string{workloadGet, workloadPost, workloadMix},
		Duration:    10 * time.Second,
		Warmup:      2 * time.Second,
		PostgresURL: defaultPostgresURL,

		WebhookEvents:   20_000,
		WebhookRate:     100,
		WebhookDuration: 20 * time.Second,
	}
}

// applySmoke gives a --smoke run its small defaults, for each setting not
// given as a flag: a few seconds in all, enough to prove that every part of
// the harness still works.
func applySmoke(c *config, given map[string]bool) {
	if !given["sessions"] {
		c.Sessions = 200
	}
	if !given["rows"] {
		c.Rows = 5
	}
	if !given["conns"] {
		c.Conns = []int{2}
	}
	if !given["duration"] {
		c.Duration = 500 * time.Millisecond
	}
	if !given["warmup"] {
		c.Warmup = 100 * time.Millisecond
	}
	if !given["backend"] {
		c.PostgresOptional = true
	}
	// The webhook benchmark restarts the server and runs its own receiver,
	// the parts most likely to rot unnoticed: a smoke run includes it.
	if !given["workloads"] && c.Target == "" {
		c.Workloads = append(c.Workloads, workloadWebhooks)
	}
	if !given["webhook-events"] {
		c.WebhookEvents = 300
	}
	if !given["webhook-duration"] {
		c.WebhookDuration = time.Second
	}
}

// parseConfig builds the run's config from args and the environment.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	cfg := defaultConfig()
	if v := getenv("KYCREVIEW_TEST_POSTGRES"); v != "" {
		cfg.PostgresURL = v
	}

	fs := flag.NewFlagSet("kycbench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	backends := fs.String("backend", strings.Join(cfg.Backends, ","), "")
	conns := fs.String("conns", "8,64", "")
	workloads := fs.String("workloads", strings.Join(cfg.Workloads, ","), "")
	fs.IntVar(&cfg.Sessions, "sessions", cfg.Sessions, "")
	fs.IntVar(&cfg.Rows, "rows", cfg.Rows, "")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "")
	fs.StringVar(&cfg.PostgresURL, "postgres-url", cfg.PostgresURL, "")
	fs.StringVar(&cfg.Target, "target", "", "")
	fs.StringVar(&cfg.Key, "key", "", "")
	fs.IntVar(&cfg.PID, "pid", 0, "")
	fs.StringVar(&cfg.JSONPath, "json", "", "")
	fs.StringVar(&cfg.SQLiteDir, "sqlite-dir", "", "")
	fs.IntVar(&cfg.HotSessions, "hot-sessions", 0, "")
	fs.BoolVar(&cfg.Smoke, "smoke", false, "")
	fs.IntVar(&cfg.WebhookEvents, "webhook-events", cfg.WebhookEvents, "")
	fs.Float64Var(&cfg.WebhookRate, "webhook-rate", cfg.WebhookRate, "")
	fs.DurationVar(&cfg.WebhookDuration, "webhook-duration", cfg.WebhookDuration, "")
	fs.IntVar(&cfg.WebhookWorkers, "webhook-workers", cfg.WebhookWorkers, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, errHelp
		}
		return config{}, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return config{}, &usageError{fmt.Sprintf("unexpected argument %q (see --help)", fs.Arg(0))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	var err error
	if cfg.Backends, err = parseNames("--backend", *backends, backendSQLite, backendPostgres); err != nil {
		return config{}, err
	}
	if cfg.Workloads, err = parseNames("--workloads", *workloads, workloadGet, workloadPost, workloadMix, workloadWebhooks); err != nil {
		return config{}, err
	}
	if cfg.Conns, err = parseConns(*conns); err != nil {
		return config{}, err
	}
	if cfg.Smoke {
		applySmoke(&cfg, given)
	}
	if cfg.Target != "" && given["backend"] {
		return config{}, &usageError{"--backend and --target exclude each other: --target measures a server already running"}
	}
	return cfg, cfg.validate()
}

// validate checks the settings that flag parsing alone does not.
func (c *config) validate() error {
	switch {
	case c.Sessions < 1 || c.Sessions > 100_000_000:
		return &usageError{fmt.Sprintf("--sessions %d must be between 1 and 100000000", c.Sessions)}
	case c.Rows < 1 || c.Rows > 10_000:
		return &usageError{fmt.Sprintf("--rows %d must be between 1 and 10000", c.Rows)}
	case c.Duration <= 0:
		return &usageError{"--duration must be positive"}
	case c.Warmup < 0:
		return &usageError{"--warmup must not be negative"}
	case c.PID < 0:
		return &usageError{"--pid must be a process id"}
	case c.PID != 0 && c.Target == "":
		return &usageError{"--pid is only for --target: a server kycbench starts is measured anyway"}
	case c.Key != "" && c.Target == "":
		return &usageError{"--key is only for --target: kycbench creates its own key otherwise"}
	case c.WebhookEvents < 1 || c.WebhookEvents > 10_000_000:
		return &usageError{fmt.Sprintf("--webhook-events %d must be between 1 and 10000000", c.WebhookEvents)}
	case !(c.WebhookRate > 0 && c.WebhookRate <= 10_000): // also refuses NaN
		return &usageError{fmt.Sprintf("--webhook-rate %g must be above 0 and at most 10000 reviews/s", c.WebhookRate)}
	case c.WebhookDuration <= 0:
		return &usageError{"--webhook-duration must be positive"}
	case c.WebhookWorkers < 0 || c.WebhookWorkers > 4096:
		return &usageError{fmt.Sprintf("--webhook-workers %d must be between 1 and 4096 (0: the server's default)", c.WebhookWorkers)}
	case c.Target != "" && slices.Contains(c.Workloads, workloadWebhooks):
		return &usageError{"--workloads webhooks needs a server kycbench starts: it creates a destination and restarts the server, which it cannot do to a --target"}
	}
	if c.Target != "" {
		if c.Key == "" {
			return &usageError{"--target needs --key, an API key of the running server's application"}
		}
		u, err := url.Parse(c.Target)
		if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return &usageError{fmt.Sprintf("--target %q must be a base URL such as http://127.0.0.1:8080", c.Target)}
		}
		// The load generator is only ever pointed at this machine: load on a
		// shared network would measure the network, and could harm others.
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			return &usageError{fmt.Sprintf("--target %q must be a loopback address such as 127.0.0.1", c.Target)}
		}
		c.Target = strings.TrimSuffix(c.Target, "/")
	}
	if slices.Contains(c.Backends, backendPostgres) && c.Target == "" {
		u, err := url.Parse(c.PostgresURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return &usageError{"--postgres-url must be a postgres:// URL"}
		}
	}
	return nil
}

// parseNames parses a comma-separated list whose items must be among allowed,
// each at most once, keeping the order given.
func parseNames(flagName, s string, allowed ...string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(s, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		if !slices.Contains(allowed, item) {
			return nil, &usageError{fmt.Sprintf("%s: %q is not one of %s", flagName, item, strings.Join(allowed, ", "))}
		}
		if slices.Contains(out, item) {
			return nil, &usageError{fmt.Sprintf("%s: %q is given twice", flagName, item)}
		}
		out = append(out, item)
	}
	return out, nil
}

// parseConns parses --conns: distinct positive counts, in the order given.
func parseConns(s string) ([]int, error) {
	var out []int
	for _, item := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(item))
		if err != nil || n < 1 || n > 4096 {
			return nil, &usageError{fmt.Sprintf("--conns: %q is not a connection count between 1 and 4096", item)}
		}
		if slices.Contains(out, n) {
			return nil, &usageError{fmt.Sprintf("--conns: %d is given twice", n)}
		}
		out = append(out, n)
	}
	return out, nil
}
