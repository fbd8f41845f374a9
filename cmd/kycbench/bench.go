package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// target is a kycreview server under load: one kycbench started, or one
// given with --target.
type target struct {
	base string
	key  string
	ids  []string
	pid  int      // 0 if unknown
	proc *process // nil for --target
	// dbPIDs lists the database's processes (PostgreSQL); nil when the
	// database runs inside the server or is unknown.
	dbPIDs func(context.Context) ([]int, error)
}

// logFunc writes one line of progress.
type logFunc func(format string, args ...any)

// bench runs the whole suite for cfg and prints its report on stdout, and
// progress on stderr.
func bench(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "kycbench: "+format+"\n", a...) }
	rep := report{
		Started: time.Now().UTC().Truncate(time.Second),
		Command: commandLine(args),
		Machine: readMachine(),
		Load: loadSettings{
			Conns: cfg.Conns, Workloads: cfg.Workloads,
			WarmupSeconds: cfg.Warmup.Seconds(), DurationSeconds: cfg.Duration.Seconds(),
			RequestTimeoutSeconds: requestTimeout.Seconds(), MixPostPercent: mixPostPercent,
		},
	}
	runErr := benchAll(ctx, cfg, &rep, logf)
	rep.Targets = checkTargets(rep.Backends)

	writeMarkdown(stdout, rep)
	if cfg.JSONPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(cfg.JSONPath, append(b, '\n'), 0o644)
		}
		if err != nil {
			return errors.Join(runErr, fmt.Errorf("write --json: %w", err))
		}
	}
	if runErr != nil {
		return runErr
	}
	return harnessFailures(rep)
}

