// Package httpapi is kycreview's Didit-compatible REST API: the route table,
// authentication, DRF-shaped errors, and Didit's pagination and ordering.
// It parses and renders; every rule and every write is the service's.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"path"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/obs"
	"github.com/kycreview/kycreview/internal/service"
)

// Config holds the API's settings.
type Config struct {
	// PublicURL, when set, is the scheme, host and optional path prefix that
	// next/previous links use instead of the request's own (behind a proxy).
	PublicURL string
	// TrustForwardedHeaders makes links use X-Forwarded-Proto and
	// X-Forwarded-Host. Only for a proxy that sets (not passes on) them.
	TrustForwardedHeaders bool
	// MaxBodyBytes caps request bodies; larger ones get 413.
	MaxBodyBytes int64
	// Now is the clock for timestamps the API itself renders, and for the
	// rate limits' windows.
	Now func() time.Time
	// RateLimits are the per-key request limits (zero: none).
	RateLimits RateLimits
	// Metrics, when set, is served at GET /metrics, without authentication
	// or rate limits, like the healthcheck; without it /metrics is a 404.
	Metrics http.Handler
	// Observer, when set, is told of every request: its route pattern
	// (never its path), method, status and duration.
	Observer obs.HTTPObserver
}

// DefaultMaxBodyBytes is 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// Server is the API's http.Handler.
type Server struct {
	svc     *service.Service
	cfg     Config
	log     *slog.Logger
	router  http.Handler
	handler http.Handler // router behind obs.Middleware
	table   []Route      // what router serves, for Routes

	readLimit, writeLimit *limiter // nil: no limit
}

// New returns the API handler over svc.
func New(svc *service.Service, cfg Config, log *slog.Logger) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log = obs.Logger(log) // every line logged while serving gets its request id
	s := &Server{svc: svc, cfg: cfg, log: log}
	if cfg.RateLimits.Read > 0 {
		s.readLimit = newLimiter(cfg.RateLimits.Read, cfg.Now)
	}
	if cfg.RateLimits.Write > 0 {
		s.writeLimit = newLimiter(cfg.RateLimits.Write, cfg.Now)
	}
	s.router = s.routes()
	s.handler = obs.Middleware{Log: log, Observer: cfg.Observer, Recovered: func(w http.ResponseWriter, r *http.Request) {
		s.writeJSON(w, http.StatusInternalServerError, detail("Internal error."))
	}}.Wrap(http.HandlerFunc(s.serve))
	return s
}

// ServeHTTP serves one request behind obs.Middleware: with a request id,
// logged, observed, and with a panic turned into a 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// ServeMux answers a path with "//", "." or ".." segments with a redirect
	// to its cleaned form, which would lose a POST body and point a client
	// somewhere it did not ask for. Such a path names no resource here.
	if !isCleanPath(r.URL.Path) {
		s.writeJSON(w, http.StatusNotFound, detail("Not found."))
		return
	}
	s.router.ServeHTTP(w, r)
}

// isCleanPath reports whether p is already in the form ServeMux routes
// without redirecting: absolute, with no empty, "." or ".." segment.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	if c := path.Clean(p); c != p && c+"/" != p {
		return false
	}
	return true
}

type ctxKey int

const keyCtxKey ctxKey = 0

// apiKey returns the key the request was authenticated with.
func apiKey(ctx context.Context) kycreview.APIKey {
	k, _ := ctx.Value(keyCtxKey).(kycreview.APIKey)
	return k
}
