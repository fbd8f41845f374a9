package kycreview

import (
	"errors"
	"fmt"
)

// Error codes: a closed set, mapped to HTTP statuses in one table in
// internal/httpapi and to exit codes by the command line.
const (
	ECONFLICT    = "conflict"    // the request conflicts with the current state (e.g. a duplicate)
	EFORBIDDEN   = "forbidden"   // missing, unknown or revoked credentials, or a role that may not act
	EINTERNAL    = "internal"    // anything the caller cannot fix; logged, never shown
	EINVALID     = "invalid"     // validation failed; see Error.Fields
	ENOTFOUND    = "not_found"   // the thing does not exist or is not visible to the caller
	EUNAVAILABLE = "unavailable" // a dependency (the database) cannot be reached
	ETOOLARGE    = "too_large"   // a request body over the limit
	EUNSUPPORTED = "unsupported" // an unsupported media type
	EBADREQUEST  = "bad_request" // a malformed request (e.g. unparseable JSON)
	ENOTALLOWED  = "not_allowed" // a method the route does not serve
	// EUNPROCESSABLE is a well-formed request that cannot be carried out as
	// sent, e.g. an Idempotency-Key reused for a different request.
	EUNPROCESSABLE = "unprocessable"
)

// Error is the one error type of kycreview. Code is one of the E* constants;
// Message is safe to show to the caller. Fields holds DRF-shaped validation
// messages ({"field": ["message", ...]}); List holds a bare list of messages,
// which DRF sends for errors raised outside a serializer.
type Error struct {
	Code    string
	Message string
	Fields  map[string][]string
	List    []string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("kycreview error: code=%s message=%s", e.Code, e.Message)
	}
	return fmt.Sprintf("kycreview error: code=%s fields=%v list=%v", e.Code, e.Fields, e.List)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrors returns an EINVALID error carrying DRF-shaped field messages.
func FieldErrors(fields map[string][]string) *Error {
	return &Error{Code: EINVALID, Fields: fields}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// EINTERNAL for any other non-nil error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err, or "Internal error."
// for errors that are not an *Error with a message.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "Internal error."
}

// WrapError returns an error with the given code and caller-safe message
// that keeps cause for the log: errors.As finds the *Error, errors.Is and
// errors.As still reach the cause, and Error() shows both.
func WrapError(code, message string, cause error) error {
	return &wrapped{err: &Error{Code: code, Message: message}, cause: cause}
}

type wrapped struct {
	err   *Error
	cause error
}

func (w *wrapped) Error() string   { return w.err.Message + " (" + w.cause.Error() + ")" }
func (w *wrapped) Unwrap() []error { return []error{w.err, w.cause} }

// ErrSessionNotFound is returned for a session that does not exist, belongs
// to another application or was deleted: the caller cannot tell which, so ids
// cannot be probed.
var ErrSessionNotFound = &Error{Code: ENOTFOUND, Message: "Session not found."}

// ErrForbidden is DRF's permission-denied answer, used for every auth failure.
var ErrForbidden = &Error{Code: EFORBIDDEN, Message: "You do not have permission to perform this action."}
