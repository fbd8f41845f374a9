package client

import (
	"context"
	"net/http"
	"time"
)

// Health is the answer of the health check.
type Health struct {
	Status    string    `json:"status"`
	Timestamp time.Time `json:"timestamp"`
}

// Health asks GET /system/healthcheck whether the server and its database are
// up. The endpoint needs no API key; the key is sent anyway, which the server
// ignores. A 503 (database unreachable) is an *APIError.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var out Health
	if err := c.do(ctx, http.MethodGet, c.endpoint("/system/healthcheck", nil), nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
