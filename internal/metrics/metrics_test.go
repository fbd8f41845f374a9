package metrics_test

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kycreview/kycreview/internal/metrics"
	"github.com/kycreview/kycreview/internal/notify"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
	"github.com/kycreview/kycreview/internal/webhook"
)

// scrape fetches the exposition through the handler, in the text format.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// value returns the sample of series (name and labels exactly as the text
// format prints them), failing if it is missing.
func value(t *testing.T, text, series string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no series %s in:\n%s", series, text)
	}
	return m[1]
}

func TestExposition(t *testing.T) {
	m := metrics.New()
	m.ObserveHTTP("/v3/sessions/{session_id}/reviews", "GET", 200, 3*time.Millisecond)
	m.ObserveHTTP("/v3/sessions/{session_id}/reviews", "GET", 200, 300*time.Millisecond)
	m.ObserveHTTP("/v3/sessions/{session_id}/reviews", "POST", 400, time.Millisecond)
	m.ObserveAttempt(webhook.ResultHTTPError, 40*time.Millisecond)
	m.ObserveAttempt(webhook.Result("new in a later build"), time.Millisecond)
	m.ObserveSend(notify.SendSent)
	m.ObserveSend(notify.SendSent)
	text := scrape(t, m)

	for series, want := range map[string]string{
		`kycreview_http_requests_total{code="200",method="GET",route="/v3/sessions/{session_id}/reviews"}`:                             "2",
		`kycreview_http_requests_total{code="400",method="POST",route="/v3/sessions/{session_id}/reviews"}`:                            "1",
		`kycreview_http_request_duration_seconds_count{code="200",method="GET",route="/v3/sessions/{session_id}/reviews"}`:             "2",
		`kycreview_http_request_duration_seconds_bucket{code="200",method="GET",route="/v3/sessions/{session_id}/reviews",le="0.005"}`: "1",
		`kycreview_http_request_duration_seconds_bucket{code="200",method="GET",route="/v3/sessions/{session_id}/reviews",le="0.5"}`:   "2",
		`kycreview_webhook_attempts_total{result="http_error"}`:                                                                        "1",
		`kycreview_webhook_attempts_total{result="success"}`:                                                                           "0",
		`kycreview_webhook_attempt_duration_seconds_count{result="http_error"}`:                                                        "1",
		`kycreview_notification_sends_total{result="sent"}`:                                                                            "2",
		`kycreview_notification_sends_total{result="failed"}`:                                                                          "0",
	} {
		if got := value(t, text, series); got != want {
			t.Errorf("%s = %s, want %s", series, got, want)
		}
	}
	if strings.Contains(text, "later build") {
		t.Error("an unknown result became a label")
	}
	// The runtime and process collectors are there; the global registry's
	// defaults are not doubled.
	for _, name := range []string{"go_goroutines ", "process_resident_memory_bytes ", "go_gc_duration_seconds"} {
		if !strings.Contains(text, "\n"+name) {
			t.Errorf("no %s series", name)
		}
	}
}

// TestObserveHTTPDoesNotAllocate: on the request path, a label combination
// seen before costs no allocation.
func TestObserveHTTPDoesNotAllocate(t *testing.T) {
	m := metrics.New()
	m.ObserveHTTP("/v3/sessions/{session_id}/reviews", "GET", 200, time.Millisecond)
	allocs := testing.AllocsPerRun(1000, func() {
		m.ObserveHTTP("/v3/sessions/{session_id}/reviews", "GET", 200, time.Millisecond)
	})
	if allocs != 0 {
		t.Errorf("ObserveHTTP allocates %.1f times per call", allocs)
	}
}

// TestBacklogUnreadable: when the database cannot be read, the backlog is
// left out and kycreview_backlog_up says so; the rest is still served.
func TestBacklogUnreadable(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.WatchService(service.New(db, time.Now), time.Second, nil, nil)
	text := scrape(t, m)
	for series, want := range map[string]string{
		"kycreview_backlog_up":                                  "1",
		"kycreview_webhook_deliveries_pending":                  "0",
		"kycreview_webhook_oldest_pending_age_seconds":          "0",
		"kycreview_notifications_pending":                       "0",
		`kycreview_db_pool_max_open_connections{pool="writer"}`: "1",
	} {
		if got := value(t, text, series); got != want {
			t.Errorf("%s = %s, want %s", series, got, want)
		}
	}
	db.Close()
	text = scrape(t, m)
	if got := value(t, text, "kycreview_backlog_up"); got != "0" {
		t.Errorf("kycreview_backlog_up = %s with the database closed", got)
	}
	if strings.Contains(text, "kycreview_webhook_deliveries_pending ") || !strings.Contains(text, "go_goroutines ") {
		t.Errorf("with the database closed:\n%s", text)
	}
}
