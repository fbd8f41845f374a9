package httpapi

import "net/http"

// getMetrics serves GET /metrics: the Prometheus exposition the Config's
// Metrics handler writes (see internal/metrics).
func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) error {
	s.cfg.Metrics.ServeHTTP(w, r)
	return nil
}
