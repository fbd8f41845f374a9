package service

import (
	"context"
	"encoding/json"

	"github.com/kycreview/kycreview"
)

// Review records a review of a KYC session: the feed row, the new status,
// the status.updated event and the mention notifications, all in one
// transaction with the session locked.
//
// inputErr is what decoding the request's body gave. It is reported only
// after the session is found, the order in which DRF reports errors, and
// without taking the write lock: a flood of bad requests must not queue up
// the good ones behind the single SQLite writer.
func (s *Service) Review(ctx context.Context, key kycreview.APIKey, sessionID string, c kycreview.Change, inputErr error) (kycreview.Activity, error) {
	if inputErr != nil {
		return kycreview.Activity{}, s.refuse(ctx, key, sessionID, kycreview.KindUser, nil, inputErr)
	}
	if c.NewStatus == nil || !c.NewStatus.In(kycreview.ReviewStatuses()) {
		return kycreview.Activity{}, kycreview.Errorf(kycreview.EINVALID, "a review must set Approved, Declined or In Review")
	}
	c.Actor = kycreview.APIKeyActor(key.ID)
	var row kycreview.Activity
	err := s.onSession(ctx, key, sessionID, func(tx Tx) error {
		sess, err := lockVisible(ctx, tx, key.ApplicationID, sessionID, kycreview.KindUser)
		if err != nil {
			return err
		}
		if row, err = s.apply(ctx, tx, sess, c); err != nil {
			return err
		}
		return s.remember(ctx, tx, row)
	})
	return row, err
}

// UpdateStatus changes a session's status with PATCH …/update-status/. A
// client key may only make a manual decision on a session that is ready for
// one; a system key (the customer's pipeline) may set any status. The
// session's current status is checked before inputErr, as Didit documents.
func (s *Service) UpdateStatus(ctx context.Context, key kycreview.APIKey, sessionID string, c kycreview.Change, inputErr error) error {
	if inputErr != nil {
		return s.refuse(ctx, key, sessionID, "", updatable(key), inputErr)
	}
	if c.NewStatus == nil || !c.NewStatus.Valid() {
		return kycreview.Errorf(kycreview.EINVALID, "new_status is not a status")
	}
	if key.Role != kycreview.RoleSystem && !c.NewStatus.In(kycreview.ManualDecisionStatuses()) {
		return kycreview.Errorf(kycreview.EINVALID, "a client key may only set Approved, Declined or Resubmitted")
	}
	c.Actor = kycreview.KeyActor(key)
	return s.onSession(ctx, key, sessionID, func(tx Tx) error {
		sess, err := lockVisible(ctx, tx, key.ApplicationID, sessionID, "")
		if err != nil {
			return err
		}
		if err := updatable(key)(sess); err != nil {
			return err
		}
		if *c.NewStatus == sess.Status {
			return &kycreview.Error{Code: kycreview.EINVALID, List: []string{"The new status is the same as the current status."}}
		}
		if _, err = s.apply(ctx, tx, sess, c); err != nil {
			return err
		}
		return s.remember(ctx, tx, sess.ID)
	})
}

// updatable is the check a session's current status must pass before key
// may change it: none for a system key.
func updatable(key kycreview.APIKey) func(kycreview.Session) error {
	return func(sess kycreview.Session) error {
		if key.Role != kycreview.RoleSystem && !sess.Status.In(kycreview.UpdatableStatuses()) {
			return kycreview.Errorf(kycreview.EINVALID,
				"Only sessions with status Approved, Declined, In Review, Kyc Expired, Abandoned, Resubmitted can be updated. Current status: %s",
				sess.Status)
		}
		return nil
	}
}

// refuse answers a write whose input is invalid in DRF's order, reading
// only: the session's absence first, then its state (check), then the
// input's error.
func (s *Service) refuse(ctx context.Context, key kycreview.APIKey, sessionID string, kind kycreview.Kind, check func(kycreview.Session) error, inputErr error) error {
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		sess, err := findVisible(ctx, tx, key.ApplicationID, sessionID, kind)
		if err == nil && check != nil {
			err = check(sess)
		}
		return err
	})
	if err != nil {
		return err
	}
	return inputErr
}

