package service

import (
	"context"
	"time"

	"github.com/kycreview/kycreview"
)

// WebhookBacklog counts the webhook deliveries not made yet, for operators
// (metrics): the work the dispatchers owe, across every replica.
func (s *Service) WebhookBacklog(ctx context.Context) (kycreview.WebhookBacklog, error) {
	var b kycreview.WebhookBacklog
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		b, err = tx.WebhookBacklog(ctx)
		return err
	})
	return b, err
}

// PoolStats is a snapshot of one of a store's database connection pools.
type PoolStats struct {
	// Pool names it: "reader" and "writer" on SQLite, "main" on PostgreSQL.
	Pool    string
	MaxOpen int // the most connections it opens (0: no limit)
	Open    int // connections open (in use, idle or being opened)
	InUse   int
	Idle    int
	// WaitCount is how many times a caller had to wait for a connection
	// since the pool opened, and WaitDuration how long they waited in all.
	WaitCount    int64
	WaitDuration time.Duration
}

// PoolReporter is a Store that can describe its connection pools; both
// SQLite and PostgreSQL can.
type PoolReporter interface {
	PoolStats() []PoolStats
}

// PoolStats describes the store's connection pools, or returns nil if the
// store cannot.
func (s *Service) PoolStats() []PoolStats {
	if r, ok := s.store.(PoolReporter); ok {
		return r.PoolStats()
	}
	return nil
}
