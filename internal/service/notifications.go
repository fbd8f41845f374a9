package service

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/kycreview/kycreview"
)

// ClaimNotifications claims up to limit due notifications for lease, for
// the notifier, under a fresh claim token.
func (s *Service) ClaimNotifications(ctx context.Context, lease time.Duration, limit int) ([]kycreview.ClaimedNotification, error) {
	now := s.now().UTC()
	claim := newID()
	var out []kycreview.ClaimedNotification
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ClaimNotifications(ctx, now, now.Add(lease), claim, limit)
		return err
	})
	return out, err
}

// RecordNotifications writes the outcomes of a batch of sends in one
// transaction. An outcome whose claim has expired and been taken over, or
// whose notification was skipped meanwhile (its user disabled), is not
// applied. It returns how many were.
func (s *Service) RecordNotifications(ctx context.Context, outcomes []kycreview.NotificationOutcome) (int, error) {
	// Rows in one order in every batch, so two replicas cannot lock them in
	// opposite orders.
	outcomes = slices.Clone(outcomes)
	slices.SortFunc(outcomes, func(a, b kycreview.NotificationOutcome) int { return cmp.Compare(a.PK, b.PK) })
	applied := 0
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		applied = 0
		for _, o := range outcomes {
			ok, err := tx.RecordNotification(ctx, o)
			if err != nil {
				return err
			}
			if ok {
				applied++
			}
		}
		return nil
	})
	return applied, err
}

// NotificationBacklog counts the notifications whose email is still owed
// (pending) or has failed for good.
func (s *Service) NotificationBacklog(ctx context.Context) (kycreview.NotificationBacklog, error) {
	var b kycreview.NotificationBacklog
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		b, err = tx.NotificationBacklog(ctx)
		return err
	})
	return b, err
}

// Inbox is a page of a console user's notifications.
type Inbox struct {
	Notifications []kycreview.InboxNotification // newest first
	Count         int                           // all of the user's notifications
	Unread        int                           // of which unread
}

// Notifications returns a page of the console user's notifications, newest
// first, with the total and unread counts: what the console shows. Only
// notifications on sessions that still exist, in applications the user
// still belongs to, are listed.
func (s *Service) Notifications(ctx context.Context, userID string, limit, offset int) (Inbox, error) {
	var in Inbox
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		u, err := findUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		in.Notifications, in.Count, in.Unread, err = tx.ListNotifications(ctx, u.ID, max(limit, 0), max(offset, 0))
		return err
	})
	return in, err
}

// MarkNotificationsRead marks the user's notifications with the given ids
// read, or all of them when ids is empty, and returns how many were unread.
// Ids that are not the user's are ignored; ids that are not UUIDs are
// EINVALID.
func (s *Service) MarkNotificationsRead(ctx context.Context, userID string, ids []string) (int, error) {
	canon := make([]string, 0, len(ids))
	for _, id := range ids {
		c, ok := kycreview.CanonicalUUID(id)
		if !ok {
			return 0, kycreview.Errorf(kycreview.EINVALID, "%q is not a notification id", id)
		}
		canon = append(canon, c)
	}
	var n int
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		u, err := findUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		n, err = tx.MarkNotificationsRead(ctx, u.ID, canon, s.now().UTC())
		return err
	})
	return n, err
}
