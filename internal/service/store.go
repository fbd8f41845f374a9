// Package service holds kycreview's use cases: each public method runs as one
// transaction over the small storage interface below, applying the domain's
// pure rules inside it. SQLite and PostgreSQL each implement Store; the logic
// exists once, here.
package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kycreview/kycreview"
)

// Store is a database kycreview can run on.
type Store interface {
	// ReadTx runs fn in a read-only transaction over one consistent snapshot.
	ReadTx(ctx context.Context, fn func(Tx) error) error
	// Read runs fn outside any transaction: each statement sees what was
	// committed when it runs. It is for reads that need no snapshot across
	// statements (one lookup, or a count and a page, which DRF reads
	// separately too) and saves the round trips of BEGIN and COMMIT on the
	// hottest paths. fn must only read.
	Read(ctx context.Context, fn func(Tx) error) error
	// WriteTx runs fn in a read-write transaction and commits it if fn
	// returns nil; otherwise nothing fn wrote is kept. It returns once the
	// outcome is durable. fn must not start another transaction: a backend
	// may run writes one at a time (SQLite does), and would wait for itself.
	WriteTx(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database can be reached.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Tx is what the services may do inside a transaction. Methods that look a
// single record up return an *kycreview.Error with code ENOTFOUND when it is
// missing, never a zero value and nil. An error from any Tx method ends the
// transaction (PostgreSQL aborts it): return it, never carry on after it.
type Tx interface {
	// CreateApplication stores a new application.
	CreateApplication(ctx context.Context, a kycreview.Application) error
	// FindApplication returns the application with the given id.
	FindApplication(ctx context.Context, id string) (kycreview.Application, error)
	// FindApplicationByName returns the oldest application with that name.
	FindApplicationByName(ctx context.Context, name string) (kycreview.Application, error)
	// CountApplications returns how many applications exist.
	CountApplications(ctx context.Context) (int, error)

	// CreateWorkflow stores a workflow.
	CreateWorkflow(ctx context.Context, w kycreview.Workflow) error
	// FindWorkflow returns the application's workflow with the given id.
	FindWorkflow(ctx context.Context, appID, id string) (kycreview.Workflow, error)

	// CreateAPIKey stores a key (its hash, never its secret).
	CreateAPIKey(ctx context.Context, k kycreview.APIKey) error
	// FindAPIKeyByLookup returns the key whose lookup prefix is lookup,
	// revoked or not.
	FindAPIKeyByLookup(ctx context.Context, lookup string) (kycreview.APIKey, error)
	// RevokeAPIKey marks the key revoked at the given time.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error

	// CreateConsoleUser stores a user; ECONFLICT if the email is taken in
	// any case.
	CreateConsoleUser(ctx context.Context, u kycreview.ConsoleUser) error
	// AddMember makes the user a member of the application.
	AddMember(ctx context.Context, appID, userID string, at time.Time) error
	// FindMembersByEmail returns the application's members whose lower-cased
	// email is one of emails (which are lower-case).
	FindMembersByEmail(ctx context.Context, appID string, emails []string) ([]kycreview.ConsoleUser, error)

	// CreateSession stores s, assigning its PK and the application's next
	// session number.
	CreateSession(ctx context.Context, s *kycreview.Session) error
	// FindSession returns the application's visible (not deleted) session.
	FindSession(ctx context.Context, appID, id string) (kycreview.Session, error)
	// LockSession is FindSession that also holds the session's row lock
	// until the transaction ends, so changes to one session are serialised.
	LockSession(ctx context.Context, appID, id string) (kycreview.Session, error)
	// FindSessionByPK returns a session by its row id, deleted or not, for
	// work owed on it after the fact (its webhook events).
	FindSessionByPK(ctx context.Context, pk int64) (kycreview.Session, error)
	// UpdateSession writes the session's status, activity count and last
	// activity time.
	UpdateSession(ctx context.Context, s kycreview.Session) error
	// DeleteSession soft-deletes the session.
	DeleteSession(ctx context.Context, pk int64, at time.Time) error
	// ListSessions returns one page of the filtered sessions, newest first,
	// and the total count.
	ListSessions(ctx context.Context, f kycreview.SessionFilter) ([]kycreview.Session, int, error)

	// InsertActivity appends a feed row, assigning its PK.
	InsertActivity(ctx context.Context, a *kycreview.Activity) error
	// ListActivities returns one page of the session's feed.
	ListActivities(ctx context.Context, sessionPK int64, q kycreview.FeedQuery) ([]kycreview.Activity, error)
	// FeedPage reads one page of the feed of session id (not deleted) of
	// application appID, with the session's kind and row count, in one
	// statement where it can: it is the API's busiest read. A missing
	// session is ENOTFOUND; the caller applies the kind rule.
	FeedPage(ctx context.Context, appID, id string, q kycreview.FeedQuery) (FeedPage, error)
	// ListStatusActivities returns the session's rows that carry a status,
	// oldest first.
	ListStatusActivities(ctx context.Context, sessionPK int64) ([]kycreview.Activity, error)

	// The audit chain (issue 8, docs/audit-chain.md). Storage keeps the
	// hashes the service computes (Activity.Hash, Session.ChainHead) and
	// the signed checkpoints.
	//
	// ListChainHeads returns up to limit sessions with pk > afterPK, deleted
	// or not, of application appID and with id sessionID (each filter off
	// when empty), in pk order, with their chain heads.
	ListChainHeads(ctx context.Context, appID, sessionID string, afterPK int64, limit int) ([]kycreview.ChainHead, error)
	// ListChainRows returns all of the session's rows in seq order, hashes
	// and entries included.
	ListChainRows(ctx context.Context, sessionPK int64) ([]kycreview.Activity, error)
	// ListCheckpoints returns the session's checkpoints in seq order.
	ListCheckpoints(ctx context.Context, sessionPK int64) ([]kycreview.Checkpoint, error)
	// TryLockCheckpoints takes, without waiting, the lock that lets one
	// process at a time write checkpoints, held until the transaction ends;
	// false means another process holds it.
	TryLockCheckpoints(ctx context.Context) (bool, error)
	// DueCheckpoints returns up to limit sessions with pk > afterPK whose
	// chains grew since their last checkpoint, in pk order.
	DueCheckpoints(ctx context.Context, afterPK int64, limit int) ([]kycreview.ChainHead, error)
	// InsertCheckpoint stores c unless the same key signed the same seq of
	// the session already (reporting whether it stored it), and records
	// that the session's chain is checkpointed up to c.Seq.
	InsertCheckpoint(ctx context.Context, c *kycreview.Checkpoint) (bool, error)

	// InsertOutboxEvent queues a webhook event and, with it, a pending
	// delivery (due at the event's time) for each of the application's
	// active destinations subscribed to the event's type.
	InsertOutboxEvent(ctx context.Context, e *kycreview.OutboxEvent) error

	// CreateDestination stores a new destination, assigning its PK; an
	// (application, url) pair already used by a live destination is
	// ECONFLICT.
	CreateDestination(ctx context.Context, d *kycreview.Destination) error
	// FindDestination returns the application's live (not deleted)
	// destination with the given id, or ENOTFOUND.
	FindDestination(ctx context.Context, appID, id string) (kycreview.Destination, error)
	// ListDestinations returns a page of the application's live
	// destinations, oldest first, and how many there are.
	ListDestinations(ctx context.Context, appID string, limit, offset int) ([]kycreview.Destination, int, error)
	// UpdateDestination writes every mutable field of d (by PK); a URL taken
	// by another live destination is ECONFLICT.
	UpdateDestination(ctx context.Context, d kycreview.Destination) error

	// ClaimDeliveries claims up to limit due deliveries of active
	// destinations (pending, next_attempt_at ≤ now, unclaimed or with an
	// expired claim, and first in their session's chain for their
	// destination) under claim until until, and returns them.
	ClaimDeliveries(ctx context.Context, now, until time.Time, claim string, limit int) ([]kycreview.ClaimedDelivery, error)
	// RecordAttempt appends attempt a of delivery d and, if d is still under
	// the claim d.Claim, moves it to d.State / d.Attempts / d.NextAttemptAt
	// / d.CompletedAt and releases the claim; it reports whether it did.
	// It also keeps the destination's health: a success ends its failing
	// streak; a failure starts one (at a.StartedAt) if none is running, and
	// disables the destination if its streak began before disableBefore
	// (zero: never).
	RecordAttempt(ctx context.Context, d kycreview.ClaimedDelivery, a *kycreview.Attempt, disableBefore time.Time) (bool, error)
	// ListDeliveries returns a page of a destination's deliveries, newest
	// first, each with its attempts, and how many there are.
	ListDeliveries(ctx context.Context, destPK int64, limit, offset int) ([]kycreview.Delivery, int, error)
	// RequeueDelivery makes the destination's delivery id pending again,
	// due at now, with its attempt count reset (its log is kept), and
	// returns it; ENOTFOUND if it is not the destination's.
	RequeueDelivery(ctx context.Context, destPK int64, id string, now time.Time) (kycreview.Delivery, error)
	// WebhookBacklog counts the pending deliveries of active destinations
	// (with the oldest one's creation time) and of inactive ones.
	WebhookBacklog(ctx context.Context) (kycreview.WebhookBacklog, error)
	// FindOutboxEvent returns the event with the given id.
	FindOutboxEvent(ctx context.Context, id string) (kycreview.OutboxEvent, error)
	// InsertNotification queues a mention notification.
	InsertNotification(ctx context.Context, n *kycreview.Notification) error

	// Console users and notification delivery (issue 6). Users are looked
	// up by id or by lower-cased email; a missing one is ENOTFOUND.
	//
	// FindConsoleUser returns the user with the given id.
	FindConsoleUser(ctx context.Context, id string) (kycreview.ConsoleUser, error)
	// FindConsoleUserByEmail returns the user whose lower-cased email is
	// email (which is lower-case).
	FindConsoleUserByEmail(ctx context.Context, email string) (kycreview.ConsoleUser, error)
	// ListConsoleUsers returns every user, or with appID only that
	// application's members, oldest first, each with their applications.
	ListConsoleUsers(ctx context.Context, appID string) ([]kycreview.ConsoleUserListing, error)
	// SetPasswordHash stores the user's encoded password hash.
	SetPasswordHash(ctx context.Context, userID, hash string) error
	// PasswordHash returns the user's encoded password hash, "" if none.
	PasswordHash(ctx context.Context, userID string) (string, error)
	// DisableConsoleUser marks the user disabled at at (keeping an earlier
	// time) and skips their pending notifications; it returns how many.
	DisableConsoleUser(ctx context.Context, userID string, at time.Time) (int, error)
	// RemoveMember ends the user's membership of the application and skips
	// their pending notifications from it; ENOTFOUND if not a member.
	RemoveMember(ctx context.Context, appID, userID string) error
	// ClaimNotifications claims up to limit due notifications (pending,
	// next attempt due or never tried, unclaimed or with an expired claim),
	// oldest first, under claim until until, and returns them. Concurrent
	// claims never return the same row.
	ClaimNotifications(ctx context.Context, now, until time.Time, claim string, limit int) ([]kycreview.ClaimedNotification, error)
	// RecordNotification applies o if its notification is still pending
	// under o.Claim, releasing the claim; it reports whether it did.
	RecordNotification(ctx context.Context, o kycreview.NotificationOutcome) (bool, error)
	// ListNotifications returns a page of the user's notifications, newest
	// first, on sessions that still exist in applications the user still
	// belongs to, with how many there are and how many are unread.
	ListNotifications(ctx context.Context, userID string, limit, offset int) (page []kycreview.InboxNotification, count, unread int, err error)
	// MarkNotificationsRead marks the user's unread notifications with the
	// given ids (all of them when ids is empty) read at at; it returns how
	// many it marked.
	MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error)
	// NotificationBacklog counts the notifications whose email is pending
	// or has failed.
	NotificationBacklog(ctx context.Context) (kycreview.NotificationBacklog, error)

	// The reviewers' console (issue 7): its sign-ins, and the sessions of
	// the applications a console user belongs to.
	//
	// CreateConsoleSession stores a sign-in.
	CreateConsoleSession(ctx context.Context, cs ConsoleSession) error
	// FindConsoleSession returns the sign-in whose token hash is tokenHash,
	// expired or not, or ENOTFOUND.
	FindConsoleSession(ctx context.Context, tokenHash string) (ConsoleSession, error)
	// DeleteConsoleSession ends a sign-in; a missing one is no error.
	DeleteConsoleSession(ctx context.Context, tokenHash string) error
	// DeleteExpiredConsoleSessions removes sign-ins that expired before now.
	DeleteExpiredConsoleSessions(ctx context.Context, now time.Time) (int, error)
	// ListMemberships returns the applications the user belongs to, by name.
	ListMemberships(ctx context.Context, userID string) ([]kycreview.Application, error)
	// ConsoleQueue returns one page of the visible sessions, of either kind,
	// of the applications the user belongs to that have status st, newest
	// first, and how many there are.
	ConsoleQueue(ctx context.Context, userID string, st kycreview.Status, limit, offset int) ([]kycreview.Session, int, error)
	// ConsoleStatusCounts counts those sessions per status.
	ConsoleStatusCounts(ctx context.Context, userID string) (map[kycreview.Status]int, error)

	// Idempotency keys (idempotency.go).
	//
	// InsertIdempotencyRecord stores rec unless rec's API key already has a
	// record of rec.Key created at or after expiredBefore; an older one is
	// replaced. It reports whether it stored rec. A record of the same key
	// written by a transaction still open makes it wait for that
	// transaction's outcome.
	InsertIdempotencyRecord(ctx context.Context, rec IdempotencyRecord, expiredBefore time.Time) (bool, error)
	// FindIdempotencyRecord returns the API key's record of key, expired or
	// not, or ENOTFOUND.
	FindIdempotencyRecord(ctx context.Context, apiKeyID, key string) (IdempotencyRecord, error)
	// DeleteIdempotencyRecords deletes up to limit records created before
	// createdBefore, oldest first, and returns how many it deleted.
	DeleteIdempotencyRecords(ctx context.Context, createdBefore time.Time, limit int) (int, error)
}

// FeedPage is a page of a session's feed as Tx.FeedPage reads it: the
// rendered entries (Activity.Entry), which are all the API sends, and what
// the service needs to know of the session.
type FeedPage struct {
	Kind    kycreview.Kind
	Count   int // the session's row count, for DRF's "count"
	Entries []json.RawMessage
}
