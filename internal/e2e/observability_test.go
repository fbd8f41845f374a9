package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/client"
	"github.com/kycreview/kycreview/internal/httpapi"
	"github.com/kycreview/kycreview/internal/metrics"
	"github.com/kycreview/kycreview/internal/service"
)

// logBuffer collects a server's JSON log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// observed puts the env's API behind a server as serve runs it: metrics on
// (unless off), logging JSON at debug level into the returned buffer. The
// env's requests and client go to it from then on.
func observed(e *env, metricsOn bool) *logBuffer {
	e.t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := e.cfg
	if metricsOn {
		m := metrics.New()
		m.WatchService(e.svc, metrics.DefaultScrapeTimeout, nil, log)
		cfg.Metrics, cfg.Observer = m.Handler(log), m
	}
	srv := httptest.NewServer(httpapi.New(e.svc, cfg, log))
	e.t.Cleanup(srv.Close)
	e.url = srv.URL
	e.client = client.New(e.url, e.token)
	return logs
}

// metric returns the value of one series of a /metrics scrape, or "" when
// the scrape has no such series.
func metric(text, series string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestRequestIDs: every answer of the API (success, 403, 404, 405, 415,
// 429) carries X-Request-Id: the client's when it is sane, a fresh one
// otherwise; the request's log lines carry it as request_id.
func TestRequestIDs(t *testing.T) {
	e := newEnv(t, withRateLimits(100, 3))
	logs := observed(e, false)
	id := e.newSession(kycreview.KindUser) // 1 of the 3 writes allowed: the 405 and 415 below are 2 and 3
	fresh := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		sent, want               string // "" want: a fresh id
	}{
		{"feed", "GET", "/v3/sessions/" + id + "/reviews/", "", []string{e.key()}, 200, "trace-1", "trace-1"},
		{"healthcheck", "GET", "/system/healthcheck", "", nil, 200, "0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{"bad key", "GET", "/v3/sessions/", "", []string{"x-api-key: kyc_nope"}, 403, "trace-403", "trace-403"},
		{"unknown path", "GET", "/v3/nothing-here/", "", nil, 404, "trace-404", "trace-404"},
		{"unclean path", "GET", "/v3//sessions/", "", nil, 404, "", ""},
		{"method", "PUT", "/v3/sessions/", "", []string{e.key()}, 405, "trace-405", "trace-405"},
		{"media type", "POST", "/v3/session/", "x", []string{e.key(), "Content-Type: text/plain"}, 415, "trace-415", "trace-415"},
		{"rate limited", "POST", "/v3/session/", "{}", []string{e.key(), jsonType}, 429, "trace-429", "trace-429"},
		{"too long", "GET", "/system/healthcheck", "", nil, 200, strings.Repeat("x", 129), ""},
		{"not ASCII", "GET", "/system/healthcheck", "", nil, 200, "zoë", ""},
	}
	for _, tt := range tests {
		headers := tt.headers
		if tt.sent != "" {
			headers = append(headers, "X-Request-Id: "+tt.sent)
		}
		r := e.do(tt.method, tt.path, tt.body, headers...)
		got := r.header.Get("X-Request-Id")
		switch {
		case r.status != tt.status:
			t.Errorf("%s: status %d %s, want %d", tt.name, r.status, r.body, tt.status)
		case tt.want != "" && got != tt.want:
			t.Errorf("%s: X-Request-Id %q, want %q", tt.name, got, tt.want)
		case tt.want == "" && !fresh.MatchString(got):
			t.Errorf("%s: X-Request-Id %q, want a fresh one", tt.name, got)
		}
	}
	// One request line per request, each with its id.
	ids := map[string]map[string]any{}
	for _, l := range logs.lines(t) {
		if l["msg"] == "request" {
			id, _ := l["request_id"].(string)
			ids[id] = l
		}
	}
	for _, tt := range tests {
		if tt.want == "" {
			continue
		}
		if l := ids[tt.want]; l == nil || l["status"] != float64(tt.status) {
			t.Errorf("%s: request line %v", tt.name, l)
		}
	}
	if l := ids["trace-1"]; l == nil || l["path"] != "/v3/sessions/"+id+"/reviews/" {
		t.Errorf("feed request line %v", l)
	}
}

// TestMetricsEndpoint: GET /metrics needs no key and counts no rate limit;
// requests are counted by route pattern, method and code (ids never appear
// in a label); the webhook and notification backlogs are what the database
// holds: deliveries queued (no dispatcher runs here), held when their
// destination is paused, and a pending mention email.
func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t, withServiceOptions(service.WithWebhooks(service.WebhookConfig{AllowHTTP: true})), withRateLimits(2, 100))
	observed(e, true)
	ctx := context.Background()
	if _, err := e.svc.CreateConsoleUser(ctx, e.app.Application.ID, "ana@example.com", "Ana"); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/v3/webhook/destinations/", `{"label":"ops","url":"http://127.0.0.1:9/hook","subscribed_events":["status.updated"]}`, e.key(), jsonType)
	if r.status != 201 {
		t.Fatalf("create destination: %d %s", r.status, r.body)
	}
	var dest struct{ UUID string }
	_ = json.Unmarshal([]byte(r.body), &dest)
	before := time.Now()
	s1, s2 := e.newSession(kycreview.KindUser), e.newSession(kycreview.KindUser)
	comment := "please re-check @ana@example.com"
	for _, id := range []string{s1, s2, s1} {
		if _, err := e.client.CreateReview(ctx, id, client.ReviewRequest{NewStatus: "In Review", Comment: &comment}); err != nil {
			t.Fatal(err)
		}
	}
	e.do("GET", "/v3/sessions/"+s1+"/reviews/", "", e.key())
	e.do("GET", "/v3/sessions/"+s2+"/reviews/", "", e.key())
	e.do("GET", "/v3/sessions/"+s2+"/reviews/", "", e.key()) // over the read limit: 429
	e.do("GET", "/v3/sessions/", "", "x-api-key: kyc_wrong")
	e.do("GET", "/v3/sessions/"+s1+"/nothing", "")

	scrape := func() string {
		t.Helper()
		r := e.do("GET", "/metrics", "")
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") || r.header.Get("X-Request-Id") == "" {
			t.Fatalf("GET /metrics: %d %s %v", r.status, r.header.Get("Content-Type"), r.header)
		}
		return r.body
	}
	text := scrape()
	reviews := `route="/v3/sessions/{session_id}/reviews"`
	for series, want := range map[string]string{
		`kycreview_http_requests_total{code="201",method="POST",` + reviews + `}`:                  "3",
		`kycreview_http_requests_total{code="200",method="GET",` + reviews + `}`:                   "2",
		`kycreview_http_requests_total{code="429",method="GET",` + reviews + `}`:                   "1",
		`kycreview_http_requests_total{code="201",method="POST",route="/v3/session"}`:              "2",
		`kycreview_http_requests_total{code="201",method="POST",route="/v3/webhook/destinations"}`: "1",
		`kycreview_http_requests_total{code="403",method="GET",route="/v3/sessions"}`:              "1",
		`kycreview_http_requests_total{code="404",method="GET",route="unmatched"}`:                 "1",
		`kycreview_http_request_duration_seconds_count{code="201",method="POST",` + reviews + `}`:  "3",
		`kycreview_backlog_up`:                 "1",
		`kycreview_webhook_deliveries_pending`: "3",
		`kycreview_webhook_deliveries_held`:    "0",
		`kycreview_notifications_pending`:      "3",
		`kycreview_notifications_failed`:       "0",
	} {
		if got := metric(text, series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
	for _, id := range []string{s1, s2, e.app.Application.ID, dest.UUID} {
		if strings.Contains(text, id) {
			t.Errorf("an id is in the metrics: %s", id)
		}
	}
	age, err := strconv.ParseFloat(metric(text, "kycreview_webhook_oldest_pending_age_seconds"), 64)
	if err != nil || age <= 0 || age > time.Since(before).Seconds()+1 {
		t.Errorf("oldest pending delivery's age %v (%v), want under %v", age, err, time.Since(before))
	}
	if metric(text, "kycreview_notification_oldest_pending_age_seconds") == "0" {
		t.Error("pending notifications, but no age")
	}
	if metric(text, `kycreview_db_pool_max_open_connections{pool="writer"}`) == "" && metric(text, `kycreview_db_pool_max_open_connections{pool="main"}`) == "" {
		t.Error("no pool figures")
	}

	// Paused, the destination's deliveries are held, no longer owed.
	r = e.do("PATCH", "/v3/webhook/destinations/"+dest.UUID+"/", `{"enabled":false}`, e.key(), jsonType)
	if r.status != 200 {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	text = scrape()
	for series, want := range map[string]string{
		"kycreview_webhook_deliveries_pending":         "0",
		"kycreview_webhook_deliveries_held":            "3",
		"kycreview_webhook_oldest_pending_age_seconds": "0",
		// Scrapes are counted like any request, and limited by nothing.
		`kycreview_http_requests_total{code="200",method="GET",route="/metrics"}`: "1",
	} {
		if got := metric(text, series); got != want {
			t.Errorf("paused: %s = %q, want %s", series, got, want)
		}
	}
}

// TestMetricsOff: without a metrics handler, /metrics is an ordinary 404.
func TestMetricsOff(t *testing.T) {
	e := newEnv(t)
	observed(e, false)
	expect(t, e.do("GET", "/metrics", ""), 404, `{"detail":"Not found."}`)
}
