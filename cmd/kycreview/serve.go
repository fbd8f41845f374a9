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
	// Closed last: after the HTTP server has drained.
	defer store.Close()
	guard, err := webhook.NewGuard(splitList(cfg.WebhookAllow), net.DefaultResolver)
	if err != nil {
		return &usageError{fmt.Sprintf("--webhook-allow: %v", err)}
	}
	svc := service.New(store, time.Now, service.WithKeyCache(cfg.KeyCacheTTL),
		service.WithWebhooks(service.WebhookConfig{AllowHTTP: cfg.WebhookAllowHTTP, CheckURL: guard.CheckURL}))
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
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
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
	// The dispatcher stops after the HTTP server has drained (a last
	// request may queue events) and before the database closes.
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	dispatched := make(chan struct{})
	if cfg.WebhookDispatch {
		delays, _ := webhook.ParseDelays(cfg.WebhookRetries) // validated
		d := &webhook.Dispatcher{
			Svc: svc, Client: guard.Client(cfg.WebhookTimeout),
			Schedule:     webhook.Schedule{Delays: delays, Jitter: webhook.DefaultJitter},
			DisableAfter: cfg.WebhookDisableAfter, Workers: cfg.WebhookWorkers, Log: log, Metrics: o.attempts,
		}
		go func() { defer close(dispatched); _ = d.Run(dispatchCtx) }()
	} else {
		close(dispatched)
	}
	defer func() { stopDispatch(); <-dispatched }()
	// The notifier too stops after the HTTP server has drained and before
	// the database closes.
	stopNotify, err := startNotifier(ctx, cfg, svc, baseURL, log, o.sends)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopNotify()
	// The checkpointer too stops before the database closes.
	defer startCheckpointer(ctx, cfg, svc, log)()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "db", redact(cfg.DB), "webhooks", cfg.WebhookDispatch)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
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
