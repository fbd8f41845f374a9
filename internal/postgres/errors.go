package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kycreview/kycreview"
)

// SQLSTATE codes translate looks at. See
// https://www.postgresql.org/docs/current/errcodes-appendix.html.
const (
	codeUniqueViolation    = "23505"
	codeTooManyConnections = "53300"
	codeAdminShutdown      = "57P01" // the server is shutting down, or an admin ended this backend
	codeCrashShutdown      = "57P02"
	codeCannotConnectNow   = "57P03" // the server is starting up or in recovery
	classConnection        = "08"    // connection exceptions
)

// translate maps driver errors to kycreview errors by their SQLSTATE code or
// Go type, never by message text: unique violations become ECONFLICT, a
// server that cannot be reached or is going away EUNAVAILABLE; anything else
// stays an internal error, wrapped so the cause is logged.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &kycreview.Error{Code: kycreview.ENOTFOUND, Message: "Not found."}
	}
	// A cancelled request is the caller's doing, not the database's, even
	// though pgx interrupts it by breaking the connection's read.
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == codeUniqueViolation:
			return kycreview.WrapError(kycreview.ECONFLICT, "Already exists.", err)
		case strings.HasPrefix(pe.Code, classConnection), pe.Code == codeAdminShutdown, pe.Code == codeCrashShutdown,
			pe.Code == codeCannotConnectNow, pe.Code == codeTooManyConnections:
			return kycreview.WrapError(kycreview.EUNAVAILABLE, "Service unavailable.", err)
		}
		return err
	}
	if connectionLost(err) {
		return kycreview.WrapError(kycreview.EUNAVAILABLE, "Service unavailable.", err)
	}
	return err
}

// connectionLost reports whether err says the server could not be reached or
// the connection broke, rather than that a statement failed.
func connectionLost(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// notFound returns what err means for a lookup of one record: the given
// not-found error when there was no row, else the translated error.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return kycreview.Errorf(kycreview.ENOTFOUND, "%s not found", what)
	}
	return translate(err)
}

// canonicalUUID reports whether s is a UUID spelled the way this package's
// ids are stored and read back: 36 characters, lower-case hex, hyphenated.
// Lookups check it first so that an id that is not one (from a request or
// the command line) is simply not found, as on SQLite, instead of failing
// the uuid cast, and so that other spellings PostgreSQL would accept (upper
// case, braces, no hyphens) do not find rows SQLite would not.
func canonicalUUID(s string) bool {
	c, ok := kycreview.CanonicalUUID(s)
	return ok && c == s
}
