package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/kycreview/kycreview"
)

// detail is DRF's body for request-level errors.
func detail(msg string) map[string]string { return map[string]string{"detail": msg} }

// writeJSON writes v as compact UTF-8 JSON. HTML characters are not escaped,
// as DRF's renderer does not escape them.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	status, body := s.encodeJSON(status, v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// encodeJSON renders v as writeJSON sends it, with the status to send it
// with (a 500 if v cannot be encoded).
func (s *Server) encodeJSON(status int, v any) (int, []byte) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.log.Error("encoding response", "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"detail":"Internal error."}`)
	}
	return status, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// errorStatus maps each error code to its HTTP status: the one table.
var errorStatus = map[string]int{
	kycreview.EBADREQUEST:  http.StatusBadRequest,
	kycreview.EINVALID:     http.StatusBadRequest,
	kycreview.EFORBIDDEN:   http.StatusForbidden,
	kycreview.ENOTFOUND:    http.StatusNotFound,
	kycreview.ENOTALLOWED:  http.StatusMethodNotAllowed,
	kycreview.ECONFLICT:    http.StatusConflict,
	kycreview.ETOOLARGE:    http.StatusRequestEntityTooLarge,
	kycreview.EUNSUPPORTED: http.StatusUnsupportedMediaType,
	kycreview.EUNAVAILABLE: http.StatusServiceUnavailable,
	kycreview.EINTERNAL:    http.StatusInternalServerError,

	// An Idempotency-Key reused for another request (idempotency.go).
	kycreview.EUNPROCESSABLE: http.StatusUnprocessableEntity,
}

// writeError renders err in DRF's shape. Internal errors are logged here,
// once, and shown only as "Internal error.".
// statusClientClosed is the status recorded (never received) for a request
// whose client closed the connection before it was answered.
const statusClientClosed = 499

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := kycreview.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 && r.Context().Err() != nil {
		// The client went away (its connection closed) while the request
		// was being served, and the work stopped because of it: nobody
		// gets this answer and nothing is wrong with the server. Status
		// 499, as proxies log it, keeps it out of the 5xx figures.
		s.log.InfoContext(r.Context(), "client went away", "method", r.Method, "path", r.URL.Path, "err", err)
		w.WriteHeader(statusClientClosed)
		return
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusInternalServerError {
		s.writeJSON(w, status, detail("Internal error."))
		return
	}
	var le *listErrors
	if errors.As(err, &le) {
		s.writeJSON(w, status, le.body())
		return
	}
	var e *kycreview.Error
	if errors.As(err, &e) {
		switch {
		case e.Fields != nil:
			s.writeJSON(w, status, e.Fields)
			return
		case e.List != nil:
			s.writeJSON(w, status, e.List)
			return
		}
	}
	s.writeJSON(w, status, detail(kycreview.ErrorMessage(err)))
}
