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
}

// DefaultMaxBodyBytes is 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// Server is the API's http.Handler.
type Server struct {
	svc    *service.Service
	cfg    Config
	log    *slog.Logger
	router http.Handler
	table  []Route // what router serves, for Routes

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
	s := &Server{svc: svc, cfg: cfg, log: log}
	if cfg.RateLimits.Read > 0 {
		s.readLimit = newLimiter(cfg.RateLimits.Read, cfg.Now)
	}
	if cfg.RateLimits.Write > 0 {
		s.writeLimit = newLimiter(cfg.RateLimits.Write, cfg.Now)
	}
	s.router = s.routes()
	return s
}

// ServeHTTP serves one request: logged, with panics turned into a 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic serving request", "panic", p, "method", r.Method, "path", r.URL.Path)
			if !rec.wrote {
				s.writeJSON(rec, http.StatusInternalServerError, detail("Internal error."))
			}
		}
		s.log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000)
	}()
	// ServeMux answers a path with "//", "." or ".." segments with a redirect
	// to its cleaned form, which would lose a POST body and point a client
	// somewhere it did not ask for. Such a path names no resource here.
	if !isCleanPath(r.URL.Path) {
		s.writeJSON(rec, http.StatusNotFound, detail("Not found."))
		return
	}
	s.router.ServeHTTP(rec, r)
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

// statusRecorder remembers the status written, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type ctxKey int

const keyCtxKey ctxKey = 0

// apiKey returns the key the request was authenticated with.
func apiKey(ctx context.Context) kycreview.APIKey {
	k, _ := ctx.Value(keyCtxKey).(kycreview.APIKey)
	return k
}
