package main

import (
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The HTTP server's production limits (docs/operations.md, "Timeouts and
// limits"). Each bounds what one client can hold: a connection that never
// finishes its headers (slowloris), a body sent a byte at a time, a client
// that never reads its answer, an idle keep-alive connection, a header block
// too large to be honest.
const (
	// defaultReadHeaderTimeout is the time from accepting a connection (or
	// from the end of the previous request on it) to the end of the headers.
	defaultReadHeaderTimeout = 10 * time.Second
	// defaultReadTimeout bounds reading the whole request, body included:
	// a 1 MiB body within it needs about 35 KB/s.
	defaultReadTimeout = 30 * time.Second
	// defaultWriteTimeout runs from the end of the headers to the end of
	// the answer: the handler's work plus sending the body. The largest
	// page (a feed page of 1000 long comments, about 10 MB) within it
	// needs about 1.5 Mbit/s.
	defaultWriteTimeout = 60 * time.Second
	// defaultIdleTimeout closes a keep-alive connection waiting this long
	// for its next request.
	defaultIdleTimeout = 120 * time.Second
	// defaultMaxHeaderBytes caps the request line and headers together.
	// Go allows 4096 bytes over it; beyond that the answer is 431.
	defaultMaxHeaderBytes = 64 << 10
)

// serverFromEnv reads the KYCREVIEW_* variables of the HTTP server's limits.
func (c *config) serverFromEnv(getenv func(string) string) error {
	for name, dst := range map[string]*time.Duration{
		"KYCREVIEW_READ_HEADER_TIMEOUT": &c.ReadHeaderTimeout,
		"KYCREVIEW_READ_TIMEOUT":        &c.ReadTimeout,
		"KYCREVIEW_WRITE_TIMEOUT":       &c.WriteTimeout,
		"KYCREVIEW_IDLE_TIMEOUT":        &c.IdleTimeout,
	} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return &usageError{fmt.Sprintf("%s must be a duration such as 10s, not %q", name, v)}
			}
			*dst = d
		}
	}
	if v := getenv("KYCREVIEW_MAX_HEADER_BYTES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return &usageError{fmt.Sprintf("KYCREVIEW_MAX_HEADER_BYTES must be a number of bytes, not %q", v)}
		}
		c.MaxHeaderBytes = n
	}
	return nil
}

// serverFlags binds serve's flags for the HTTP server's limits.
func serverFlags(fs *flag.FlagSet, cfg *config) {
	fs.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", cfg.ReadHeaderTimeout, "time a client has to send a request's headers")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", cfg.ReadTimeout, "time a client has to send a whole request, body included")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", cfg.WriteTimeout, "time from the end of a request's headers to the end of its answer")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "how long an idle keep-alive connection is kept open")
	fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", cfg.MaxHeaderBytes, "largest request line and headers, in bytes (larger: 431)")
}

// validateServer checks the HTTP server's limits. None can be turned off:
// a server without them can be held by a handful of slow connections.
func (c *config) validateServer() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read header timeout", c.ReadHeaderTimeout},
		{"read timeout", c.ReadTimeout},
		{"write timeout", c.WriteTimeout},
		{"idle timeout", c.IdleTimeout},
	} {
		if d.v <= 0 || d.v > time.Hour {
			return &usageError{fmt.Sprintf("%s %s must be more than 0 and at most 1h", d.name, d.v)}
		}
	}
	if c.ReadHeaderTimeout > c.ReadTimeout {
		return &usageError{fmt.Sprintf("read header timeout %s must not be longer than the read timeout %s", c.ReadHeaderTimeout, c.ReadTimeout)}
	}
	if c.MaxHeaderBytes < 4<<10 || c.MaxHeaderBytes > 1<<20 {
		return &usageError{fmt.Sprintf("max header bytes %d must be between 4096 and 1048576", c.MaxHeaderBytes)}
	}
	return nil
}

// applyServerLimits sets srv's timeouts and header cap from the settings.
func (c *config) applyServerLimits(srv *http.Server) {
	srv.ReadHeaderTimeout = c.ReadHeaderTimeout
	srv.ReadTimeout = c.ReadTimeout
	srv.WriteTimeout = c.WriteTimeout
	srv.IdleTimeout = c.IdleTimeout
	srv.MaxHeaderBytes = c.MaxHeaderBytes
}
