package obs

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// HTTPObserver is told of every request served, for metrics. route is a
// label from a fixed set (see SetRoute), method one of the standard
// methods or "OTHER", code the status sent.
type HTTPObserver interface {
	ObserveHTTP(route, method string, code int, d time.Duration)
}

// Unmatched is the route label of a request no route claimed (a 404 for an
// unknown path): one label for all of them, whatever the path.
const Unmatched = "unmatched"

// Middleware is what every request to an HTTP handler of kycreview goes
// through: it gives the request its id (HeaderRequestID in, when sane, or
// a fresh one), sends the id back on the response before the handler runs
// (so errors, 404s, 429s and panics carry it too), puts it in the
// request's context for LogHandler, turns a panic into an answer, logs one
// line per request and reports the request to Observer.
type Middleware struct {
	// Log gets the request lines; it should be wrapped by Logger so that
	// they carry the request id.
	Log *slog.Logger
	// Observer, when set, is told of every request.
	Observer HTTPObserver
	// Recovered answers a request whose handler panicked before it wrote
	// anything (a 500 in the handler's own shape).
	Recovered func(w http.ResponseWriter, r *http.Request)
}

// Wrap returns next behind the middleware.
func (m Middleware) Wrap(next http.Handler) http.Handler {
	if m.Log == nil {
		m.Log = slog.New(slog.DiscardHandler)
	}
	if m.Recovered == nil {
		m.Recovered = func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Internal error.", http.StatusInternalServerError)
		}
	}
	return &middleware{m: m, next: next}
}

type middleware struct {
	m    Middleware
	next http.Handler
}

func (h *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get(HeaderRequestID)
	if !ValidRequestID(id) {
		id = NewRequestID()
	}
	// One allocation holds the recorder, the id, the route and the header
	// value; the context points at it.
	st := &state{ResponseWriter: w, status: http.StatusOK, id: id, route: Unmatched}
	st.header[0] = id
	w.Header()[HeaderRequestID] = st.header[:]
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.m.Log.ErrorContext(r.Context(), "panic serving request", "panic", p, "method", r.Method, "path", r.URL.Path,
				"stack", string(debug.Stack()))
			if !st.wrote {
				h.m.Recovered(st, r)
			}
		}
		d := time.Since(start)
		// Four attributes and the request id fit a slog.Record without an
		// allocation; the route is the metrics', the path says more here.
		h.m.Log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
			"status", st.status, "duration_ms", float64(d.Microseconds())/1000)
		if h.m.Observer != nil {
			h.m.Observer.ObserveHTTP(st.route, methodLabel(r.Method), st.status, d)
		}
	}()
	h.next.ServeHTTP(st, r)
}

// methodLabel bounds the method label: a client may send any token as a
// method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	}
	return "OTHER"
}

// state is one request's: the status written (for the log and the
// metrics), its id and its route.
type state struct {
	http.ResponseWriter
	status int
	wrote  bool
	id     string
	route  string
	header [1]string
}

func (s *state) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *state) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *state) Unwrap() http.ResponseWriter { return s.ResponseWriter }
