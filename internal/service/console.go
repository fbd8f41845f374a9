package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
)

// ConsoleSession is a console sign-in as storage keeps it: the SHA-256 of
// the cookie's token (never the token), whose it is, and the CSRF token its
// forms must carry.
type ConsoleSession struct {
	TokenHash string
	UserID    string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ErrConsoleSignedOut is the answer for a console cookie that signs nobody
// in: unknown, expired, signed out, or its user disabled.
var ErrConsoleSignedOut = &kycreview.Error{Code: kycreview.EFORBIDDEN, Message: "not signed in"}

// randomToken returns 32 random bytes, URL-safe base64.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// ConsoleSignIn checks email and password (SignIn) and starts a console
// sign-in lasting ttl. It returns the token for the cookie; only its hash
// is stored. Expired sign-ins are swept on the way.
func (s *Service) ConsoleSignIn(ctx context.Context, email, password string, ttl time.Duration) (string, kycreview.ConsoleUser, error) {
	u, err := s.SignIn(ctx, email, password)
	if err != nil {
		return "", kycreview.ConsoleUser{}, err
	}
	now := s.now().UTC()
	token := randomToken()
	cs := ConsoleSession{TokenHash: hashToken(token), UserID: u.ID, CSRF: randomToken(), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err = s.store.WriteTx(ctx, func(tx Tx) error {
		if _, err := tx.DeleteExpiredConsoleSessions(ctx, now); err != nil {
			return err
		}
		return tx.CreateConsoleSession(ctx, cs)
	})
	if err != nil {
		return "", kycreview.ConsoleUser{}, err
	}
	return token, u, nil
}

// ConsoleAuth returns the user a console cookie's token signs in, and the
// sign-in (for its CSRF token). Any token that does not sign an enabled
// user in is ErrConsoleSignedOut.
func (s *Service) ConsoleAuth(ctx context.Context, token string) (kycreview.ConsoleUser, ConsoleSession, error) {
	if token == "" {
		return kycreview.ConsoleUser{}, ConsoleSession{}, ErrConsoleSignedOut
	}
	var cs ConsoleSession
	var u kycreview.ConsoleUser
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		if cs, err = tx.FindConsoleSession(ctx, hashToken(token)); err != nil {
			return err
		}
		u, err = tx.FindConsoleUser(ctx, cs.UserID)
		return err
	})
	if kycreview.ErrorCode(err) == kycreview.ENOTFOUND {
		return kycreview.ConsoleUser{}, ConsoleSession{}, ErrConsoleSignedOut
	} else if err != nil {
		return kycreview.ConsoleUser{}, ConsoleSession{}, err
	}
	if !s.now().Before(cs.ExpiresAt) || u.DisabledAt != nil {
		return kycreview.ConsoleUser{}, ConsoleSession{}, ErrConsoleSignedOut
	}
	return u, cs, nil
}

// ConsoleSignOut ends the sign-in of token, if there is one.
func (s *Service) ConsoleSignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return s.store.WriteTx(ctx, func(tx Tx) error { return tx.DeleteConsoleSession(ctx, hashToken(token)) })
}

// Queue is a page of the console's queue.
type Queue struct {
	Sessions []kycreview.Session
	Count    int                      // sessions with the status asked for
	Counts   map[kycreview.Status]int // per status, over all the user's applications
	Apps     map[string]string        // application id → name, of the user's applications
}

// ConsoleQueue returns one page of the sessions with status st in the
// applications the user belongs to, newest first, with the counts per
// status.
func (s *Service) ConsoleQueue(ctx context.Context, userID string, st kycreview.Status, limit, offset int) (Queue, error) {
	var q Queue
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		apps, err := tx.ListMemberships(ctx, userID)
		if err != nil {
			return err
		}
		q.Apps = make(map[string]string, len(apps))
		for _, a := range apps {
			q.Apps[a.ID] = a.Name
		}
		if q.Counts, err = tx.ConsoleStatusCounts(ctx, userID); err != nil {
			return err
		}
		q.Sessions, q.Count, err = tx.ConsoleQueue(ctx, userID, st, max(limit, 0), max(offset, 0))
		return err
	})
	return q, err
}

// ConsoleView is a session as the console's session page shows it.
type ConsoleView struct {
	Session     kycreview.Session
	Application kycreview.Application
	Workflow    kycreview.Workflow
	// Entries are the feed's rows, newest first, exactly as the API renders
	// them; FeedCount is how many rows the feed has in all.
	Entries   []json.RawMessage
	FeedCount int
	// Members are the application's enabled console users: who may be
	// @mentioned.
	Members []kycreview.ConsoleUser
}

// consoleFeedLimit is how many feed rows the session page shows.
const consoleFeedLimit = 500

