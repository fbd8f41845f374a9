// Package audit holds the audit trail's tools around the service: the
// worker that signs chain heads periodically, and the JSONL export with its
// offline verification (docs/audit-chain.md).
package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/kycreview/kycreview/internal/service"
)

// DefaultInterval is how often serve signs the chains that changed.
const DefaultInterval = time.Minute

// Checkpointer signs, every Interval, the head of every chain that grew
// since its last checkpoint (Service.Checkpoint). Several replicas may run
// one each: the service's lock lets one of them do a batch at a time, and a
// head is never stored twice.
type Checkpointer struct {
	Svc      *service.Service
	Interval time.Duration
	Log      *slog.Logger
}

// Run signs at once, then every Interval, until ctx ends. A failed round is
// logged and the next one tries again: it resumes where the chains are.
func (c *Checkpointer) Run(ctx context.Context) error {
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		n, err := c.Svc.Checkpoint(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			c.Log.Error("audit checkpoint", "err", err)
		case n > 0:
			c.Log.Info("audit checkpoint", "signed", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
