package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kycreview/kycreview/internal/console"
	"github.com/kycreview/kycreview/internal/httpapi"
	"github.com/kycreview/kycreview/internal/obs"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/webhook"
)

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// shutdownGrace is how long in-flight requests get to finish on shutdown.
const shutdownGrace = 15 * time.Second

func serve(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", &cfg)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address")
	fs.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "public base URL for next/previous links")
	fs.BoolVar(&cfg.TrustProxy, "trust-proxy-headers", cfg.TrustProxy, "build links from X-Forwarded-Proto/Host")
	fs.DurationVar(&cfg.KeyCacheTTL, "key-cache-ttl", cfg.KeyCacheTTL, "remember authenticated API keys this long; a key revoked elsewhere is refused here within it (0: off)")
	fs.IntVar(&cfg.RateLimitGet, "rate-limit-get", cfg.RateLimitGet, "GET requests per API key per sliding minute, per process (0: no limit)")
	fs.IntVar(&cfg.RateLimitWrite, "rate-limit-write", cfg.RateLimitWrite, "POST/PATCH/DELETE requests per API key per sliding minute, per process (0: no limit)")
	fs.BoolVar(&cfg.WebhookDispatch, "webhook-dispatch", cfg.WebhookDispatch, "deliver webhooks from this process")
	fs.BoolVar(&cfg.WebhookAllowHTTP, "webhook-allow-http", cfg.WebhookAllowHTTP, "accept http:// webhook destinations (development only)")
	fs.StringVar(&cfg.WebhookAllow, "webhook-allow", cfg.WebhookAllow, "comma-separated CIDRs, IPs or host[:port] the SSRF guard lets through")
	fs.DurationVar(&cfg.WebhookTimeout, "webhook-timeout", cfg.WebhookTimeout, "time limit of one delivery attempt")
	fs.StringVar(&cfg.WebhookRetries, "webhook-retries", cfg.WebhookRetries, "delays between delivery attempts, e.g. 5s,5m,30m,2h,5h,10h*7")
	fs.DurationVar(&cfg.WebhookDisableAfter, "webhook-disable-after", cfg.WebhookDisableAfter, "disable a destination that has failed without a break this long (0: never)")
	fs.IntVar(&cfg.WebhookWorkers, "webhook-workers", cfg.WebhookWorkers, "delivery attempts in flight at once")
	smtpFlags(fs, &cfg)
	consoleFlags(fs, &cfg)
	idempotencyFlags(fs, &cfg)
	serverFlags(fs, &cfg)
	metricsFlags(fs, &cfg)
	auditFlags(fs, &cfg, true)
	demo := fs.Bool("demo", false, "seed a demo application and print curl commands")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	// Closed last: after the HTTP server has drained and the workers have
	// stopped.
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("database close", "err", err)
			return
		}
		log.Info("database closed")
	}()
	guard, err := webhook.NewGuard(splitList(cfg.WebhookAllow), net.DefaultResolver)
	if err != nil {
		return &usageError{fmt.Sprintf("--webhook-allow: %v", err)}
	}
	svc := service.New(store, time.Now, service.WithKeyCache(cfg.KeyCacheTTL),
		service.WithWebhooks(service.WebhookConfig{AllowHTTP: cfg.WebhookAllowHTTP, CheckURL: guard.CheckURL}),
		service.WithIdempotencyTTL(cfg.IdempotencyTTL))
	if err := configureAudit(cfg, svc); err != nil {
		return err
	}
	o := newObservability(cfg, svc, log)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	baseURL := "http://" + ln.Addr().String()
	if cfg.PublicURL != "" {
		baseURL = strings.TrimSuffix(cfg.PublicURL, "/")
	}
	if *demo {
		if err := seedDemo(ctx, svc, baseURL, stdout); err != nil {
			ln.Close()
			return fmt.Errorf("demo: %w", err)
		}
	}

	consoleCfg := cfg.consoleConfig()
	consoleCfg.Observer = o.http
	consoleHandler, err := console.New(svc, consoleCfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	api := httpapi.New(svc, httpapi.Config{
		PublicURL: cfg.PublicURL, TrustForwardedHeaders: cfg.TrustProxy, MaxBodyBytes: cfg.MaxBodyBytes,
		RateLimits: httpapi.RateLimits{Read: cfg.RateLimitGet, Write: cfg.RateLimitWrite},
		Metrics:    o.apiHandler(cfg, log), Observer: o.http,
	}, log)
	srv := &http.Server{
		// The console under /console/, the API everywhere else, untouched
		// (a ServeMux in front would clean and redirect the API's paths).
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, console.Prefix) {
				consoleHandler.ServeHTTP(w, r)
				return
			}
			api.ServeHTTP(w, r)
		}),
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	cfg.applyServerLimits(srv)
	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, o.metrics.Handler(log), log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopMetrics()
	}
	if cfg.PprofAddr != "" {
		stopPprof, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopPprof()
	}
	// The background workers run under workCtx, not ctx: they stop after
	// the HTTP server has drained (a last request may queue events and
	// emails) and before the database closes. The first worker's deferred
	// stop ends workCtx for all of them, so they wind down together, each
	// within its own grace, and each stop then waits for its worker.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var waitDispatch func() // nil: no dispatcher here
	if cfg.WebhookDispatch {
		delays, _ := webhook.ParseDelays(cfg.WebhookRetries) // validated
		d := &webhook.Dispatcher{
			Svc: svc, Client: guard.Client(cfg.WebhookTimeout),
			Schedule:     webhook.Schedule{Delays: delays, Jitter: webhook.DefaultJitter},
			DisableAfter: cfg.WebhookDisableAfter, Workers: cfg.WebhookWorkers, Log: log, Metrics: o.attempts,
		}
		dispatched := make(chan struct{})
		go func() { defer close(dispatched); _ = d.Run(workCtx) }()
		waitDispatch = func() { <-dispatched }
	}
	defer stopWorker(log, "webhook dispatcher", stopWork, waitDispatch)
	stopNotify, err := startNotifier(workCtx, cfg, svc, baseURL, log, o.sends)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopWorker(log, "notifier", stopWork, stopNotify)
	defer stopWorker(log, "audit checkpointer", stopWork, startCheckpointer(workCtx, cfg, svc, log))
	defer stopWorker(log, "idempotency purger", stopWork, startIdempotencyPurger(workCtx, svc, log))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "db", redact(cfg.DB), "webhooks", cfg.WebhookDispatch)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Shutdown closes the listener at once (new connections are refused)
	// and waits for the requests in flight; the deferred stops then run:
	// the workers, then the database.
	log.Info("shutting down: draining HTTP requests", "grace", shutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Past the grace, the connections still open are closed. A
		// handler still running finds the database closed once the
		// workers have stopped: what it had not committed rolls back, as
		// after a crash, and its client got no answer.
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("http server stopped")
	return nil
}

// stopWorker stops a background worker on shutdown: it ends every worker's
// context (stopAll; the first call does it), waits for this one (wait; nil
// when it does not run) and logs it, so the log shows each worker stopped
// before the database closes.
func stopWorker(log *slog.Logger, name string, stopAll context.CancelFunc, wait func()) {
	stopAll()
	if wait != nil {
		wait()
		log.Info("worker stopped", "worker", name)
	}
}

// newLogger logs as text to a terminal and as JSON otherwise.
func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	// Every line logged with a request's context carries its request id.
	if format == "text" {
		return slog.New(obs.NewLogHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(obs.NewLogHandler(slog.NewJSONHandler(w, opts)))
}