// findConsoleSession returns the visible session id, of either kind, if it
// belongs to one of the applications the user is a member of, with that
// application. Every miss is ErrSessionNotFound, so a console user cannot
// tell another tenant's session from no session.
func findConsoleSession(ctx context.Context, tx Tx, userID, id string, lock bool) (kycreview.Session, kycreview.Application, error) {
	id, ok := kycreview.CanonicalUUID(id)
	if !ok {
		return kycreview.Session{}, kycreview.Application{}, kycreview.ErrSessionNotFound
	}
	apps, err := tx.ListMemberships(ctx, userID)
	if err != nil {
		return kycreview.Session{}, kycreview.Application{}, err
	}
	find := tx.FindSession
	if lock {
		find = tx.LockSession
	}
	for _, a := range apps {
		// A session id is unique over all applications, so at most one
		// lookup finds it; each is one primary-key probe.
		sess, err := find(ctx, a.ID, id)
		if kycreview.ErrorCode(err) == kycreview.ENOTFOUND {
			continue
		} else if err != nil {
			return kycreview.Session{}, kycreview.Application{}, err
		}
		return sess, a, nil
	}
	return kycreview.Session{}, kycreview.Application{}, kycreview.ErrSessionNotFound
}

// ConsoleSession returns the session page of session id for the user:
// ErrSessionNotFound unless it is in one of their applications.
func (s *Service) ConsoleSession(ctx context.Context, userID, id string) (ConsoleView, error) {
	var v ConsoleView
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		var err error
		if v.Session, v.Application, err = findConsoleSession(ctx, tx, userID, id, false); err != nil {
			return err
		}
		if v.Workflow, err = tx.FindWorkflow(ctx, v.Application.ID, v.Session.WorkflowID); err != nil {
			return err
		}
		page, err := tx.FeedPage(ctx, v.Application.ID, v.Session.ID,
			kycreview.FeedQuery{Ordering: kycreview.DefaultFeedOrdering(), Limit: consoleFeedLimit})
		if err != nil {
			return err
		}
		v.Entries, v.FeedCount = page.Entries, page.Count
		members, err := tx.ListConsoleUsers(ctx, v.Application.ID)
		if err != nil {
			return err
		}
		for _, m := range members {
			if m.User.DisabledAt == nil {
				v.Members = append(v.Members, m.User)
			}
		}
		return nil
	})
	return v, err
}

// ConsoleReview records a console user's action on a session: a new status
// (Approved, Declined or In Review) with an optional comment, written as
// STATUS_UPDATED, or a comment alone (newStatus nil), written as COMMENT.
// It goes through the same write path as the API (apply): one transaction
// with the session locked, the webhook queued on a status change, the
// mentions notified. The user must belong to the session's application
// (ErrSessionNotFound otherwise) and be enabled.
func (s *Service) ConsoleReview(ctx context.Context, u kycreview.ConsoleUser, sessionID string, newStatus *kycreview.Status, comment string) (kycreview.Activity, error) {
	if u.DisabledAt != nil {
		return kycreview.Activity{}, ErrConsoleSignedOut
	}
	c := kycreview.Change{Actor: kycreview.ConsoleUserActor(u), NewStatus: newStatus}
	if newStatus != nil && !newStatus.In(kycreview.ReviewStatuses()) {
		return kycreview.Activity{}, kycreview.Errorf(kycreview.EINVALID, "a review must set Approved, Declined or In Review")
	}
	if text := kycreview.TrimSpace(comment); text != "" {
		if msgs := kycreview.CharFieldErrors(text, kycreview.MaxCommentLength); msgs != nil {
			return kycreview.Activity{}, kycreview.Errorf(kycreview.EINVALID, "comment: %s", strings.Join(msgs, " "))
		}
		c.Comment = &text
	}
	if newStatus == nil {
		if c.Comment == nil {
			return kycreview.Activity{}, kycreview.Errorf(kycreview.EINVALID, "write a comment or choose a status")
		}
		c.ActivityType = kycreview.ActivityComment
	}
	id, ok := kycreview.CanonicalUUID(sessionID)
	if !ok {
		return kycreview.Activity{}, kycreview.ErrSessionNotFound
	}
	// The same per-session queue as the API's writes (onSession), keyed by
	// the session id alone: the application is only known inside the
	// transaction, and ids are unique across applications.
	unlock, err := s.locks.lock(ctx, "console/"+id)
	if err != nil {
		return kycreview.Activity{}, err
	}
	defer unlock()
	var row kycreview.Activity
	err = s.store.WriteTx(ctx, func(tx Tx) error {
		sess, _, err := findConsoleSession(ctx, tx, u.ID, id, true)
		if err != nil {
			return err
		}
		row, err = s.apply(ctx, tx, sess, c)
		return err
	})
	if err != nil {
		return kycreview.Activity{}, err
	}
	if newStatus != nil {
		s.signalDeliveries()
	}
	return row, nil
}
