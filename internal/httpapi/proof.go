package httpapi

import "net/http"

// getProof serves GET /v3/sessions/{session_id}/reviews/proof/, an
// extension: the head of the session's audit chain (seq and hash), signed
// now with the service's Ed25519 key when one is configured, else with
// null key fields and signature. The body is a receipt the customer keeps
// and `kycreview audit verify --receipt` checks later (docs/audit-chain.md).
// Auth and visibility are the feed's: a session the key cannot see, or a
// KYB session, is the same 404.
func (s *Server) getProof(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Proof(r.Context(), apiKey(r.Context()), r.PathValue("session_id"))
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, c.JSON())
	return nil
}
