package notify

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
)

type fixedBacklog kycreview.NotificationBacklog

func (f fixedBacklog) NotificationBacklog(context.Context) (kycreview.NotificationBacklog, error) {
	return kycreview.NotificationBacklog(f), nil
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

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestReportBacklog: a backlog is logged at once and then every interval,
// with its counts and the reason; no backlog, no line.
func TestReportBacklog(t *testing.T) {
	oldest := time.Date(2026, 6, 12, 0, 0, 0, 0, time.UTC)
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ReportBacklog(ctx, fixedBacklog{Pending: 3, Failed: 1, OldestPendingAt: &oldest}, 10*time.Millisecond, log, slog.LevelWarn, "SMTP is not configured")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(buf.String(), "notification backlog") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	line := strings.SplitN(buf.String(), "\n", 2)[0]
	for _, want := range []string{"level=WARN", "pending=3", "failed=1", "oldest_pending_at=2026-06-12T00:00:00Z", `reason="SMTP is not configured"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}

	var quiet lockedBuffer
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	ReportBacklog(ctx, fixedBacklog{}, 5*time.Millisecond, slog.New(slog.NewTextHandler(&quiet, nil)), slog.LevelWarn, "")
	if quiet.String() != "" {
		t.Errorf("logged without a backlog: %q", quiet.String())
	}
}
