package postgres

import (
	"context"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// WebhookBacklog reads the pending deliveries through the partial index on
// them: its cost grows with the backlog, not with the delivery log.
func (t *tx) WebhookBacklog(ctx context.Context) (kycreview.WebhookBacklog, error) {
	var b kycreview.WebhookBacklog
	err := t.q.QueryRow(ctx, `SELECT count(*) FILTER (WHERE active), min(created_at) FILTER (WHERE active), count(*) FILTER (WHERE NOT active)
		FROM (SELECT d.created_at, (w.enabled AND w.disabled_at IS NULL AND w.deleted_at IS NULL) AS active
			FROM webhook_deliveries d JOIN webhook_destinations w ON w.pk = d.destination_pk
			WHERE d.state = 'pending') p`).Scan(&b.Pending, &b.OldestPendingAt, &b.Held)
	if err != nil {
		return kycreview.WebhookBacklog{}, translate(err)
	}
	b.OldestPendingAt = utcPtr(b.OldestPendingAt)
	return b, nil
}

var _ service.PoolReporter = (*DB)(nil)

// PoolStats describes pgx's connection pool. Its waits are the acquires
// that found the pool empty.
func (db *DB) PoolStats() []service.PoolStats {
	s := db.pool.Stat()
	return []service.PoolStats{{Pool: "main", MaxOpen: int(s.MaxConns()), Open: int(s.TotalConns()), InUse: int(s.AcquiredConns()),
		Idle: int(s.IdleConns()), WaitCount: s.EmptyAcquireCount(), WaitDuration: s.EmptyAcquireWaitTime()}}
}
