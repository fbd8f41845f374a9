package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/kycreview/kycreview/internal/service"
)

// Idempotency keys (issue 9, item 7): how long serve keeps them, and the
// worker that purges the expired ones.

// maxIdempotencyTTL bounds the retention: keys are small, but one per write.
const maxIdempotencyTTL = 30 * 24 * time.Hour

// idempotencyPurgeInterval is how often serve purges expired idempotency
// keys. Expired keys are ignored whether purged or not; this only bounds
// the table.
const idempotencyPurgeInterval = 10 * time.Minute

// idempotencyFromEnv reads KYCREVIEW_IDEMPOTENCY_TTL.
func (c *config) idempotencyFromEnv(getenv func(string) string) error {
	if v := getenv("KYCREVIEW_IDEMPOTENCY_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return &usageError{fmt.Sprintf("KYCREVIEW_IDEMPOTENCY_TTL must be a duration such as 24h, not %q", v)}
		}
		c.IdempotencyTTL = d
	}
	return nil
}

// idempotencyFlags binds serve's --idempotency-ttl.
func idempotencyFlags(fs *flag.FlagSet, cfg *config) {
	fs.DurationVar(&cfg.IdempotencyTTL, "idempotency-ttl", cfg.IdempotencyTTL,
		"how long an Idempotency-Key is kept (and a retry replays its answer): at least 24h")
}

// validateIdempotency checks the retention: the API promises at least a day.
func (c *config) validateIdempotency() error {
	if c.IdempotencyTTL < service.DefaultIdempotencyTTL || c.IdempotencyTTL > maxIdempotencyTTL {
		return &usageError{fmt.Sprintf("idempotency TTL %s must be between 24h and 720h", c.IdempotencyTTL)}
	}
	return nil
}

// startIdempotencyPurger purges expired idempotency keys now and every
// idempotencyPurgeInterval, in small batches; the returned function stops
// it and waits. Replicas may all run one: each batch skips rows another
// holds.
func startIdempotencyPurger(ctx context.Context, svc *service.Service, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(idempotencyPurgeInterval)
		defer t.Stop()
		for {
			n, err := svc.PurgeIdempotencyKeys(ctx, 0)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Error("idempotency key purge", "err", err)
			case n > 0:
				log.Info("idempotency key purge", "deleted", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}
