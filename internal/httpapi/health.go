package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/kycreview/kycreview"
)

// getHealth serves GET /system/healthcheck: no auth, 200 while the database
// answers, 503 when it does not.
func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.Ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "healthcheck: database unreachable", "err", err)
		s.writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "timestamp": kycreview.FormatMilli(s.cfg.Now())})
		return nil
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "timestamp": kycreview.FormatMilli(s.cfg.Now())})
	return nil
}
