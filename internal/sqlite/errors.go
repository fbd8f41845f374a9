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
			return kycreview.WrapError(kycreview.ECONFLICT, "Already exists.", err)
		case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED, code&0xff == sqlite3.SQLITE_CANTOPEN:
			return kycreview.WrapError(kycreview.EUNAVAILABLE, "Service unavailable.", err)
		}
	}
	return err
}

// notFound returns what err means for a lookup of one record: the given
// not-found error when there was no row, else the translated error.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return kycreview.Errorf(kycreview.ENOTFOUND, "%s not found", what)
	}
	return translate(err)
}
