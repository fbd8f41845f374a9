package main

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfig(t *testing.T) {
	defaults := defaultConfig()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(*config) // applied to the defaults; nil when an error is expected
	}{
		{name: "defaults", want: func(*config) {}},
		{name: "environment names the PostgreSQL server",
			env:  map[string]string{"KYCREVIEW_TEST_POSTGRES": "postgres://bench@127.0.0.1:5433/postgres"},
			want: func(c *config) { c.PostgresURL = "postgres://bench@127.0.0.1:5433/postgres" }},
		{name: "flag wins over environment",
			args: []string{"--postgres-url", "postgres://flag@127.0.0.1/postgres"},
			env:  map[string]string{"KYCREVIEW_TEST_POSTGRES": "postgres://env@127.0.0.1/postgres"},
			want: func(c *config) { c.PostgresURL = "postgres://flag@127.0.0.1/postgres" }},
		{name: "sizes, lists and durations",
			args: []string{"--sessions", "20000", "--rows", "5", "--backend", " SQLite ", "--conns", "1,16,256",
				"--workloads", "post,get", "--duration", "5s", "--warmup", "0", "--json", "out.json"},
			want: func(c *config) {
				c.Sessions, c.Rows, c.Backends, c.Conns = 20000, 5, []string{"sqlite"}, []int{1, 16, 256}
				c.Workloads, c.Duration, c.Warmup, c.JSONPath = []string{"post", "get"}, 5*time.Second, 0, "out.json"
			}},
		{name: "smoke shrinks what was not given",
			args: []string{"--smoke", "--rows", "3"},
			want: func(c *config) {
				c.Smoke, c.Sessions, c.Rows, c.Conns = true, 200, 3, []int{2}
				c.Duration, c.Warmup, c.PostgresOptional = 500*time.Millisecond, 100*time.Millisecond, true
				c.Workloads = []string{"get", "post", "mix", "webhooks"}
				c.WebhookEvents, c.WebhookDuration = 300, time.Second
			}},
		{name: "smoke with named backends requires them",
			args: []string{"--smoke", "--backend", "postgres"},
			want: func(c *config) {
				c.Smoke, c.Sessions, c.Rows, c.Conns, c.Backends = true, 200, 5, []int{2}, []string{"postgres"}
				c.Duration, c.Warmup = 500*time.Millisecond, 100*time.Millisecond
				c.Workloads = []string{"get", "post", "mix", "webhooks"}
				c.WebhookEvents, c.WebhookDuration = 300, time.Second
			}},
		{name: "smoke keeps named workloads and webhook settings",
			args: []string{"--smoke", "--workloads", "get", "--webhook-events", "50", "--webhook-duration", "3s"},
			want: func(c *config) {
				c.Smoke, c.Sessions, c.Rows, c.Conns = true, 200, 5, []int{2}
				c.Duration, c.Warmup, c.PostgresOptional = 500*time.Millisecond, 100*time.Millisecond, true
				c.Workloads, c.WebhookEvents, c.WebhookDuration = []string{"get"}, 50, 3*time.Second
			}},
		{name: "webhooks alone",
			args: []string{"--workloads", "webhooks", "--webhook-events", "5000", "--webhook-rate", "250", "--webhook-duration", "10s", "--webhook-workers", "128"},
			want: func(c *config) {
				c.Workloads, c.WebhookEvents, c.WebhookRate, c.WebhookDuration, c.WebhookWorkers = []string{"webhooks"}, 5000, 250, 10*time.Second, 128
			}},
		{name: "smoke against a target leaves webhooks out",
			args: []string{"--smoke", "--target", "http://127.0.0.1:8080", "--key", "k"},
			want: func(c *config) {
				c.Smoke, c.Sessions, c.Rows, c.Conns = true, 200, 5, []int{2}
				c.Duration, c.Warmup, c.PostgresOptional = 500*time.Millisecond, 100*time.Millisecond, true
				c.Target, c.Key, c.WebhookEvents, c.WebhookDuration = "http://127.0.0.1:8080", "k", 300, time.Second
			}},
		{name: "target",
			args: []string{"--target", "http://127.0.0.1:8080/", "--key", "kyc_x", "--pid", "42"},
			want: func(c *config) { c.Target, c.Key, c.PID = "http://127.0.0.1:8080", "kyc_x", 42 }},
		{name: "target on IPv6 loopback",
			args: []string{"--target", "http://[::1]:8080", "--key", "k"},
			want: func(c *config) { c.Target, c.Key = "http://[::1]:8080", "k" }},

		{name: "unknown backend", args: []string{"--backend", "mysql"}},
		{name: "backend twice", args: []string{"--backend", "sqlite,sqlite"}},
		{name: "empty backend", args: []string{"--backend", ""}},
		{name: "unknown workload", args: []string{"--workloads", "delete"}},
		{name: "zero conns", args: []string{"--conns", "0"}},
		{name: "conns not a number", args: []string{"--conns", "8,lots"}},
		{name: "conns twice", args: []string{"--conns", "8,8"}},
		{name: "zero sessions", args: []string{"--sessions", "0"}},
		{name: "zero rows", args: []string{"--rows", "0"}},
		{name: "zero duration", args: []string{"--duration", "0s"}},
		{name: "negative warmup", args: []string{"--warmup", "-1s"}},
		{name: "unknown flag", args: []string{"--verbose"}},
		{name: "positional argument", args: []string{"sqlite"}},
		{name: "target without key", args: []string{"--target", "http://127.0.0.1:8080"}},
		{name: "target off this machine", args: []string{"--target", "http://10.0.0.7:8080", "--key", "k"}},
		{name: "target by name", args: []string{"--target", "http://example.com:8080", "--key", "k"}},
		{name: "target with a path", args: []string{"--target", "http://127.0.0.1:8080/v3", "--key", "k"}},
		{name: "target over https", args: []string{"--target", "https://127.0.0.1:8443", "--key", "k"}},
		{name: "target and backend", args: []string{"--target", "http://127.0.0.1:8080", "--key", "k", "--backend", "sqlite"}},
		{name: "pid without target", args: []string{"--pid", "42"}},
		{name: "key without target", args: []string{"--key", "k"}},
		{name: "postgres URL not postgres", args: []string{"--postgres-url", "mysql://x"}},
		{name: "webhooks against a target", args: []string{"--target", "http://127.0.0.1:8080", "--key", "k", "--workloads", "webhooks"}},
		{name: "zero webhook events", args: []string{"--webhook-events", "0"}},
		{name: "zero webhook rate", args: []string{"--webhook-rate", "0"}},
		{name: "NaN webhook rate", args: []string{"--webhook-rate", "NaN"}},
		{name: "zero webhook duration", args: []string{"--webhook-duration", "0s"}},
		{name: "negative webhook workers", args: []string{"--webhook-workers", "-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, func(k string) string { return tt.env[k] })
			if tt.want == nil {
				var u *usageError
				if !errors.As(err, &u) {
					t.Fatalf("parseConfig(%q) = %+v, %v; want a usage error", tt.args, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q): %v", tt.args, err)
			}
			want := defaults
			want.Backends = append([]string(nil), defaults.Backends...)
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("parseConfig(%q) mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		if _, err := parseConfig([]string{arg}, func(string) string { return "" }); !errors.Is(err, errHelp) {
			t.Errorf("parseConfig(%q) = %v, want errHelp", arg, err)
		}
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "go run ./cmd/kycbench"},
		{[]string{"--sessions", "20000", "--duration", "5s"}, "go run ./cmd/kycbench --sessions 20000 --duration 5s"},
		{[]string{"--target", "http://127.0.0.1:8080", "--key", "kyc_secret", "--pid", "9"},
			"go run ./cmd/kycbench --target http://127.0.0.1:8080 --key … --pid 9"},
		{[]string{"-key=kyc_secret"}, "go run ./cmd/kycbench --key=…"},
		{[]string{"--postgres-url", "postgres://u:pw@127.0.0.1/postgres"}, "go run ./cmd/kycbench --postgres-url postgres://u:xxxxx@127.0.0.1/postgres"},
		{[]string{"--postgres-url=postgres://u:pw@127.0.0.1/postgres"}, "go run ./cmd/kycbench --postgres-url=postgres://u:xxxxx@127.0.0.1/postgres"},
	}
	for _, tt := range tests {
		if got := commandLine(tt.args); got != tt.want {
			t.Errorf("commandLine(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestSpread(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e", "f"}
	if got := spread(ids, 3); len(got) != 3 || got[0] != "a" || got[1] != "c" || got[2] != "e" {
		t.Errorf("spread(6 ids, 3) = %v, want [a c e]", got)
	}
	if got := spread(ids, 0); len(got) != 6 {
		t.Errorf("spread(ids, 0) = %v, want all", got)
	}
	if got := spread(ids, 9); len(got) != 6 {
		t.Errorf("spread(ids, 9) = %v, want all", got)
	}
}
