package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// FeedEntry is one row of a session's activity feed (SPEC §3.1). Nullable
// fields are pointers so null and "" stay distinct. PreviousValue, NewValue
// and Metadata are kept as the raw JSON the server sent: a null arrives as
// the four bytes `null`, and a field missing from the answer stays nil, so
// callers can check exactly what was on the wire.
type FeedEntry struct {
	UUID            string          `json:"uuid"`
	ActivityType    string          `json:"activity_type"`
	ActorDisplay    string          `json:"actor_display"`
	ActorEmail      *string         `json:"actor_email"`
	ActorType       string          `json:"actor_type"`
	NewStatus       *string         `json:"new_status"`
	PreviousStatus  *string         `json:"previous_status"`
	Comment         *string         `json:"comment"`
	MentionedEmails []string        `json:"mentioned_emails"`
	PreviousValue   json.RawMessage `json:"previous_value"`
	NewValue        json.RawMessage `json:"new_value"`
	ChangedFields   []string        `json:"changed_fields"`
	Metadata        json.RawMessage `json:"metadata"`
	CreatedAt       time.Time       `json:"created_at"`
}

// FeedPage is one page of the activity feed. Next and Previous are the
// server's absolute page links, nil at either end.
type FeedPage struct {
	Count    int         `json:"count"`
	Next     *string     `json:"next"`
	Previous *string     `json:"previous"`
	Results  []FeedEntry `json:"results"`
}

// FeedParams selects a page of the feed. Zero values are left out of the
// query so the server's defaults apply; any other value, negative ones
// included, is sent as is.
type FeedParams struct {
	Limit    int
	Offset   int
	Ordering string
}

// query encodes p. url.Values sorts keys, which keeps URLs stable for logs
// and comparisons.
func (p FeedParams) query() url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset != 0 {
		q.Set("offset", strconv.Itoa(p.Offset))
	}
	if p.Ordering != "" {
		q.Set("ordering", p.Ordering)
	}
	return q
}

// feedURL returns the URL of the first feed page p selects.
func (c *Client) feedURL(sessionID string, p FeedParams) (string, error) {
	path, err := sessionPath("/v3/sessions/", sessionID, "/reviews/")
	if err != nil {
		return "", err
	}
	return c.endpoint(path, p.query()), nil
}

// Feed fetches one page of the activity feed of a session with
// GET /v3/sessions/{id}/reviews/.
func (c *Client) Feed(ctx context.Context, sessionID string, p FeedParams) (*FeedPage, error) {
	u, err := c.feedURL(sessionID, p)
	if err != nil {
		return nil, err
	}
	return c.FetchPage(ctx, u)
}

// FetchPage fetches the feed page at link, normally a Next or Previous link
// from an earlier page. The link is followed as given (a relative one is
// taken relative to the base URL), and the API key is sent with it.
func (c *Client) FetchPage(ctx context.Context, link string) (*FeedPage, error) {
	u, err := c.resolve(link)
	if err != nil {
		return nil, err
	}
	var page FeedPage
	if err := c.do(ctx, http.MethodGet, u, nil, http.StatusOK, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// FeedEntries iterates over the whole activity feed of a session, starting at
// the page p selects and following each page's next link until it is null.
// Pages are fetched lazily; breaking out of the loop stops fetching. On a
// failure the error is yielded once, with a zero entry, and the iteration
// ends.
func (c *Client) FeedEntries(ctx context.Context, sessionID string, p FeedParams) iter.Seq2[FeedEntry, error] {
	first, err := c.feedURL(sessionID, p)
	if err != nil {
		return failed[FeedEntry](err)
	}
	return walkPages(ctx, first, func(ctx context.Context, u string) ([]FeedEntry, *string, error) {
		page, err := c.FetchPage(ctx, u)
		if err != nil {
			return nil, nil, err
		}
		return page.Results, page.Next, nil
	})
}
