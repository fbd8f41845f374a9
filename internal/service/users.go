package service

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"sync"

	"github.com/kycreview/kycreview"
)

// UserInput is a new console user.
type UserInput struct {
	Email    string
	FullName string
	// Password, when set, lets the user sign in to the console; it is
	// stored as an argon2id hash only. Empty: no password yet.
	Password string
	// AppID, when set, is an application the user joins at once.
	AppID string
}

// ErrUserNotFound is returned for a console user reference that names
// nobody.
var ErrUserNotFound = &kycreview.Error{Code: kycreview.ENOTFOUND, Message: "console user not found"}

// CreateUser validates in and creates a console user. The email must be
// unique whatever its case (ECONFLICT otherwise) and must read back as a
// mention, or nobody could ever @mention the user.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (kycreview.ConsoleUser, error) {
	email := strings.TrimSpace(in.Email)
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email ||
		!slices.Equal(kycreview.ParseMentions("@"+email), []string{strings.ToLower(email)}) {
		return kycreview.ConsoleUser{}, kycreview.Errorf(kycreview.EINVALID, "%q is not a valid email address", email)
	}
	fullName := kycreview.TrimSpace(in.FullName)
	if msgs := kycreview.CharFieldErrors(fullName, maxNameLength); msgs != nil {
		return kycreview.ConsoleUser{}, kycreview.Errorf(kycreview.EINVALID, "full name: %s", strings.Join(msgs, " "))
	}
	var hash string
	if in.Password != "" {
		if err := ValidatePassword(in.Password); err != nil {
			return kycreview.ConsoleUser{}, err
		}
		// Hashed before the transaction: it is deliberately slow, and
		// SQLite's single writer must not wait for it.
		var err error
		if hash, err = HashPassword(in.Password); err != nil {
			return kycreview.ConsoleUser{}, err
		}
	}
	now := s.now().UTC()
	u := kycreview.ConsoleUser{ID: newID(), Email: email, FullName: fullName, CreatedAt: now}
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		if in.AppID != "" {
			if _, err := tx.FindApplication(ctx, in.AppID); err != nil {
				return err
			}
		}
		if err := tx.CreateConsoleUser(ctx, u); err != nil {
			return err
		}
		if hash != "" {
			if err := tx.SetPasswordHash(ctx, u.ID, hash); err != nil {
				return err
			}
		}
		if in.AppID != "" {
			return tx.AddMember(ctx, in.AppID, u.ID, now)
		}
		return nil
	})
	return u, err
}

// findUser looks a console user up by id, or by email (in any case) when
// ref holds an '@'.
func findUser(ctx context.Context, tx Tx, ref string) (kycreview.ConsoleUser, error) {
	ref = strings.TrimSpace(ref)
	var u kycreview.ConsoleUser
	var err error
	if strings.Contains(ref, "@") {
		u, err = tx.FindConsoleUserByEmail(ctx, strings.ToLower(ref))
	} else if id, ok := kycreview.CanonicalUUID(ref); ok {
		u, err = tx.FindConsoleUser(ctx, id)
	} else {
		return kycreview.ConsoleUser{}, ErrUserNotFound
	}
	if kycreview.ErrorCode(err) == kycreview.ENOTFOUND {
		return kycreview.ConsoleUser{}, ErrUserNotFound
	}
	return u, err
}

// ConsoleUser returns the console user named by ref: an id or an email.
func (s *Service) ConsoleUser(ctx context.Context, ref string) (kycreview.ConsoleUser, error) {
	var u kycreview.ConsoleUser
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		u, err = findUser(ctx, tx, ref)
		return err
	})
	return u, err
}

// ConsoleUsers lists every console user, or with appID that application's
// members, oldest first, each with the applications they belong to.
func (s *Service) ConsoleUsers(ctx context.Context, appID string) ([]kycreview.ConsoleUserListing, error) {
	var out []kycreview.ConsoleUserListing
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		if appID != "" {
			if _, err := tx.FindApplication(ctx, appID); err != nil {
				return err
			}
		}
		var err error
		out, err = tx.ListConsoleUsers(ctx, appID)
		return err
	})
	return out, err
}

