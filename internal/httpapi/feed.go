package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/kycreview/kycreview"
)

// feedEntry is one feed row on the wire, fields in the seed's order.
type feedEntry struct {
	UUID            string            `json:"uuid"`
	ActivityType    string            `json:"activity_type"`
	ActorDisplay    string            `json:"actor_display"`
	ActorEmail      *string           `json:"actor_email"`
	ActorType       string            `json:"actor_type"`
	NewStatus       *kycreview.Status `json:"new_status"`
	PreviousStatus  *kycreview.Status `json:"previous_status"`
	Comment         *string           `json:"comment"`
	MentionedEmails []string          `json:"mentioned_emails"`
	PreviousValue   json.RawMessage   `json:"previous_value"`
	NewValue        json.RawMessage   `json:"new_value"`
	ChangedFields   []string          `json:"changed_fields"`
	Metadata        json.RawMessage   `json:"metadata"`
	CreatedAt       string            `json:"created_at"`
}

func newFeedEntry(a kycreview.Activity) feedEntry {
	e := feedEntry{
		UUID:            a.ID,
		ActivityType:    string(a.Type),
		ActorDisplay:    a.Actor.Display,
		ActorEmail:      a.Actor.Email,
		ActorType:       string(a.Actor.Type),
		NewStatus:       a.NewStatus,
		PreviousStatus:  a.PreviousStatus,
		Comment:         a.Comment,
		MentionedEmails: a.MentionedEmails,
		PreviousValue:   a.PreviousValue,
		NewValue:        a.NewValue,
		ChangedFields:   a.ChangedFields,
		Metadata:        a.Metadata,
		CreatedAt:       kycreview.FormatMicro(a.CreatedAt),
	}
	if e.MentionedEmails == nil {
		e.MentionedEmails = []string{}
	}
	if e.ChangedFields == nil {
		e.ChangedFields = []string{}
	}
	return e
}

// pageBody is DRF's paginated response.
type pageBody[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// getFeed serves GET /v3/sessions/{session_id}/reviews/.
func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) error {
	params := parseQuery(r.URL.RawQuery)
	p := parsePage(params)
	q := kycreview.FeedQuery{
		Ordering: parseOrdering(params, kycreview.FeedOrderFields(), kycreview.DefaultFeedOrdering()),
		Limit:    p.limit,
		Offset:   p.offset,
	}
	rows, count, err := s.svc.Feed(r.Context(), apiKey(r.Context()), r.PathValue("session_id"), q)
	if err != nil {
		return err
	}
	body := pageBody[feedEntry]{Count: count, Results: make([]feedEntry, len(rows))}
	for i, a := range rows {
		body.Results[i] = newFeedEntry(a)
	}
	body.Next, body.Previous = pageLinks(s.requestBase(r), params, p, count)
	s.writeJSON(w, http.StatusOK, body)
	return nil
}
