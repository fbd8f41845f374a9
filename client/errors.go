package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// maxErrorBody caps how much of an error answer is kept; the server's own
// errors are tiny, and anything bigger is not worth holding in memory.
const maxErrorBody = 1 << 20

// nonFieldErrors is the key DRF uses for messages not tied to one field.
const nonFieldErrors = "non_field_errors"

// APIError is an answer from the server other than the one the endpoint
// documents (in practice any non-2xx status). The body is kept verbatim and,
// when it is Django REST Framework shaped, also parsed: Detail holds a
// request-level {"detail": "..."} message and Fields holds validation
// messages ({"field": ["message", ...]}). A bare JSON list of messages, which
// DRF sends for errors raised outside a serializer, is filed under
// "non_field_errors" like a serializer's own non-field errors.
type APIError struct {
	StatusCode int
	Body       []byte
	Detail     string
	Fields     map[string][]string
}

// Error returns the status and the server's messages, so a CLI can print it
// as is.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kycreview: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys) // map order would make the message differ run to run
	for _, k := range keys {
		fmt.Fprintf(&b, "; %s: %s", k, strings.Join(e.Fields[k], " "))
	}
	if e.Detail == "" && len(e.Fields) == 0 && len(e.Body) > 0 {
		// Not DRF shaped (a proxy's HTML page, say): show its start so the
		// cause is not lost.
		const snippet = 200
		body := e.Body
		if len(body) > snippet {
			body = body[:snippet]
		}
		fmt.Fprintf(&b, ": %q", body)
	}
	return b.String()
}

// readAPIError builds an *APIError from resp, reading at most maxErrorBody
// bytes. A read failure part way still yields the error with what arrived:
// the status code is the important part.
func readAPIError(resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return parseAPIError(resp.StatusCode, body)
}

// parseAPIError interprets body as a DRF error. Values that are not strings
// (nested serializer errors, for example) are kept as their JSON text rather
// than dropped, so no message is silently lost.
func parseAPIError(status int, body []byte) *APIError {
	e := &APIError{StatusCode: status, Body: body}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return e
	}
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			if s, ok := val.(string); ok && k == "detail" {
				e.Detail = s
				continue
			}
			e.addField(k, messages(val))
		}
	case []any:
		e.addField(nonFieldErrors, messages(v))
	}
	return e
}

// addField files msgs under key, creating Fields on first use so that an
// error without field messages keeps a nil map.
func (e *APIError) addField(key string, msgs []string) {
	if e.Fields == nil {
		e.Fields = make(map[string][]string)
	}
	e.Fields[key] = append(e.Fields[key], msgs...)
}

// messages flattens one DRF error value into message strings: a list gives
// one message per element, a lone string (some Didit errors use one) gives
// itself, and anything else its compact JSON.
func messages(v any) []string {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		if s, ok := item.(string); ok {
			out = append(out, s)
			continue
		}
		b, err := json.Marshal(item)
		if err != nil {
			continue // cannot happen for values json.Unmarshal produced
		}
		out = append(out, string(b))
	}
	return out
}
