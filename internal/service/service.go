package service

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Service runs kycreview's use cases over a Store.
type Service struct {
	store Store
	now   func() time.Time
	locks keyedMutex
	keys  keyCache

	webhooks   WebhookConfig
	deliveries chan struct{} // see DeliverySignal
	audit      auditConfig

	idempotencyTTL   time.Duration
	idempotencyLocks keyedMutex // requests with the same key, one at a time
}

// An Option changes a Service from its defaults.
type Option func(*Service)

// WithKeyCache makes the Service remember authenticated API keys for ttl
// (see keyCache for what that trades). Without it, or with ttl ≤ 0, every
// request looks its key up.
func WithKeyCache(ttl time.Duration) Option {
	return func(s *Service) { s.keys.ttl = ttl }
}

// New returns a Service over store. now is the clock (time.Now in
// production); tests inject their own.
func New(store Store, now func() time.Time, opts ...Option) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, now: now, deliveries: make(chan struct{}, 1), idempotencyTTL: DefaultIdempotencyTTL}
	s.keys.now = now
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ping reports whether the database can be reached.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// newID returns a new row's public id: a version 7 UUID, whose first 48
// bits are the time in milliseconds and the other 74 random. Ids made in
// time order go in at the end of the unique indexes on them, so a review's
// activity and event ids touch the same few index pages as the reviews
// committed with it; random version 4 ids each dirtied a page of their own
// at a random place, an extra page written to the WAL per row and index.
// The time an id carries is the row's created_at, which the API shows
// anyway; ids are names, not secrets: every access is checked against the
// caller's application.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