// onSession runs fn in a write transaction, one at a time per session in
// this process. Changes to a session are serialised by its database lock
// anyway; queueing them here first means a burst on one session holds one
// database connection, not the whole pool, so other sessions' requests and
// the healthcheck still get through.
func (s *Service) onSession(ctx context.Context, key kycreview.APIKey, sessionID string, fn func(Tx) error) error {
	id, ok := kycreview.CanonicalUUID(sessionID)
	if !ok {
		return kycreview.ErrSessionNotFound
	}
	unlock, err := s.locks.lock(ctx, key.ApplicationID+"/"+id)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.store.WriteTx(ctx, fn); err != nil {
		return err
	}
	// The write may have queued webhook deliveries: wake the dispatcher.
	s.signalDeliveries()
	return nil
}

// Feed returns one page of a KYC session's feed, as the rendered entries the
// API sends, and the feed's total count (kept on the session row). Both
// come from one statement, and so from one snapshot.
func (s *Service) Feed(ctx context.Context, key kycreview.APIKey, sessionID string, q kycreview.FeedQuery) ([]json.RawMessage, int, error) {
	id, ok := kycreview.CanonicalUUID(sessionID)
	if !ok {
		return nil, 0, kycreview.ErrSessionNotFound
	}
	var page FeedPage
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		page, err = tx.FeedPage(ctx, key.ApplicationID, id, q)
		return err
	})
	if kycreview.ErrorCode(err) == kycreview.ENOTFOUND || (err == nil && page.Kind != kycreview.KindUser) {
		return nil, 0, kycreview.ErrSessionNotFound
	} else if err != nil {
		return nil, 0, err
	}
	if page.Entries == nil {
		page.Entries = []json.RawMessage{}
	}
	return page.Entries, page.Count, nil
}

// EventBody renders the body of the outbox event with the given id, as the
// webhook dispatcher sends it: from the event's session and status rows,
// which are immutable, so every attempt sends the same bytes. It works for
// sessions deleted since, whose events are still owed.
func (s *Service) EventBody(ctx context.Context, eventID string) ([]byte, error) {
	var body []byte
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		var err error
		body, err = renderEvent(ctx, tx, eventID)
		return err
	})
	return body, err
}

// EventBodies renders the bodies of several events, as EventBody does, in
// one read transaction: the dispatcher renders a claimed batch at once
// instead of taking a connection per attempt. An event that cannot be
// rendered is left out, with its error in errs.
func (s *Service) EventBodies(ctx context.Context, eventIDs []string) (bodies map[string][]byte, errs map[string]error, err error) {
	bodies, errs = make(map[string][]byte, len(eventIDs)), map[string]error{}
	err = s.store.ReadTx(ctx, func(tx Tx) error {
		for _, id := range eventIDs {
			if _, done := bodies[id]; done {
				continue
			}
			body, err := renderEvent(ctx, tx, id)
			if kycreview.ErrorCode(err) == kycreview.ENOTFOUND {
				errs[id] = err
				continue
			} else if err != nil {
				return err
			}
			bodies[id] = body
		}
		return nil
	})
	return bodies, errs, err
}

func renderEvent(ctx context.Context, tx Tx, eventID string) ([]byte, error) {
	ev, err := tx.FindOutboxEvent(ctx, eventID)
	if err != nil {
		return nil, err
	}
	sess, err := tx.FindSessionByPK(ctx, ev.SessionPK)
	if err != nil {
		return nil, err
	}
	rows, err := tx.ListStatusActivities(ctx, sess.PK)
	if err != nil {
		return nil, err
	}
	return kycreview.RenderStatusUpdated(ev, sess, rows)
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
	if !s.audit.unchained {
		row.Hash = kycreview.ChainHash(sess.ChainHead, sess.ID, row)
	}
	if err := tx.InsertActivity(ctx, &row); err != nil {
		return kycreview.Activity{}, err
	}
	sess.ActivityCount, sess.LastActivityAt, sess.ChainHead = row.Seq, at, row.Hash
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
