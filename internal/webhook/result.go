package webhook

import (
	"context"
	"errors"
	"net"
)

// Result is how a delivery attempt ended, as the metrics count it.
type Result string

// The results of an attempt.
const (
	ResultSuccess         Result = "success"          // a 2xx answer
	ResultHTTPError       Result = "http_error"       // an answer outside 2xx (redirects included)
	ResultTimeout         Result = "timeout"          // no whole answer within the attempt's time limit
	ResultConnectionError Result = "connection_error" // no answer: name lookup, refused or reset connection, TLS
	ResultBlocked         Result = "blocked"          // the SSRF guard refused the address connected to
	ResultError           Result = "error"            // the event could not be rendered or signed: nothing was sent
)

// Results lists every Result, for metrics to start at zero.
var Results = []Result{ResultSuccess, ResultHTTPError, ResultTimeout, ResultConnectionError, ResultBlocked, ResultError}

// localError is a failure before anything was sent.
type localError struct{ msg string }

func (e *localError) Error() string { return e.msg }

// classify names the result of an attempt that got status (0: no answer)
// and err from post.
func classify(status int, err error) Result {
	switch {
	case status != 0 && Succeeded(status) && err == nil:
		return ResultSuccess
	case status != 0:
		return ResultHTTPError
	}
	var local *localError
	var blocked *BlockedError
	var ne net.Error
	switch {
	case errors.As(err, &local):
		return ResultError
	case errors.As(err, &blocked):
		return ResultBlocked
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ResultTimeout
	}
	return ResultConnectionError
}
