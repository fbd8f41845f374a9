package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/kycreview/kycreview/internal/metrics"
	"github.com/kycreview/kycreview/internal/notify"
	"github.com/kycreview/kycreview/internal/obs"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/webhook"
)

// metricsFlags binds serve's metrics flags.
func metricsFlags(fs *flag.FlagSet, cfg *config) {
	fs.BoolVar(&cfg.Metrics, "metrics", cfg.Metrics, "serve Prometheus metrics at GET /metrics (false: /metrics is a 404)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "serve /metrics on this address of its own instead of the API's")
}

// observability is what serve hands its parts to be observed; its fields
// are nil interfaces (not nil pointers in an interface) when metrics are off.
type observability struct {
	metrics  *metrics.Metrics
	http     obs.HTTPObserver
	attempts webhook.AttemptObserver
	sends    notify.SendObserver
}

func newObservability(cfg config, svc *service.Service, log *slog.Logger) observability {
	if !cfg.Metrics {
		return observability{}
	}
	m := metrics.New()
	m.WatchService(svc, metrics.DefaultScrapeTimeout, nil, log)
	return observability{metrics: m, http: m, attempts: m, sends: m}
}

// apiHandler is the /metrics handler for the API's listener: none when
// metrics are off or have a listener of their own.
func (o observability) apiHandler(cfg config, log *slog.Logger) http.Handler {
	if o.metrics == nil || cfg.MetricsAddr != "" {
		return nil
	}
	return o.metrics.Handler(log)
}

// serveMetrics serves /metrics alone on addr (--metrics-addr), for a
// scraper that should not reach the API's listener or that the API's
// listener should not expose metrics to.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
