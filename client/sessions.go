package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// CreateSessionRequest is the body of POST /v3/session/. Empty fields are
// left out, so a zero WorkflowID reaches the server as a missing field.
// Metadata must be valid JSON when set; it is sent as is.
type CreateSessionRequest struct {
	WorkflowID string          `json:"workflow_id,omitempty"`
	VendorData *string         `json:"vendor_data,omitempty"`
	Callback   *string         `json:"callback,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

// Session is a verification session as the session endpoints show it
// (SPEC §4). Metadata is the raw JSON the server sent, `null` included.
type Session struct {
	SessionID     string          `json:"session_id"`
	SessionNumber int64           `json:"session_number"`
	SessionKind   string          `json:"session_kind"`
	Status        string          `json:"status"`
	WorkflowID    string          `json:"workflow_id"`
	VendorData    *string         `json:"vendor_data"`
	Metadata      json.RawMessage `json:"metadata"`
	Callback      *string         `json:"callback"`
	CreatedAt     time.Time       `json:"created_at"`
}

// DecisionReview is one status row of a session as listed in its decision.
type DecisionReview struct {
	User      string    `json:"user"`
	NewStatus string    `json:"new_status"`
	Comment   *string   `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
}

// Decision is the answer of GET /v3/session/{id}/decision/: the session's
// fields at the top level (Session is embedded so they flatten, as on the
// wire) plus its reviews.
type Decision struct {
	Session
	Reviews []DecisionReview `json:"reviews"`
}

// UpdateStatusRequest is the body of PATCH /v3/session/{id}/update-status/.
// NewStatus is sent even when empty so the server judges it; a nil Comment is
// left out.
type UpdateStatusRequest struct {
	NewStatus string  `json:"new_status"`
	Comment   *string `json:"comment,omitempty"`
}

// CreateSession creates a session with POST /v3/session/. Any answer but 201
// is an *APIError.
func (c *Client) CreateSession(ctx context.Context, r CreateSessionRequest) (*Session, error) {
	var out Session
	if err := c.do(ctx, http.MethodPost, c.endpoint("/v3/session/", nil), r, http.StatusCreated, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Decision fetches a session (KYC or KYB) and its review rows with
// GET /v3/session/{id}/decision/.
func (c *Client) Decision(ctx context.Context, sessionID string) (*Decision, error) {
	path, err := sessionPath("/v3/session/", sessionID, "/decision/")
	if err != nil {
		return nil, err
	}
	var out Decision
	if err := c.do(ctx, http.MethodGet, c.endpoint(path, nil), nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteSession soft-deletes a session with DELETE /v3/session/{id}/delete/.
// Any answer but 204 is an *APIError; a second delete of the same session is
// a 404.
func (c *Client) DeleteSession(ctx context.Context, sessionID string) error {
	path, err := sessionPath("/v3/session/", sessionID, "/delete/")
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, c.endpoint(path, nil), nil, http.StatusNoContent, nil)
}

// UpdateStatus changes a session's status with
// PATCH /v3/session/{id}/update-status/. The server answers only the session
// id, so nothing is returned; read the session back with Decision. Any answer
// but 200 is an *APIError.
func (c *Client) UpdateStatus(ctx context.Context, sessionID string, r UpdateStatusRequest) error {
	path, err := sessionPath("/v3/session/", sessionID, "/update-status/")
	if err != nil {
		return err
	}
	var out struct {
		SessionID string `json:"session_id"`
	}
	if err := c.do(ctx, http.MethodPatch, c.endpoint(path, nil), r, http.StatusOK, &out); err != nil {
		return err
	}
	// The 200 body is the only proof the server meant success; an answer
	// without the id is a contract breach worth surfacing.
	if out.SessionID == "" {
		return errors.New("client: update-status answer has no session_id")
	}
	return nil
}
