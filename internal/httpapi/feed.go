package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/kycreview/kycreview"
)

// pageBody is DRF's paginated response.
type pageBody[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// getFeed serves GET /v3/sessions/{session_id}/reviews/. The page is the
// stored entries joined into DRF's envelope: nothing is encoded per row.
func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) error {
	params := parseQuery(r.URL.RawQuery)
	p := parsePage(params)
	q := kycreview.FeedQuery{
		Ordering: parseOrdering(params, kycreview.FeedOrderFields(), kycreview.DefaultFeedOrdering()),
		Limit:    p.limit,
		Offset:   p.offset,
	}
	entries, count, err := s.svc.Feed(r.Context(), apiKey(r.Context()), r.PathValue("session_id"), q)
	if err != nil {
		return err
	}
	next, prev := pageLinks(s.requestBase(r), params, p, count)
	size := 64
	for _, e := range entries {
		size += len(e) + 1
	}
	b := make([]byte, 0, size+len(derefOr(next))+len(derefOr(prev)))
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"next":`...)
	b = appendJSONStringOrNull(b, next)
	b = append(b, `,"previous":`...)
	b = appendJSONStringOrNull(b, prev)
	b = append(b, `,"results":[`...)
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	b = append(b, "]}"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// appendJSONStringOrNull appends s as a JSON string, or null. HTML
// characters stay as they are ('&' in a link), as in every other body.
func appendJSONStringOrNull(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(*s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

func derefOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
