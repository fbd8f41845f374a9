package service

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
)

// SessionInput is a validated POST /v3/session/ body.
type SessionInput struct {
	WorkflowID string
	VendorData *string
	Callback   *string
	Metadata   json.RawMessage
}

// CreateSession creates a session on one of the application's workflows.
func (s *Service) CreateSession(ctx context.Context, key kycreview.APIKey, in SessionInput) (kycreview.Session, error) {
	sess := kycreview.Session{
		ID:            newID(),
		ApplicationID: key.ApplicationID,
		WorkflowID:    strings.ToLower(in.WorkflowID),
		Status:        kycreview.StatusNotStarted,
		VendorData:    in.VendorData,
		Callback:      in.Callback,
		Metadata:      in.Metadata,
		CreatedAt:     s.now().UTC().Truncate(time.Microsecond),
	}
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		w, err := tx.FindWorkflow(ctx, key.ApplicationID, sess.WorkflowID)
		if kycreview.ErrorCode(err) == kycreview.ENOTFOUND {
			return kycreview.FieldErrors(map[string][]string{
				"workflow_id": {`Invalid pk "` + in.WorkflowID + `" - object does not exist.`},
			})
		} else if err != nil {
			return err
		}
		sess.Kind = w.Kind
		if err := tx.CreateSession(ctx, &sess); err != nil {
			return err
		}
		return s.remember(ctx, tx, sess)
	})
	return sess, err
}

// Decision returns a session, KYC or KYB, with its status rows.
func (s *Service) Decision(ctx context.Context, key kycreview.APIKey, sessionID string) (kycreview.Decision, error) {
	var d kycreview.Decision
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		var err error
		if d.Session, err = findVisible(ctx, tx, key.ApplicationID, sessionID, ""); err != nil {
			return err
		}
		d.Reviews, err = tx.ListStatusActivities(ctx, d.Session.PK)
		return err
	})
	return d, err
}

// ListSessions returns one page of the application's sessions, newest first,
// and the total that match.
func (s *Service) ListSessions(ctx context.Context, key kycreview.APIKey, f kycreview.SessionFilter) ([]kycreview.Session, int, error) {
	f.ApplicationID = key.ApplicationID
	var out []kycreview.Session
	var count int
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		var err error
		out, count, err = tx.ListSessions(ctx, f)
		return err
	})
	return out, count, err
}

// DeleteSession soft-deletes a session: it disappears from the API, its
// audit rows stay.
func (s *Service) DeleteSession(ctx context.Context, key kycreview.APIKey, sessionID string) error {
	return s.onSession(ctx, key, sessionID, func(tx Tx) error {
		sess, err := lockVisible(ctx, tx, key.ApplicationID, sessionID, "")
		if err != nil {
			return err
		}
		return tx.DeleteSession(ctx, sess.PK, s.now().UTC())
	})
}

// findVisible returns the application's session with the given id if it is
// visible and, when kind is set, of that kind. Every miss is the same
// ErrSessionNotFound.
func findVisible(ctx context.Context, tx Tx, appID, id string, kind kycreview.Kind) (kycreview.Session, error) {
	return visible(ctx, tx.FindSession, appID, id, kind)
}

// lockVisible is findVisible holding the session's lock.
func lockVisible(ctx context.Context, tx Tx, appID, id string, kind kycreview.Kind) (kycreview.Session, error) {
	return visible(ctx, tx.LockSession, appID, id, kind)
}

func visible(ctx context.Context, find func(context.Context, string, string) (kycreview.Session, error), appID, id string, kind kycreview.Kind) (kycreview.Session, error) {
	id, ok := kycreview.CanonicalUUID(id)
	if !ok {
		return kycreview.Session{}, kycreview.ErrSessionNotFound
	}
	s, err := find(ctx, appID, id)
	if kycreview.ErrorCode(err) == kycreview.ENOTFOUND || (err == nil && kind != "" && s.Kind != kind) {
		return kycreview.Session{}, kycreview.ErrSessionNotFound
	}
	return s, err
}
