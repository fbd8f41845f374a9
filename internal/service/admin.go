package service

import (
	"context"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
)

// maxNameLength bounds application and console user names.
const maxNameLength = 200

// NewApplication is what creating an application returns: the application,
// its first API key's token (shown once) and its two workflows.
type NewApplication struct {
	Application kycreview.Application
	KeyID       string
	Token       string
	Workflows   map[kycreview.Kind]kycreview.Workflow
}

// CreateApplication creates an application with a client API key and one
// workflow of each kind.
func (s *Service) CreateApplication(ctx context.Context, name string) (NewApplication, error) {
	name = kycreview.TrimSpace(name)
	if name == "" {
		return NewApplication{}, kycreview.Errorf(kycreview.EINVALID, "application name is required")
	}
	if msgs := kycreview.CharFieldErrors(name, maxNameLength); msgs != nil {
		return NewApplication{}, kycreview.Errorf(kycreview.EINVALID, "application name: %s", strings.Join(msgs, " "))
	}
	now := s.now().UTC()
	out := NewApplication{
		Application: kycreview.Application{ID: newID(), Name: name, CreatedAt: now},
		Workflows:   map[kycreview.Kind]kycreview.Workflow{},
	}
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		if err := tx.CreateApplication(ctx, out.Application); err != nil {
			return err
		}
		for _, kind := range []kycreview.Kind{kycreview.KindUser, kycreview.KindBusiness} {
			w := kycreview.Workflow{ID: newID(), ApplicationID: out.Application.ID, Kind: kind, Name: "Default " + string(kind) + " workflow", CreatedAt: now}
			if err := tx.CreateWorkflow(ctx, w); err != nil {
				return err
			}
			out.Workflows[kind] = w
		}
		var err error
		out.KeyID, out.Token, err = createKey(ctx, tx, out.Application.ID, kycreview.RoleClient, now)
		return err
	})
	return out, err
}

// CreateAPIKey creates a key with the given role for the application and
// returns its id and token.
func (s *Service) CreateAPIKey(ctx context.Context, appID string, role kycreview.Role) (keyID, token string, err error) {
	if !role.Valid() {
		return "", "", kycreview.Errorf(kycreview.EINVALID, "role must be client or system, not %q", role)
	}
	err = s.store.WriteTx(ctx, func(tx Tx) error {
		if _, err := tx.FindApplication(ctx, appID); err != nil {
			return err
		}
		keyID, token, err = createKey(ctx, tx, appID, role, s.now().UTC())
		return err
	})
	return keyID, token, err
}

func createKey(ctx context.Context, tx Tx, appID string, role kycreview.Role, now time.Time) (string, string, error) {
	token, lookup, hash := newToken()
	k := kycreview.APIKey{ID: newID(), ApplicationID: appID, Role: role, Lookup: lookup, Hash: hash, CreatedAt: now}
	return k.ID, token, tx.CreateAPIKey(ctx, k)
}

// RevokeAPIKey revokes a key; requests with it are refused from then on,
// by this Service at once and by others within their key cache's TTL.
func (s *Service) RevokeAPIKey(ctx context.Context, keyID string) error {
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		return tx.RevokeAPIKey(ctx, keyID, s.now().UTC())
	})
	if err == nil {
		s.keys.forget(keyID)
	}
	return err
}

// CreateConsoleUser creates a console user, without a password, who
// belongs to the application.
func (s *Service) CreateConsoleUser(ctx context.Context, appID, email, fullName string) (kycreview.ConsoleUser, error) {
	if appID == "" {
		return kycreview.ConsoleUser{}, kycreview.Errorf(kycreview.EINVALID, "an application is required")
	}
	return s.CreateUser(ctx, UserInput{AppID: appID, Email: email, FullName: fullName})
}

// DemoState reports how many applications exist and the id of the oldest
// application with the given name ("" if none), for serve --demo.
func (s *Service) DemoState(ctx context.Context, name string) (count int, appID string, err error) {
	err = s.store.ReadTx(ctx, func(tx Tx) error {
		if count, err = tx.CountApplications(ctx); err != nil {
			return err
		}
		app, err := tx.FindApplicationByName(ctx, name)
		if kycreview.ErrorCode(err) == kycreview.ENOTFOUND {
			return nil
		}
		appID = app.ID
		return err
	})
	return count, appID, err
}
