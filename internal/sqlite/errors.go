package sqlite

import (
	"database/sql"
	"errors"

	"github.com/kycreview/kycreview"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// translate maps driver errors to kycreview errors by their result code,
// never by message text: unique violations become ECONFLICT, a busy or
// locked database EUNAVAILABLE; anything else stays an internal error,
// wrapped so the cause is logged.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &kycreview.Error{Code: kycreview.ENOTFOUND, Message: "Not found."}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		switch {
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &conflict{err}
		case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED, code&0xff == sqlite3.SQLITE_CANTOPEN:
			return &unavailable{err}
		}
	}
	return err
}

// unavailable is an EUNAVAILABLE error that keeps its cause for the log.
type unavailable struct{ cause error }

func (u *unavailable) Error() string { return "database unavailable: " + u.cause.Error() }
func (u *unavailable) Unwrap() []error {
	return []error{u.cause, &kycreview.Error{Code: kycreview.EUNAVAILABLE, Message: "Service unavailable."}}
}

// conflict is an ECONFLICT error that keeps its cause for the log.
type conflict struct{ cause error }

func (c *conflict) Error() string { return "conflict: " + c.cause.Error() }
func (c *conflict) Unwrap() []error {
	return []error{c.cause, &kycreview.Error{Code: kycreview.ECONFLICT, Message: "Already exists."}}
}

// notFound returns what err means for a lookup of one record: the given
// not-found error when there was no row, else the translated error.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return kycreview.Errorf(kycreview.ENOTFOUND, "%s not found", what)
	}
	return translate(err)
}