// benchAll measures the target or each backend in turn, adding to rep what
// it measured even when a later step fails.
func benchAll(ctx context.Context, cfg config, rep *report, logf logFunc) error {
	if cfg.Target != "" {
		run, err := benchTarget(ctx, cfg, logf)
		rep.Backends = append(rep.Backends, run)
		return err
	}
	backends := cfg.Backends
	if cfg.PostgresOptional && slices.Contains(backends, backendPostgres) {
		if err := pgReachable(ctx, cfg.PostgresURL); err != nil {
			note := fmt.Sprintf("PostgreSQL skipped: not reachable at --postgres-url (%v)", err)
			logf("%s", note)
			rep.Notes = append(rep.Notes, note)
			backends = slices.DeleteFunc(slices.Clone(backends), func(b string) bool { return b == backendPostgres })
		}
	}
	tmp, err := os.MkdirTemp("", "kycbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	logf("building ./cmd/kycreview")
	bin, err := buildServer(ctx, tmp)
	if err != nil {
		return err
	}
	for _, b := range backends {
		run, err := benchBackend(ctx, cfg, b, bin, tmp, logf)
		if run.Backend != "" {
			rep.Backends = append(rep.Backends, run)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
	}
	return nil
}

// benchBackend seeds a fresh database of the backend, starts kycreview on
// it and measures it against the ceiling.
func benchBackend(ctx context.Context, cfg config, backend, bin, tmp string, logf logFunc) (backendRun, error) {
	logf("%s: seeding %d sessions × %d feed rows", backend, cfg.Sessions, cfg.Rows)
	var ds dataset
	var dbPIDs func(context.Context) ([]int, error)
	var err error
	switch backend {
	case backendSQLite:
		if cfg.SQLiteDir != "" {
			ds, err = keptSQLite(ctx, cfg.SQLiteDir, cfg.Sessions, cfg.Rows, logf)
		} else {
			ds, err = seedSQLite(ctx, tmp, cfg.Sessions, cfg.Rows, seedChunkRows)
		}
	case backendPostgres:
		var db *pgDatabase
		if db, err = createPgDatabase(ctx, cfg.PostgresURL); err != nil {
			return backendRun{}, err
		}
		// Deferred before the server's stop, so it runs after it.
		defer func() {
			if err := db.drop(); err != nil {
				logf("%v", err)
			}
		}()
		if ds, err = seedPostgres(ctx, db, cfg.Sessions, cfg.Rows); err != nil {
			return backendRun{}, err
		}
		var backends *pgBackends
		if backends, err = openPgBackends(ctx, db.url); err != nil {
			return backendRun{}, err
		}
		defer backends.close()
		dbPIDs = backends.pids
	default:
		err = fmt.Errorf("unknown backend %q", backend)
	}
	if err != nil {
		return backendRun{}, err
	}
	logf("%s: seeded in %s, %.1f MB", backend, ds.SeedTime.Round(time.Millisecond), float64(ds.SizeBytes)/1e6)

	run := backendRun{
		Backend:        backend,
		Sessions:       ds.Sessions,
		RowsPerSession: ds.Rows,
		FeedRows:       ds.Sessions * ds.Rows,
		SeedSeconds:    ds.SeedTime.Seconds(),
		DatabaseBytes:  ds.SizeBytes,
		Durability:     ds.Durability,
	}
	if len(closedLoopWorkloads(cfg.Workloads)) > 0 {
		srv, err := startServer(ctx, bin, ds.DBURL)
		if err != nil {
			return run, err
		}
		err = measure(ctx, cfg, &run, target{base: srv.base, key: ds.Token, ids: spread(ds.SessionIDs, cfg.HotSessions), pid: srv.pid(), proc: srv, dbPIDs: dbPIDs}, logf)
		srv.stop()
		if err != nil {
			return run, err
		}
	}
	// The webhook benchmark comes last: the destination it creates would
	// add a delivery to every review the workloads above send.
	if slices.Contains(cfg.Workloads, workloadWebhooks) {
		wh, err := benchWebhooks(ctx, cfg, bin, ds, dbPIDs, logf)
		run.Webhooks = wh
		if err != nil {
			return run, err
		}
	}
	return run, nil
}

// closedLoopWorkloads returns the workloads measured closed loop against
// the ceiling: all but webhooks.
func closedLoopWorkloads(workloads []string) []string {
	return slices.DeleteFunc(slices.Clone(workloads), func(w string) bool { return w == workloadWebhooks })
}

// benchTarget measures a server that is already running.
func benchTarget(ctx context.Context, cfg config, logf logFunc) (backendRun, error) {
	logf("target %s: discovering sessions", cfg.Target)
	ids, count, err := discoverSessions(ctx, cfg.Target, cfg.Key)
	run := backendRun{Backend: "target", Sessions: count, Durability: "unknown: a server kycbench did not start"}
	if err != nil {
		return run, err
	}
	logf("target %s: %d KYC sessions, load spread over %d of them", cfg.Target, count, len(ids))
	err = measure(ctx, cfg, &run, target{base: cfg.Target, key: cfg.Key, ids: ids, pid: cfg.PID}, logf)
	return run, err
}

// measure runs every workload at every connection count against the ceiling
// and against t, one right after the other, so that each ratio is taken
// from two windows a few seconds apart on a machine in the same state.
func measure(ctx context.Context, cfg config, run *backendRun, t target, logf logFunc) error {
	page, err := fetchPage(ctx, t.base, t.key, t.ids[0])
	if err != nil {
		return fmt.Errorf("fetch a feed page to size the ceiling's: %w", err)
	}
	run.PageBytes = len(page)
	ceiling, err := startCeiling(ctx, len(page))
	if err != nil {
		return err
	}
	defer ceiling.stop()

	for _, conns := range cfg.Conns {
		for _, wl := range closedLoopWorkloads(cfg.Workloads) {
			spec := loadSpec{Key: t.key, IDs: t.ids, Workload: wl, Conns: conns, Warmup: cfg.Warmup, Duration: cfg.Duration}
			var c comparison
			c.Workload, c.Conns = wl, conns

			spec.Base, spec.PID = ceiling.base, ceiling.pid()
			res, err := runLoad(ctx, spec)
			if err != nil {
				// A server that died explains the failure better, with its output.
				return cmp.Or(ceiling.alive(), fmt.Errorf("%s, %d conns, ceiling: %w", wl, conns, err))
			}
			c.Ceiling = newMeasurement(res, cfg.Duration)

			if err := t.proc.alive(); err != nil {
				return err
			}
			spec.Base, spec.PID, spec.DBPIDs = t.base, t.pid, t.dbPIDs
			if res, err = runLoad(ctx, spec); err != nil {
				return cmp.Or(t.proc.alive(), fmt.Errorf("%s, %d conns: %w", wl, conns, err))
			}
			c.Server = newMeasurement(res, cfg.Duration)
			if err := t.proc.alive(); err != nil {
				return err
			}
			c.ThroughputRatio = ratio(c.Server.RequestsPerSecond, c.Ceiling.RequestsPerSecond)
			c.P99Ratio = ratio(c.Server.P99Ms, c.Ceiling.P99Ms)
			run.Results = append(run.Results, c)
			logf("%s %-4s %3d conns: %7.0f req/s = %5.1f%% of the ceiling's %7.0f; p99 %.2f ms (ceiling %.2f ms); %d errors",
				run.Backend, wl, conns, c.Server.RequestsPerSecond, 100*c.ThroughputRatio, c.Ceiling.RequestsPerSecond,
				c.Server.P99Ms, c.Ceiling.P99Ms, c.Server.Errors)
			if c.Server.FirstError != "" {
				logf("  first error: %s", c.Server.FirstError)
			}
		}
	}
	return nil
}

// commandLine is the command that was run, for the report, with the API key
// and any database password hidden: reports get pasted into issues.
func commandLine(args []string) string {
	out := []string{"go run ./cmd/kycbench"}
	hideNext := false
	for _, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case hideNext:
			a, hideNext = "…", false
		case strings.HasPrefix(a, "-") && name == "key":
			if hasValue {
				a = "--key=…"
			} else {
				hideNext = true
			}
		case strings.HasPrefix(a, "-") && name == "postgres-url" && hasValue:
			a = "--postgres-url=" + redactURL(value)
		case strings.Contains(a, "://"):
			a = redactURL(a)
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// redactURL hides the password of a URL, if it has one.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// harnessFailures is the error for a run that measured nothing somewhere:
// a window in which not one request succeeded means the harness or the
// server is broken, not slow.
func harnessFailures(rep report) error {
	var errs []error
	for _, b := range rep.Backends {
		for _, c := range b.Results {
			for _, m := range []struct {
				name string
				m    measurement
			}{{"kycreview", c.Server}, {"ceiling", c.Ceiling}} {
				if m.m.Requests == 0 {
					errs = append(errs, fmt.Errorf("%s %s %s at %d conns: no request succeeded (%d errors; first: %s)",
						b.Backend, m.name, c.Workload, c.Conns, m.m.Errors, m.m.FirstError))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// spread returns n of ids, evenly spaced through them (all of them when n
// is 0 or not smaller): with --hot-sessions the requests find their pages
// at every depth and place of a large dataset's indexes, but few enough
// pages that they stay in memory, which separates the cost of the
// structure's size from the cost of reading a disk.
func spread(ids []string, n int) []string {
	if n <= 0 || n >= len(ids) {
		return ids
	}
	out := make([]string, n)
	for i := range out {
		out[i] = ids[i*len(ids)/n]
	}
	return out
}
