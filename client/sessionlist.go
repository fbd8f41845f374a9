package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ListSessionsParams selects a page of GET /v3/sessions/. Zero values are
// left out of the query so the server's defaults apply (limit 50, offset 0,
// session_kind user); Status values are joined with commas, which the server
// reads as OR.
type ListSessionsParams struct {
	Limit       int
	Offset      int
	Status      []string
	VendorData  string
	SessionKind string
}

// query encodes p with sorted keys, as url.Values does.
func (p ListSessionsParams) query() url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset != 0 {
		q.Set("offset", strconv.Itoa(p.Offset))
	}
	if len(p.Status) > 0 {
		q.Set("status", strings.Join(p.Status, ","))
	}
	if p.VendorData != "" {
		q.Set("vendor_data", p.VendorData)
	}
	if p.SessionKind != "" {
		q.Set("session_kind", p.SessionKind)
	}
	return q
}

// SessionPage is one page of the session list. Next and Previous are the
// server's absolute page links, nil at either end.
type SessionPage struct {
	Count    int       `json:"count"`
	Next     *string   `json:"next"`
	Previous *string   `json:"previous"`
	Results  []Session `json:"results"`
}

// ListSessions fetches one page of the application's sessions, newest first,
// with GET /v3/sessions/.
func (c *Client) ListSessions(ctx context.Context, p ListSessionsParams) (*SessionPage, error) {
	return c.fetchSessionPage(ctx, c.endpoint("/v3/sessions/", p.query()))
}

// Sessions iterates over every session p selects, following each page's next
// link until it is null, like FeedEntries.
func (c *Client) Sessions(ctx context.Context, p ListSessionsParams) iter.Seq2[Session, error] {
	first := c.endpoint("/v3/sessions/", p.query())
	return walkPages(ctx, first, func(ctx context.Context, u string) ([]Session, *string, error) {
		page, err := c.fetchSessionPage(ctx, u)
		if err != nil {
			return nil, nil, err
		}
		return page.Results, page.Next, nil
	})
}

// fetchSessionPage fetches the session-list page at link.
func (c *Client) fetchSessionPage(ctx context.Context, link string) (*SessionPage, error) {
	u, err := c.resolve(link)
	if err != nil {
		return nil, err
	}
	var page SessionPage
	if err := c.do(ctx, http.MethodGet, u, nil, http.StatusOK, &page); err != nil {
		return nil, err
	}
	return &page, nil
}
