package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// ceilingPostBody is the ceiling's answer to a POST: the shape and about the
// size of kycreview's 201 for a review.
const ceilingPostBody = `{"user":"API Client","new_status":"Approved","comment":"kycbench review","created_at":"2026-01-01T00:00:00.000Z"}`

// runCeiling is the hidden ceiling subcommand: the reference server, plain
// net/http doing no work beyond HTTP itself. It serves until ctx ends.
func runCeiling(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(ceilingCommand, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	bodyBytes := fs.Int("body-bytes", 8192, "size of the GET answer")
	if err := fs.Parse(args); err != nil {
		return &usageError{"ceiling: " + err.Error()}
	}
	if *bodyBytes < 2 || *bodyBytes > 64<<20 {
		return &usageError{fmt.Sprintf("ceiling: --body-bytes %d out of range", *bodyBytes)}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	srv := &http.Server{
		Handler: ceilingHandler(ceilingPage(*bodyBytes)),
		// The same timeouts as kycreview serve: the ceiling should differ
		// from it only in the work done per request.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ceilingHandler answers every GET with page and every POST, once its body
// is read, with a small 201. It writes its answers the way kycreview's
// writeJSON does (Content-Type, WriteHeader, one Write), so both go out with
// the same framing.
func ceilingHandler(page []byte) http.Handler {
	post := []byte(ceilingPostBody)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(page)
		case http.MethodPost:
			if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 1<<20)); err != nil {
				http.Error(w, `{"detail":"bad body"}`, http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(post)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
}

// ceilingPage returns a valid JSON object of exactly n bytes (n ≥ 2), shaped
// like an empty feed page padded to the real page's size.
func ceilingPage(n int) []byte {
	const head, tail = `{"count":0,"next":null,"previous":null,"results":[],"padding":"`, `"}`
	if n < len(head)+len(tail) {
		return []byte(`{` + strings.Repeat(" ", n-2) + `}`)
	}
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// startCeiling starts the ceiling as a child process (kycbench itself, run
// with the hidden subcommand), answering GETs with bodyBytes bytes.
func startCeiling(ctx context.Context, bodyBytes int) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("ceiling: find the kycbench binary: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return startProcess(ctx, "ceiling", []string{self, ceilingCommand, "--addr", addr, "--body-bytes", strconv.Itoa(bodyBytes)}, os.Environ(), addr)
}
