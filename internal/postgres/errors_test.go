package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kycreview/kycreview"
)

func TestTranslate(t *testing.T) {
	pgErr := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"no rows", fmt.Errorf("scan: %w", pgx.ErrNoRows), kycreview.ENOTFOUND},
		{"unique violation", pgErr("23505"), kycreview.ECONFLICT},
		{"foreign key violation stays internal", pgErr("23503"), kycreview.EINTERNAL},
		{"check violation stays internal", pgErr("23514"), kycreview.EINTERNAL},
		{"raise from the append-only trigger stays internal", pgErr("P0001"), kycreview.EINTERNAL},
		{"admin shutdown", pgErr("57P01"), kycreview.EUNAVAILABLE},
		{"crash shutdown", pgErr("57P02"), kycreview.EUNAVAILABLE},
		{"starting up", pgErr("57P03"), kycreview.EUNAVAILABLE},
		{"too many connections", pgErr("53300"), kycreview.EUNAVAILABLE},
		{"connection failure", pgErr("08006"), kycreview.EUNAVAILABLE},
		{"connection refused", fmt.Errorf("connect: %w", refused), kycreview.EUNAVAILABLE},
		{"connection cut", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), kycreview.EUNAVAILABLE},
		{"closed connection", fmt.Errorf("query: %w", pgconn.ErrConnClosed), kycreview.EUNAVAILABLE},
		{"cancelled by the caller", fmt.Errorf("query: %w", context.Canceled), kycreview.EINTERNAL},
		{"other", errors.New("boom"), kycreview.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := translate(tt.err)
			if code := kycreview.ErrorCode(got); code != tt.want {
				t.Errorf("code = %q (%v), want %q", code, got, tt.want)
			}
			// The cause stays reachable for the log.
			var pe *pgconn.PgError
			if errors.As(tt.err, &pe) && !errors.As(got, &pe) {
				t.Errorf("translate(%v) lost the PgError", tt.err)
			}
		})
	}
}

func TestCanonicalUUID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"01234567-89ab-cdef-0123-456789abcdef", true},
		{"01234567-89AB-cdef-0123-456789abcdef", false},
		{"0123456789abcdef0123456789abcdef", false},
		{"{01234567-89ab-cdef-0123-456789abcdef}", false},
		{"01234567-89ab-cdef-0123-456789abcdeg", false},
		{"01234567+89ab-cdef-0123-456789abcdef", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := canonicalUUID(tt.in); got != tt.want {
			t.Errorf("canonicalUUID(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
