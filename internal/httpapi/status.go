package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/kycreview/kycreview"
)

// getStatus serves GET /system/status: no auth (like the healthcheck, whose
// body the contract fixes), the healthcheck's fields plus the background
// work still owed, for operators and their monitoring. Only counts and a
// time are shown, nothing about any tenant.
//
//	{"status":"ok","timestamp":"…","notifications":{"pending":0,"failed":0,"oldest_pending_at":null}}
//
// pending counts notification emails not sent yet (waiting for an SMTP
// server, a notifier or a retry); failed those that gave up and need a
// person; oldest_pending_at says how long the oldest has waited.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	b, err := s.svc.NotificationBacklog(ctx)
	if err != nil {
		s.log.WarnContext(r.Context(), "status: database unreachable", "err", err)
		s.writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "timestamp": kycreview.FormatMilli(s.cfg.Now())})
		return nil
	}
	var oldest *string
	if b.OldestPendingAt != nil {
		t := kycreview.FormatMicro(*b.OldestPendingAt)
		oldest = &t
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"status":    "ok",
		"timestamp": kycreview.FormatMilli(s.cfg.Now()),
		"notifications": map[string]any{
			"pending": b.Pending, "failed": b.Failed, "oldest_pending_at": oldest,
		},
	})
	return nil
}
