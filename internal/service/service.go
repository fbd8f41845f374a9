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
}

// New returns a Service over store. now is the clock (time.Now in
// production); tests inject their own.
func New(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// Ping reports whether the database can be reached.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

func newID() string { return uuid.NewString() }
