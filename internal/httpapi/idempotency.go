package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// Idempotency keys (issue 9, item 7; the rules are service/idempotency.go's).
// Every POST and PATCH accepts an Idempotency-Key header. The handler's
// answer is rendered once, inside the write's transaction, stored with the
// key, and those very bytes are sent; a retry with the same key and the same
// request gets them again, with Idempotent-Replayed: true, and writes
// nothing. A request without the header costs nothing more than the header
// lookup.
//
// What a retry must repeat, its fingerprint, is the method, the path as
// sent (a trailing slash aside: both spellings are one resource) and the
// SHA-256 of the body's bytes. The body is not canonicalised: a retry
// resends the same bytes, and comparing bytes cannot take two bodies that
// DRF's parser reads differently (duplicate keys, number spellings, a
// truncated UTF-8 tail) for the same request.

// IdempotencyKeyHeader is the request header naming an idempotent write.
const IdempotencyKeyHeader = "Idempotency-Key"

// IdempotentReplayedHeader marks an answer replayed from a key's record.
const IdempotentReplayedHeader = "Idempotent-Replayed"

// MaxIdempotencyKeyLength is the longest key accepted, in bytes.
const MaxIdempotencyKeyLength = 255

// errIdempotencyKeyForm answers a malformed Idempotency-Key header.
var errIdempotencyKeyForm = kycreview.Errorf(kycreview.EBADREQUEST,
	"Idempotency-Key must be sent once, as 1 to %d printable ASCII characters.", MaxIdempotencyKeyLength)

// idempotencyCtxKey holds the request's *idempotentCall. A type of its own,
// so no other context key of the package can ever equal it.
type idempotencyCtxKey struct{}

// idempotentCall is a request with an Idempotency-Key, as idempotent hands
// it to the handler, and whether the handler honoured it.
type idempotentCall struct {
	req  service.IdempotentRequest
	used bool
}

// idempotent wraps a POST or PATCH handler. With an Idempotency-Key, it
// checks the key's form, reads the body (a retry is told apart by it, so a
// body that cannot be read is refused here, before anything else) and
// hands the request to the handler, which answers through answer. Without
// the header, the handler runs as it is.
func (s *Server) idempotent(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		values, ok := r.Header[IdempotencyKeyHeader]
		if !ok {
			return h(w, r)
		}
		if len(values) != 1 || !validIdempotencyKey(values[0]) {
			return errIdempotencyKeyForm
		}
		body, err := s.readBody(w, r)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body)) // the handler reads it again
		call := &idempotentCall{req: service.IdempotentRequest{Key: values[0], Fingerprint: fingerprint(r, body)}}
		err = h(w, r.WithContext(context.WithValue(r.Context(), idempotencyCtxKey{}, call)))
		if err == nil && !call.used {
			// A handler that writes without answer: the key was ignored.
			s.log.ErrorContext(r.Context(), "a handler ignored an Idempotency-Key", "method", r.Method, "path", r.URL.Path)
		}
		return err
	}
}

// validIdempotencyKey reports whether k is 1 to MaxIdempotencyKeyLength
// printable ASCII characters (space to tilde).
func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKeyLength {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// fingerprint is what a retry with the same key must repeat: the method,
// the escaped path without its trailing slash, and the body's SHA-256.
// Readable, for an operator looking at the table.
func fingerprint(r *http.Request, body []byte) string {
	sum := sha256.Sum256(body)
	path := r.URL.EscapedPath()
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	return r.Method + " " + path + " sha256:" + hex.EncodeToString(sum[:])
}

// answer runs a handler's write and answers with its result, view(result)
// as JSON with status. With an Idempotency-Key the service runs write at
// most once for the key: the answer is rendered inside the write's
// transaction and stored there, and what is sent is exactly what was
// stored, or what was stored by the first request with the key.
func answer[T any](s *Server, w http.ResponseWriter, r *http.Request, status int, view func(T) any, write func(ctx context.Context) (T, error)) error {
	ctx := r.Context()
	call, _ := ctx.Value(idempotencyCtxKey{}).(*idempotentCall)
	if call == nil {
		v, err := write(ctx)
		if err != nil {
			return err
		}
		s.writeJSON(w, status, view(v))
		return nil
	}
	call.used = true
	render := func(result any) (service.Response, error) {
		v, ok := result.(T)
		if !ok {
			return service.Response{}, fmt.Errorf("httpapi: %s %s: the write's result is a %T, not a %T", r.Method, r.URL.Path, result, v)
		}
		code, body := s.encodeJSON(status, view(v))
		if code != status {
			return service.Response{}, fmt.Errorf("httpapi: %s %s: the answer could not be encoded", r.Method, r.URL.Path)
		}
		return service.Response{Status: code, Header: map[string]string{"Content-Type": "application/json"}, Body: body}, nil
	}
	resp, replayed, err := s.svc.Idempotent(ctx, apiKey(ctx), call.req, render, func(ctx context.Context) error {
		_, err := write(ctx)
		return err
	})
	if err != nil {
		return err
	}
	for k, v := range resp.Header {
		w.Header().Set(k, v)
	}
	if replayed {
		w.Header().Set(IdempotentReplayedHeader, "true")
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
	return nil
}
