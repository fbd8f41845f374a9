// Package obs is what kycreview's HTTP handlers share to be observed: the
// request id (taken from X-Request-Id when it is sane, made up otherwise,
// carried in the context and sent back on every response), a slog.Handler
// that puts that id on every log line made with the request's context, and
// the middleware that logs each request, turns a panic into an answer and
// reports the request to a metrics observer under a bounded route label.
//
// It uses only the standard library, so the API and the console can share
// it without either importing a metrics library; internal/metrics is what
// turns the observations into Prometheus series.
package obs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

// HeaderRequestID is the header a request id comes in and goes back out in.
const HeaderRequestID = "X-Request-Id"

// MaxRequestIDLen is the longest incoming request id kept, in bytes.
const MaxRequestIDLen = 128

// ValidRequestID reports whether an incoming request id is one to keep:
// 1 to MaxRequestIDLen bytes of printable ASCII (space to tilde). Anything
// else (control characters, which could forge log lines in a text log,
// non-ASCII, or an unbounded length) is replaced by a fresh id.
func ValidRequestID(s string) bool {
	if len(s) == 0 || len(s) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// NewRequestID returns a fresh request id: 16 random bytes in hex.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	var h [32]byte
	hex.Encode(h[:], b[:])
	return string(h[:]) // the one allocation

}

// stateKey is the context key of the request's *state.
type stateKey struct{}

// idKey is the context key of a request id set with WithRequestID.
type idKey struct{}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if st, ok := ctx.Value(stateKey{}).(*state); ok {
		return st.id
	}
	id, _ := ctx.Value(idKey{}).(string)
	return id
}

// WithRequestID returns a context carrying id as its request id, for work
// done on a request's behalf outside the middleware (and for tests).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// SetRoute names the route serving the request of ctx, for its metrics and
// its log line. route must come from a fixed set (a route pattern such as
// "/v3/sessions/{session_id}/reviews/"), never from the request's path,
// which holds ids: every distinct value is a new time series. Requests no
// route claims are labelled Unmatched. It does nothing outside Middleware.
func SetRoute(ctx context.Context, route string) {
	if st, ok := ctx.Value(stateKey{}).(*state); ok {
		st.route = route
	}
}
