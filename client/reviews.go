package client

import (
	"context"
	"net/http"
	"time"
)

// ReviewRequest is the body of POST /v3/sessions/{id}/reviews/. NewStatus is
// sent even when empty so the server, not the client, judges it; a nil
// Comment is left out.
type ReviewRequest struct {
	NewStatus string  `json:"new_status"`
	Comment   *string `json:"comment,omitempty"`
}

// Review is the server's answer to a recorded review. CreatedAt has
// millisecond precision on the wire (SPEC §3.2), unlike feed entries.
type Review struct {
	User      string    `json:"user"`
	NewStatus string    `json:"new_status"`
	Comment   *string   `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateReview records a review of a session with
// POST /v3/sessions/{id}/reviews/, which sets the session's status, writes a
// feed row and queues a status.updated webhook. Any answer but 201 is an
// *APIError.
func (c *Client) CreateReview(ctx context.Context, sessionID string, r ReviewRequest) (*Review, error) {
	path, err := sessionPath("/v3/sessions/", sessionID, "/reviews/")
	if err != nil {
		return nil, err
	}
	var out Review
	if err := c.do(ctx, http.MethodPost, c.endpoint(path, nil), r, http.StatusCreated, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
