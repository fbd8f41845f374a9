// Package client is a typed Go client for kycreview's HTTP API, which is
// wire-compatible with Didit's v3 review API: the session activity feed, the
// review endpoint, the Didit-compatible session endpoints and the health check.
//
// The client is deliberately thin. It sends exactly what the caller asks for
// (zero values are left out, everything else goes on the wire as is) and hands
// back what the server said, so end-to-end tests can probe the server's
// parsing and the command line can show the server's own error messages.
// Every answer other than the one an endpoint documents becomes an *APIError.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// defaultUserAgent names the client so server logs can tell it from curl.
const defaultUserAgent = "kycreview-go-client"

// drainLimit bounds how much of an unread body is discarded before closing,
// so small leftovers let the connection be reused but a huge body does not
// make Close slow.
const drainLimit = 4 << 10

// Client talks to one kycreview server with one API key. It is safe for
// concurrent use; it holds no state beyond its configuration.
type Client struct {
	baseURL    string
	apiKey     string
	httpClient *http.Client
	userAgent  string
}

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests through h, for custom
// transports, TLS settings or timeouts. A nil h is ignored. The Client never
// modifies h, so h keeps its own redirect policy.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			c.httpClient = h
		}
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a Client for the server at baseURL (e.g. "http://127.0.0.1:8080",
// a trailing slash is tolerated) that authenticates with apiKey. An empty
// apiKey sends no x-api-key header at all, which is how the missing-key case
// is exercised.
//
// Deadlines come from the contexts passed to each method; the default HTTP
// client has no timeout of its own so that long feed walks are not cut short.
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{
		baseURL: strings.TrimRight(baseURL, "/"),
		apiKey:  apiKey,
		httpClient: &http.Client{
			// The API never redirects (SPEC §2: a redirect loses a POST body),
			// and following one would forward x-api-key to wherever it
			// points; surface the 3xx as an *APIError instead.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		userAgent: defaultUserAgent,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(c)
		}
	}
	return c
}

// endpoint returns the absolute URL of path (which starts with "/") with the
// query q, if any.
func (c *Client) endpoint(path string, q url.Values) string {
	u := c.baseURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// resolve turns a link the server handed out (normally absolute) into an
// absolute URL; a relative link is taken relative to the base URL so a server
// behind an odd proxy still works.
func (c *Client) resolve(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("client: bad page link %q: %w", link, err)
	}
	base, err := url.Parse(c.baseURL + "/")
	if err != nil {
		return "", fmt.Errorf("client: bad base URL %q: %w", c.baseURL, err)
	}
	if u.IsAbs() {
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", fmt.Errorf("client: page link %q is not http(s)", link)
		}
		// The request carries the API key: never to another origin than the
		// one the client was given, whatever a response says.
		if !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(origin(u), origin(base)) {
			return "", fmt.Errorf("client: page link %q is on %s://%s, not on the client's %s://%s; "+
				"create the client with the server's public URL", link, u.Scheme, u.Host, base.Scheme, base.Host)
		}
		return link, nil // verbatim: re-encoding could alter the server's query
	}
	return base.ResolveReference(u).String(), nil
}

// sessionPath builds a path holding a session id. The id is escaped so that
// any string reaches the server as one path segment; empty, "." and ".." are
// refused because they would change which route is hit (and ServeMux would
// answer them with a redirect rather than a JSON 404).
func sessionPath(prefix, sessionID, suffix string) (string, error) {
	switch sessionID {
	case "", ".", "..":
		return "", fmt.Errorf("client: invalid session id %q", sessionID)
	}
	return prefix + url.PathEscape(sessionID) + suffix, nil
}

// do sends one request and decodes the answer. in, when not nil, is sent as
// the JSON body; out, when not nil, receives the JSON answer. Any status
// other than want is an *APIError, even another 2xx, because the contract
// fixes each endpoint's status and a different one is a server bug a test
// should see.
func (c *Client) do(ctx context.Context, method, rawURL string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode %s body: %w", method, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if c.apiKey != "" {
		req.Header.Set("x-api-key", c.apiKey)
	}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.httpClient.Do(req)
	if err != nil {
		return err // already a *url.Error naming the method and URL
	}
	defer closeBody(resp.Body)

	if resp.StatusCode != want {
		return readAPIError(resp)
	}
	if out == nil {
		return nil
	}
	if err := decodeJSON(resp.Body, out); err != nil {
		return fmt.Errorf("client: decode %s %s answer: %w", method, req.URL.Path, err)
	}
	return nil
}

// decodeJSON decodes exactly one JSON value from r. It streams rather than
// capping the size because a legitimate feed page (1000 entries with
// 10000-character comments) can run to tens of MiB; it refuses trailing
// data so a malformed answer is not half-accepted.
func decodeJSON(r io.Reader, out any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(out); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// closeBody discards a little of what is left and closes body, so the
// transport can reuse the connection for the next request.
func closeBody(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainLimit))
	_ = body.Close()
}

// origin is u's host and port, the scheme's default port spelled out, so
// that https://h and https://h:443 are one origin.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return u.Hostname() + ":" + port
}
