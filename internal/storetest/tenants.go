package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

func testApplications(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "Acme")
	newFixture(t, s, "Acme") // a second one with the same name: names are labels, not keys
	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindApplication(ctx, a.app.ID)
		if err != nil {
			return err
		}
		if got.Name != "Acme" || !got.CreatedAt.Equal(epoch) {
			t.Errorf("FindApplication = %+v", got)
		}
		byName, err := tx.FindApplicationByName(ctx, "Acme")
		if err != nil {
			return err
		}
		if byName.ID == "" || byName.Name != "Acme" {
			t.Errorf("FindApplicationByName = %+v", byName)
		}
		_, err = tx.FindApplication(ctx, uuid.NewString())
		wantCode(t, err, kycreview.ENOTFOUND)
		_, err = tx.FindApplicationByName(ctx, "nobody")
		wantCode(t, err, kycreview.ENOTFOUND)
		n, err := tx.CountApplications(ctx)
		if n != 2 {
			t.Errorf("CountApplications = %d, want 2", n)
		}
		return err
	})
}

func testWorkflows(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	read(t, s, func(tx service.Tx) error {
		w, err := tx.FindWorkflow(ctx, a.app.ID, a.business.ID)
		if err != nil {
			return err
		}
		if w.Kind != kycreview.KindBusiness || w.ApplicationID != a.app.ID {
			t.Errorf("FindWorkflow = %+v", w)
		}
		_, err = tx.FindWorkflow(ctx, a.app.ID, other.user.ID)
		wantCode(t, err, kycreview.ENOTFOUND)
		return nil
	})
}

func testAPIKeys(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	k := kycreview.APIKey{ID: uuid.NewString(), ApplicationID: a.app.ID, Role: kycreview.RoleSystem,
		Lookup: "lookup-0123456789", Hash: []byte{0, 1, 2, 255}, CreatedAt: epoch}
	write(t, s, func(tx service.Tx) error { return tx.CreateAPIKey(ctx, k) })

	dup := k
	dup.ID = uuid.NewString()
	err := s.WriteTx(ctx, func(tx service.Tx) error { return tx.CreateAPIKey(ctx, dup) })
	wantCode(t, err, kycreview.ECONFLICT)

	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindAPIKeyByLookup(ctx, k.Lookup)
		if err != nil {
			return err
		}
		if got.ID != k.ID || got.Role != kycreview.RoleSystem || string(got.Hash) != string(k.Hash) || got.RevokedAt != nil {
			t.Errorf("FindAPIKeyByLookup = %+v", got)
		}
		_, err = tx.FindAPIKeyByLookup(ctx, "missing")
		wantCode(t, err, kycreview.ENOTFOUND)
		return nil
	})

	revokedAt := epoch.Add(time.Hour)
	write(t, s, func(tx service.Tx) error { return tx.RevokeAPIKey(ctx, k.ID, revokedAt) })
	// Revoking again keeps the first revocation time.
	write(t, s, func(tx service.Tx) error { return tx.RevokeAPIKey(ctx, k.ID, revokedAt.Add(time.Hour)) })
	err = s.WriteTx(ctx, func(tx service.Tx) error { return tx.RevokeAPIKey(ctx, uuid.NewString(), revokedAt) })
	wantCode(t, err, kycreview.ENOTFOUND)
	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindAPIKeyByLookup(ctx, k.Lookup)
		if err == nil && (got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt)) {
			t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, revokedAt)
		}
		return err
	})
}

func testConsoleUsers(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	ana := kycreview.ConsoleUser{ID: uuid.NewString(), Email: "Ana.Lead@Example.com", FullName: "Ana Lead", CreatedAt: epoch}
	bob := kycreview.ConsoleUser{ID: uuid.NewString(), Email: "bob@example.com", FullName: "Bob", CreatedAt: epoch}
	write(t, s, func(tx service.Tx) error {
		if err := tx.CreateConsoleUser(ctx, ana); err != nil {
			return err
		}
		if err := tx.CreateConsoleUser(ctx, bob); err != nil {
			return err
		}
		if err := tx.AddMember(ctx, a.app.ID, ana.ID, epoch); err != nil {
			return err
		}
		if err := tx.AddMember(ctx, a.app.ID, ana.ID, epoch); err != nil { // twice is harmless
			return err
		}
		return tx.AddMember(ctx, other.app.ID, bob.ID, epoch)
	})
	// Emails are unique whatever their case.
	err := s.WriteTx(ctx, func(tx service.Tx) error {
		return tx.CreateConsoleUser(ctx, kycreview.ConsoleUser{ID: uuid.NewString(), Email: "ana.lead@example.COM", CreatedAt: epoch})
	})
	wantCode(t, err, kycreview.ECONFLICT)

	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindMembersByEmail(ctx, a.app.ID, []string{"ana.lead@example.com", "bob@example.com", "nobody@example.com"})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].ID != ana.ID || got[0].Email != ana.Email || got[0].FullName != "Ana Lead" {
			t.Errorf("FindMembersByEmail = %+v, want only Ana with her stored address", got)
		}
		none, err := tx.FindMembersByEmail(ctx, a.app.ID, nil)
		if len(none) != 0 {
			t.Errorf("FindMembersByEmail(nil) = %+v", none)
		}
		return err
	})
}
