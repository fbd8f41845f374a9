package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// postSession serves POST /v3/session/.
func (s *Server) postSession(w http.ResponseWriter, r *http.Request) error {
	return answer(s, w, r, http.StatusCreated, sessionView, func(ctx context.Context) (kycreview.Session, error) {
		body, err := s.readBody(w, r)
		if err != nil {
			return kycreview.Session{}, err
		}
		in, err := decodeSession(r.Header.Get("Content-Type"), body)
		if err != nil {
			return kycreview.Session{}, err
		}
		return s.svc.CreateSession(ctx, apiKey(ctx), in)
	})
}

func sessionView(sess kycreview.Session) any { return kycreview.SessionView(sess) }

// decodeSession validates a session POST body: {workflow_id, vendor_data,
// callback, metadata}.
func decodeSession(contentType string, body []byte) (service.SessionInput, error) {
	fields, err := decodeObject(contentType, body)
	if err != nil {
		return service.SessionInput{}, err
	}
	f := newForm(fields)
	in := service.SessionInput{
		WorkflowID: f.uuid("workflow_id", true),
		VendorData: f.char("vendor_data", charOpts{allowNull: true, allowBlank: true, maxLength: 1000}),
		Callback:   f.char("callback", charOpts{allowNull: true, allowBlank: true, maxLength: 2048}),
		Metadata:   f.json("metadata"),
	}
	return in, f.err()
}

// getDecision serves GET /v3/session/{session_id}/decision/.
func (s *Server) getDecision(w http.ResponseWriter, r *http.Request) error {
	d, err := s.svc.Decision(r.Context(), apiKey(r.Context()), r.PathValue("session_id"))
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, d.View())
	return nil
}

// getSessions serves GET /v3/sessions/: DRF limit/offset, newest first,
// filtered by status (comma-separated, any of), vendor_data and
// session_kind.
func (s *Server) getSessions(w http.ResponseWriter, r *http.Request) error {
	params := parseQuery(r.URL.RawQuery)
	p := parsePage(params)
	f := kycreview.SessionFilter{Kinds: []kycreview.Kind{kycreview.KindUser}, Limit: p.limit, Offset: p.offset}
	if v, ok := lastValue(params, "session_kind"); ok {
		switch strings.ToLower(v) {
		case "user":
		case "business":
			f.Kinds = []kycreview.Kind{kycreview.KindBusiness}
		case "all":
			f.Kinds = nil
		default:
			return kycreview.FieldErrors(map[string][]string{"session_kind": {"\"" + v + "\" is not a valid choice."}})
		}
	}
	// Filters that cannot match anything (only unknown statuses, as in Didit,
	// or a vendor_data no session can have) answer an empty page without a
	// query; unknown and repeated statuses are dropped, which also bounds
	// the query's size.
	matchNothing := false
	if v, ok := lastValue(params, "status"); ok && v != "" {
		for _, term := range strings.Split(v, ",") {
			st := kycreview.Status(strings.TrimSpace(term))
			if st.Valid() && !st.In(f.Statuses) {
				f.Statuses = append(f.Statuses, st)
			}
		}
		matchNothing = len(f.Statuses) == 0
	}
	if v, ok := lastValue(params, "vendor_data"); ok && v != "" {
		f.VendorData = &v
		matchNothing = matchNothing || strings.IndexByte(v, 0) >= 0 // refused when sessions are created
	}
	rows, count := []kycreview.Session{}, 0
	if !matchNothing {
		var err error
		if rows, count, err = s.svc.ListSessions(r.Context(), apiKey(r.Context()), f); err != nil {
			return err
		}
	}
	body := pageBody[map[string]any]{Count: count, Results: make([]map[string]any, len(rows))}
	for i, sess := range rows {
		body.Results[i] = kycreview.SessionView(sess)
	}
	body.Next, body.Previous = pageLinks(s.requestBase(r), params, p, count)
	s.writeJSON(w, http.StatusOK, body)
	return nil
}

// deleteSession serves DELETE /v3/session/{session_id}/delete/.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteSession(r.Context(), apiKey(r.Context()), r.PathValue("session_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchStatus serves PATCH /v3/session/{session_id}/update-status/. The body
// is read first but its errors are reported after the session's current
// status is checked, as Didit documents.
//
// The answer names the session; the service hands answer the id it
// changed, which is the path's id in lower case.
func (s *Server) patchStatus(w http.ResponseWriter, r *http.Request) error {
	return answer(s, w, r, http.StatusOK, updatedView, func(ctx context.Context) (string, error) {
		key := apiKey(ctx)
		choices := kycreview.ManualDecisionStatuses()
		if key.Role == kycreview.RoleSystem {
			choices = kycreview.Statuses()
		}
		change, bodyErr := s.readChange(w, r, choices)
		if bodyUnread(bodyErr) {
			return "", bodyErr
		}
		id := r.PathValue("session_id")
		return strings.ToLower(id), s.svc.UpdateStatus(ctx, key, id, change, bodyErr)
	})
}

func updatedView(id string) any { return map[string]string{"session_id": id} }