// DisableConsoleUser disables the user named by ref: they can no longer
// sign in or be mentioned, and their notifications that are still pending
// are skipped (returned: how many). Disabling twice keeps the first time.
func (s *Service) DisableConsoleUser(ctx context.Context, ref string) (kycreview.ConsoleUser, int, error) {
	var u kycreview.ConsoleUser
	var skipped int
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		var err error
		if u, err = findUser(ctx, tx, ref); err != nil {
			return err
		}
		if skipped, err = tx.DisableConsoleUser(ctx, u.ID, s.now().UTC()); err != nil {
			return err
		}
		u, err = tx.FindConsoleUser(ctx, u.ID)
		return err
	})
	return u, skipped, err
}

// AddMember makes the user named by ref a member of the application (a
// no-op if they are one already).
func (s *Service) AddMember(ctx context.Context, appID, ref string) (kycreview.ConsoleUser, error) {
	var u kycreview.ConsoleUser
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		if _, err := tx.FindApplication(ctx, appID); err != nil {
			return err
		}
		var err error
		if u, err = findUser(ctx, tx, ref); err != nil {
			return err
		}
		return tx.AddMember(ctx, appID, u.ID, s.now().UTC())
	})
	return u, err
}

// RemoveMember ends the membership of the user named by ref in the
// application: they can no longer be mentioned there, and their pending
// notifications from it are skipped. ENOTFOUND if they were not a member.
func (s *Service) RemoveMember(ctx context.Context, appID, ref string) (kycreview.ConsoleUser, error) {
	var u kycreview.ConsoleUser
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		if _, err := tx.FindApplication(ctx, appID); err != nil {
			return err
		}
		var err error
		if u, err = findUser(ctx, tx, ref); err != nil {
			return err
		}
		return tx.RemoveMember(ctx, appID, u.ID)
	})
	return u, err
}

// SetPassword sets the password of the user named by ref.
func (s *Service) SetPassword(ctx context.Context, ref, password string) error {
	if err := ValidatePassword(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.store.WriteTx(ctx, func(tx Tx) error {
		u, err := findUser(ctx, tx, ref)
		if err != nil {
			return err
		}
		return tx.SetPasswordHash(ctx, u.ID, hash)
	})
}

// ErrBadCredentials is the one answer to a failed sign-in, whatever failed:
// telling an unknown address from a wrong password would let anyone probe
// who has an account.
var ErrBadCredentials = &kycreview.Error{Code: kycreview.EFORBIDDEN, Message: "Invalid email or password."}

// dummyHash is verified against when the user is unknown or has no
// password, so a sign-in takes as long whatever the reason it fails.
// It is made once, on the first such sign-in.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("kycreview: no such user")
	return h
})

// SignIn checks a console user's email and password, for the console. Any
// failure (unknown email, no password set, wrong password, disabled user)
// is ErrBadCredentials, after the same amount of hashing work.
func (s *Service) SignIn(ctx context.Context, email, password string) (kycreview.ConsoleUser, error) {
	var u kycreview.ConsoleUser
	var hash string
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		u, err = tx.FindConsoleUserByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
		if err != nil {
			return err
		}
		hash, err = tx.PasswordHash(ctx, u.ID)
		return err
	})
	if err != nil && kycreview.ErrorCode(err) != kycreview.ENOTFOUND {
		return kycreview.ConsoleUser{}, err
	}
	if hash == "" {
		_, _ = VerifyPassword(dummyHash(), password)
		return kycreview.ConsoleUser{}, ErrBadCredentials
	}
	ok, err := VerifyPassword(hash, password)
	if err != nil || !ok || u.DisabledAt != nil {
		return kycreview.ConsoleUser{}, ErrBadCredentials
	}
	return u, nil
}
