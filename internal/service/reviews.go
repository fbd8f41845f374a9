package service

import (
	"context"

	"github.com/kycreview/kycreview"
)

// ChangeFunc turns the request's input into the change to apply, given the
// session as it is under the lock. It lets the HTTP layer report a body's
// errors only after auth and the session lookup, in DRF's order, while the
// whole request stays one transaction.
type ChangeFunc func(kycreview.Session) (kycreview.Change, error)

// Given is a ChangeFunc for an input decoded before the transaction: the
// change, or the error that decoding it gave, reported in its turn.
func Given(c kycreview.Change, err error) ChangeFunc {
	return func(kycreview.Session) (kycreview.Change, error) { return c, err }
}

// Review records a review of a KYC session: the feed row, the new status,
// the status.updated event and the mention notifications, all in one
// transaction with the session locked.
func (s *Service) Review(ctx context.Context, key kycreview.APIKey, sessionID string, input ChangeFunc) (kycreview.Activity, error) {
	var row kycreview.Activity
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		sess, err := lockVisible(ctx, tx, key.ApplicationID, sessionID, kycreview.KindUser)
		if err != nil {
			return err
		}
		c, err := input(sess)
		if err != nil {
			return err
		}
		if c.NewStatus == nil || !c.NewStatus.In(kycreview.ReviewStatuses) {
			return kycreview.Errorf(kycreview.EINVALID, "a review must set Approved, Declined or In Review")
		}
		c.Actor = kycreview.APIKeyActor(key.ID)
		row, err = s.apply(ctx, tx, sess, c)
		return err
	})
	return row, err
}

// UpdateStatus changes a session's status with PATCH …/update-status/. A
// client key may only make a manual decision on a session that is ready for
// one; a system key (the customer's pipeline) may set any status.
func (s *Service) UpdateStatus(ctx context.Context, key kycreview.APIKey, sessionID string, input ChangeFunc) error {
	return s.store.WriteTx(ctx, func(tx Tx) error {
		sess, err := lockVisible(ctx, tx, key.ApplicationID, sessionID, "")
		if err != nil {
			return err
		}
		if key.Role != kycreview.RoleSystem && !sess.Status.In(kycreview.UpdatableStatuses) {
			return kycreview.Errorf(kycreview.EINVALID,
				"Only sessions with status Approved, Declined, In Review, Kyc Expired, Abandoned, Resubmitted can be updated. Current status: %s",
				sess.Status)
		}
		c, err := input(sess)
		if err != nil {
			return err
		}
		if c.NewStatus == nil || !c.NewStatus.Valid() {
			return kycreview.Errorf(kycreview.EINVALID, "new_status is not a status")
		}
		if key.Role != kycreview.RoleSystem && !c.NewStatus.In(kycreview.ManualDecisionStatuses) {
			return kycreview.Errorf(kycreview.EINVALID, "a client key may only set Approved, Declined or Resubmitted")
		}
		if *c.NewStatus == sess.Status {
			return &kycreview.Error{Code: kycreview.EINVALID, List: []string{"The new status is the same as the current status."}}
		}
		c.Actor = kycreview.KeyActor(key)
		_, err = s.apply(ctx, tx, sess, c)
		return err
	})
}

// Feed returns one page of a KYC session's feed and the feed's total count.
func (s *Service) Feed(ctx context.Context, key kycreview.APIKey, sessionID string, q kycreview.FeedQuery) ([]kycreview.Activity, int, error) {
	var rows []kycreview.Activity
	var count int
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		sess, err := findVisible(ctx, tx, key.ApplicationID, sessionID, kycreview.KindUser)
		if err != nil {
			return err
		}
		count = int(sess.ActivityCount)
		if q.Offset >= count {
			rows = []kycreview.Activity{}
			return nil
		}
		rows, err = tx.ListActivities(ctx, sess.PK, q)
		return err
	})
	return rows, count, err
}

// EventBody renders the body of the outbox event with the given id, as the
// webhook dispatcher sends it: from the event's session and status rows,
// which are immutable, so every attempt sends the same bytes. It works for
// sessions deleted since, whose events are still owed.
func (s *Service) EventBody(ctx context.Context, eventID string) ([]byte, error) {
	var body []byte
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		ev, err := tx.FindOutboxEvent(ctx, eventID)
		if err != nil {
			return err
		}
		sess, err := tx.FindSessionByPK(ctx, ev.SessionPK)
		if err != nil {
			return err
		}
		rows, err := tx.ListStatusActivities(ctx, sess.PK)
		if err != nil {
			return err
		}
		body, err = kycreview.RenderStatusUpdated(ev, sess, rows)
		return err
	})
	return body, err
}

// apply writes change c to the locked session sess: the feed row, the
// session's new status and counters, the status.updated event when a status
// is set, and a notification for each mentioned console user.
func (s *Service) apply(ctx context.Context, tx Tx, sess kycreview.Session, c kycreview.Change) (kycreview.Activity, error) {
	at := kycreview.NextActivityTime(s.now(), sess.LastActivityAt)

	var mentions []string
	var notify []kycreview.ConsoleUser
	if c.Comment != nil {
		if candidates := kycreview.ParseMentions(*c.Comment); len(candidates) > 0 {
			members, err := tx.FindMembersByEmail(ctx, sess.ApplicationID, candidates)
			if err != nil {
				return kycreview.Activity{}, err
			}
			mentions, notify = kycreview.ResolveMentions(candidates, members)
		}
	}

	row := kycreview.NewActivity(newID(), sess, c, mentions, at)
	if err := tx.InsertActivity(ctx, &row); err != nil {
		return kycreview.Activity{}, err
	}
	sess.ActivityCount, sess.LastActivityAt = row.Seq, at
	if c.NewStatus != nil {
		sess.Status = *c.NewStatus
	}
	if err := tx.UpdateSession(ctx, sess); err != nil {
		return kycreview.Activity{}, err
	}

	if c.NewStatus != nil {
		ev := kycreview.NewStatusUpdatedEvent(newID(), sess, row)
		if err := tx.InsertOutboxEvent(ctx, &ev); err != nil {
			return kycreview.Activity{}, err
		}
	}

	for _, u := range notify {
		n := kycreview.Notification{ID: newID(), ApplicationID: sess.ApplicationID, ActivityPK: row.PK, UserID: u.ID, CreatedAt: at}
		if err := tx.InsertNotification(ctx, &n); err != nil {
			return kycreview.Activity{}, err
		}
	}
	return row, nil
}
