package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWriteErrorClientGone: an internal error caused by the client closing
// its connection is recorded as 499 and logged as information, not as a
// failed request; the same error while the client is still there is a 500
// logged as an error.
func TestWriteErrorClientGone(t *testing.T) {
	for _, gone := range []bool{true, false} {
		t.Run(fmt.Sprint("gone=", gone), func(t *testing.T) {
			var logs bytes.Buffer
			s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if gone {
				cancel()
			}
			r := httptest.NewRequest(http.MethodGet, "/v3/sessions/x/reviews/", nil).WithContext(ctx)
			w := httptest.NewRecorder()
			s.writeError(w, r, fmt.Errorf("sqlite: begin: %w", context.Canceled))
			wantStatus, wantLevel := http.StatusInternalServerError, "level=ERROR"
			if gone {
				wantStatus, wantLevel = statusClientClosed, "level=INFO"
			}
			if w.Code != wantStatus {
				t.Errorf("status %d, want %d", w.Code, wantStatus)
			}
			if !strings.Contains(logs.String(), wantLevel) {
				t.Errorf("log %q, want a line at %s", logs.String(), wantLevel)
			}
			if gone && w.Body.Len() != 0 {
				t.Errorf("a body for a client that is gone: %q", w.Body.String())
			}
		})
	}
}
