package httpapi

import (
	"net/http"

	"github.com/kycreview/kycreview"
)

// reviewResponse is the review POST's 201 body, as in the seed.
type reviewResponse struct {
	User      string           `json:"user"`
	NewStatus kycreview.Status `json:"new_status"`
	Comment   *string          `json:"comment"`
	CreatedAt string           `json:"created_at"`
}

// postReview serves POST /v3/sessions/{session_id}/reviews/.
func (s *Server) postReview(w http.ResponseWriter, r *http.Request) error {
	body, bodyErr := s.readBody(w, r)
	contentType := r.Header.Get("Content-Type")
	row, err := s.svc.Review(r.Context(), apiKey(r.Context()), r.PathValue("session_id"), func(kycreview.Session) (kycreview.Change, error) {
		if bodyErr != nil {
			return kycreview.Change{}, bodyErr
		}
		return decodeChange(contentType, body, kycreview.ReviewStatuses)
	})
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusCreated, reviewResponse{
		User:      kycreview.ReviewUser(row.Actor),
		NewStatus: *row.NewStatus,
		Comment:   row.Comment,
		CreatedAt: kycreview.FormatMilli(row.CreatedAt),
	})
	return nil
}

// decodeChange validates a {new_status, comment} body, the shape both the
// review POST and the update-status PATCH take.
func decodeChange(contentType string, body []byte, choices []kycreview.Status) (kycreview.Change, error) {
	fields, err := decodeObject(contentType, body)
	if err != nil {
		return kycreview.Change{}, err
	}
	f := newForm(fields)
	c := kycreview.Change{
		NewStatus: f.status("new_status", true, choices),
		Comment:   f.char("comment", charOpts{allowNull: true, allowBlank: true, maxLength: kycreview.MaxCommentLength}),
	}
	return c, f.err()
}
