// Package metrics is kycreview's Prometheus instrumentation: one registry of
// its own (never the global default) with the Go runtime and process
// collectors, the HTTP request counters and latency histograms the API and
// the console report through obs.HTTPObserver, the webhook attempts and
// notification sends the workers report, and the figures read at scrape
// time: the webhook and notification backlogs and the database pools.
//
// Every series and its labels are listed in docs/operations.md. Labels come
// from fixed sets only (route patterns, methods, status codes, results),
// never from a path, an id or a tenant.
package metrics

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kycreview/kycreview/internal/notify"
	"github.com/kycreview/kycreview/internal/webhook"
)

// namespace prefixes every kycreview series.
const namespace = "kycreview"

// latencyBuckets spans a cached feed page (well under a millisecond) to a
// request that waited on a slow disk or a busy database (seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics holds kycreview's registry and the series it records itself.
// Its Observe methods are safe for concurrent use and do not allocate once
// a label combination has been seen.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpMu       sync.RWMutex
	httpChildren map[httpKey]httpChild

	attempts        map[webhook.Result]prometheus.Counter
	attemptDuration map[webhook.Result]prometheus.Observer
	sends           map[notify.SendResult]prometheus.Counter
}

type httpKey struct {
	route, method string
	code          int
}

type httpChild struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New returns a registry with the Go and process collectors and kycreview's
// own series. Attach the service's figures with WatchService.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), httpChildren: map[httpKey]httpChild{}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests served, by route pattern (\"unmatched\" for unknown paths), method and status code.",
	}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to serve an HTTP request, from its headers read to its handler's return, by route pattern, method and status code.",
		Buckets: latencyBuckets,
	}, []string{"route", "method", "code"})

	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "webhook", Name: "attempts_total",
		Help: "Webhook delivery attempts made by this process, by result: success, http_error, timeout, connection_error, blocked or error.",
	}, []string{"result"})
	attemptDuration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "webhook", Name: "attempt_duration_seconds",
		Help:    "Time a webhook delivery attempt took, request sent to response read, by result.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"result"})
	m.attempts = map[webhook.Result]prometheus.Counter{}
	m.attemptDuration = map[webhook.Result]prometheus.Observer{}
	for _, r := range webhook.Results {
		m.attempts[r] = attempts.WithLabelValues(string(r))
		m.attemptDuration[r] = attemptDuration.WithLabelValues(string(r))
	}

	sends := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "notification", Name: "sends_total",
		Help: "Mention notifications handled by this process's notifier, by result: sent, retry, failed or skipped.",
	}, []string{"result"})
	m.sends = map[notify.SendResult]prometheus.Counter{}
	for _, r := range notify.SendResults {
		m.sends[r] = sends.WithLabelValues(string(r))
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, attempts, attemptDuration, sends)
	return m
}

// Registry returns the registry, to register more collectors on or to
// gather from.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus's text format (or whatever the
// scraper negotiates). A collector that fails (the database did not answer
// in time) is logged and left out; the rest is served.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		// Concurrent scrapes each read the database; a few is plenty.
		MaxRequestsInFlight: 4,
	})
}

// ObserveHTTP implements obs.HTTPObserver. Each (route, method, code)
// resolves its counter and histogram once; later requests find them in a
// map, without the allocation WithLabelValues makes.
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	k := httpKey{route, method, code}
	m.httpMu.RLock()
	c, ok := m.httpChildren[k]
	m.httpMu.RUnlock()
	if !ok {
		c = m.httpChild(k)
	}
	c.count.Inc()
	c.duration.Observe(d.Seconds())
}

func (m *Metrics) httpChild(k httpKey) httpChild {
	m.httpMu.Lock()
	defer m.httpMu.Unlock()
	if c, ok := m.httpChildren[k]; ok {
		return c
	}
	code := strconv.Itoa(k.code)
	c := httpChild{
		count:    m.httpRequests.WithLabelValues(k.route, k.method, code),
		duration: m.httpDuration.WithLabelValues(k.route, k.method, code),
	}
	m.httpChildren[k] = c
	return c
}

// ObserveAttempt implements webhook.AttemptObserver.
func (m *Metrics) ObserveAttempt(r webhook.Result, latency time.Duration) {
	c, ok := m.attempts[r]
	if !ok {
		return // a result this build does not know: not a label to invent
	}
	c.Inc()
	m.attemptDuration[r].Observe(latency.Seconds())
}

// ObserveSend implements notify.SendObserver.
func (m *Metrics) ObserveSend(r notify.SendResult) {
	if c, ok := m.sends[r]; ok {
		c.Inc()
	}
}
