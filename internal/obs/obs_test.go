package obs_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycreview/kycreview/internal/obs"
)

func TestValidRequestID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"abc-123", true},
		{"a", true},
		{"0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"with space and ~!@#$%^&*()", true},
		{strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), false},
		{"", false},
		{"line\nbreak", false},
		{"tab\there", false},
		{"nul\x00", false},
		{"del\x7f", false},
		{"é", false},
		{"\xff", false},
	}
	for _, tt := range tests {
		if got := obs.ValidRequestID(tt.id); got != tt.want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := obs.NewRequestID()
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) || seen[id] {
			t.Fatalf("NewRequestID() = %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

// observed records what an HTTPObserver is told.
type observed struct {
	mu   sync.Mutex
	seen []string
}

func (o *observed) ObserveHTTP(route, method string, code int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d < 0 {
		route += " (negative duration)"
	}
	o.seen = append(o.seen, route+" "+method+" "+http.StatusText(code))
}

func (o *observed) last() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.seen) == 0 {
		return ""
	}
	return o.seen[len(o.seen)-1]
}

// server is a handler behind the middleware, logging JSON to a buffer.
type server struct {
	srv *httptest.Server
	log *lockedBuffer
	obs *observed
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log lines so far, decoded.
func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func newServer(t *testing.T) *server {
	s := &server{log: &lockedBuffer{}, obs: &observed{}}
	log := obs.Logger(slog.New(slog.NewJSONHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		obs.SetRoute(r.Context(), "/things/{id}")
		log.DebugContext(r.Context(), "looking a thing up", "id", r.PathValue("id"))
		log.With("component", "store").InfoContext(r.Context(), "found it")
		_, _ = io.WriteString(w, "thing")
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) {
		obs.SetRoute(r.Context(), "/panic")
		panic("boom")
	})
	mux.HandleFunc("POST /teapot", func(w http.ResponseWriter, r *http.Request) {
		obs.SetRoute(r.Context(), "/teapot")
		w.WriteHeader(http.StatusTeapot)
	})
	h := obs.Middleware{Log: log, Observer: s.obs, Recovered: func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"detail":"Internal error."}`)
	}}.Wrap(mux)
	s.srv = httptest.NewServer(h)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *server) do(t *testing.T, method, path, requestID string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if requestID != "" {
		req.Header.Set(obs.HeaderRequestID, requestID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestRequestIDEchoed: a sane incoming id is kept, sent back, and put on
// the request line and on every line logged with the request's context,
// from any logger derived from the wrapped one.
func TestRequestIDEchoed(t *testing.T) {
	s := newServer(t)
	resp := s.do(t, "GET", "/things/42", "client-chosen id 7")
	if got := resp.Header.Get(obs.HeaderRequestID); got != "client-chosen id 7" {
		t.Fatalf("X-Request-Id %q, want the client's", got)
	}
	lines := s.log.lines(t)
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3: %v", len(lines), lines)
	}
	for _, l := range lines {
		if l["request_id"] != "client-chosen id 7" {
			t.Errorf("line without the request id: %v", l)
		}
	}
	req := lines[2]
	if req["msg"] != "request" || req["path"] != "/things/42" || req["status"] != 200.0 || req["method"] != "GET" {
		t.Errorf("request line %v", req)
	}
	if got := s.obs.last(); got != "/things/{id} GET OK" {
		t.Errorf("observed %q", got)
	}
}

// TestRequestIDReplaced: a missing or unsafe id is replaced by a fresh one,
// different for each request, and never echoed.
func TestRequestIDReplaced(t *testing.T) {
	s := newServer(t)
	seen := map[string]bool{}
	// (Control characters do not get this far: net/http refuses them.)
	for _, bad := range []string{"", strings.Repeat("a", 129), "evil\"id", "é-accent", "\xff\xfe"} {
		req, _ := http.NewRequest("GET", s.srv.URL+"/things/1", nil)
		if bad != "" {
			// Set directly: the client refuses some of these in a header,
			// and a raw request would carry them.
			req.Header[obs.HeaderRequestID] = []string{bad}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get(obs.HeaderRequestID)
		if bad == "evil\"id" {
			// Printable ASCII: kept.
			if got != bad {
				t.Errorf("X-Request-Id %q, want %q kept", got, bad)
			}
			continue
		}
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got) || seen[got] {
			t.Errorf("for incoming %q: X-Request-Id %q, want a fresh one", bad, got)
		}
		seen[got] = true
	}
	if len(seen) != 4 {
		t.Errorf("%d fresh ids, want 4", len(seen))
	}
}

// TestRequestIDOnErrors: 404s of unknown paths (one route label for all),
// 405s, handler-chosen statuses and panics all carry the id, are logged
// with it, and are observed with their status.
func TestRequestIDOnErrors(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		method, path string
		status       int
		observed     string
	}{
		{"GET", "/nowhere/abc", 404, "unmatched GET Not Found"},
		{"DELETE", "/things/1", 405, "unmatched DELETE Method Not Allowed"},
		{"POST", "/teapot", 418, "/teapot POST I'm a teapot"},
		{"GET", "/panic", 500, "/panic GET Internal Server Error"},
		{"BREW", "/teapot", 405, "unmatched OTHER Method Not Allowed"},
	}
	for _, tt := range tests {
		resp := s.do(t, tt.method, tt.path, "id-"+tt.method)
		if resp.StatusCode != tt.status || resp.Header.Get(obs.HeaderRequestID) != "id-"+tt.method {
			t.Errorf("%s %s: %d with X-Request-Id %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get(obs.HeaderRequestID))
		}
		if got := s.obs.last(); got != tt.observed {
			t.Errorf("%s %s: observed %q, want %q", tt.method, tt.path, got, tt.observed)
		}
	}
	var panicLine map[string]any
	for _, l := range s.log.lines(t) {
		if l["msg"] == "panic serving request" {
			panicLine = l
		}
		if l["request_id"] == nil {
			t.Errorf("line without a request id: %v", l)
		}
	}
	if panicLine == nil || panicLine["request_id"] != "id-GET" || panicLine["panic"] != "boom" {
		t.Errorf("panic line %v", panicLine)
	}
}

// TestLogHandlerWithoutRequest: lines logged outside a request, or without
// a context, carry no request_id; WithRequestID sets one by hand.
func TestLogHandlerWithoutRequest(t *testing.T) {
	var buf bytes.Buffer
	log := obs.Logger(slog.New(slog.NewJSONHandler(&buf, nil)))
	if obs.Logger(log) != log {
		t.Error("Logger wrapped an already wrapped logger again")
	}
	log.Info("background work")
	log.InfoContext(obs.WithRequestID(t.Context(), "job-1"), "on behalf of a request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || strings.Contains(lines[0], "request_id") || !strings.Contains(lines[1], `"request_id":"job-1"`) {
		t.Errorf("lines:\n%s", buf.String())
	}
}
