package sqlite

import (
	"context"
	"database/sql"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

const webhookBacklogQuery = `SELECT coalesce(sum(active), 0), min(CASE WHEN active THEN created_at END), coalesce(sum(1 - active), 0)
	FROM (SELECT d.created_at, (w.enabled = 1 AND w.disabled_at IS NULL AND w.deleted_at IS NULL) AS active
		FROM webhook_deliveries d JOIN webhook_destinations w ON w.pk = d.destination_pk
		WHERE d.state = 'pending')`

// WebhookBacklog reads the pending deliveries through the partial index on
// them: its cost grows with the backlog, not with the delivery log.
func (t *tx) WebhookBacklog(ctx context.Context) (kycreview.WebhookBacklog, error) {
	var b kycreview.WebhookBacklog
	var oldest sql.NullInt64
	err := t.queryRow(ctx, webhookBacklogQuery).Scan(&b.Pending, &oldest, &b.Held)
	if err != nil {
		return kycreview.WebhookBacklog{}, translate(err)
	}
	b.OldestPendingAt = fromNullMicro(oldest)
	return b, nil
}

var _ service.PoolReporter = (*DB)(nil)

// PoolStats describes the reader pool and the writer's one connection.
func (db *DB) PoolStats() []service.PoolStats {
	stats := func(name string, p *sql.DB) service.PoolStats {
		s := p.Stats()
		return service.PoolStats{Pool: name, MaxOpen: s.MaxOpenConnections, Open: s.OpenConnections, InUse: s.InUse,
			Idle: s.Idle, WaitCount: s.WaitCount, WaitDuration: s.WaitDuration}
	}
	return []service.PoolStats{stats("reader", db.reader), stats("writer", db.writer)}
}
