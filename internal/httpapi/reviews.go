package httpapi

import (
	"context"
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
	return answer(s, w, r, http.StatusCreated, reviewView, func(ctx context.Context) (kycreview.Activity, error) {
		change, bodyErr := s.readChange(w, r, kycreview.ReviewStatuses())
		if bodyUnread(bodyErr) {
			return kycreview.Activity{}, bodyErr
		}
		return s.svc.Review(ctx, apiKey(ctx), r.PathValue("session_id"), change, bodyErr)
	})
}

// reviewView is the review POST's answer for the row it wrote.
func reviewView(row kycreview.Activity) any {
	return reviewResponse{
		User:      kycreview.ReviewUser(row.Actor),
		NewStatus: *row.NewStatus,
		Comment:   row.Comment,
		CreatedAt: kycreview.FormatMilli(row.CreatedAt),
	}
}

// readChange reads and validates a {new_status, comment} body before any
// transaction starts, so no lock is held while a large body is parsed. The
// service reports its errors only after auth and the session lookup, the
// order in which DRF reports them.
func (s *Server) readChange(w http.ResponseWriter, r *http.Request, choices []kycreview.Status) (kycreview.Change, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return kycreview.Change{}, err
	}
	return decodeChange(r.Header.Get("Content-Type"), body, choices)
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
