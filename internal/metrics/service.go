package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// Source is what the scrape-time figures are read from: *service.Service.
type Source interface {
	WebhookBacklog(ctx context.Context) (kycreview.WebhookBacklog, error)
	NotificationBacklog(ctx context.Context) (kycreview.NotificationBacklog, error)
	PoolStats() []service.PoolStats
}

// DefaultScrapeTimeout bounds the database reads of one scrape.
const DefaultScrapeTimeout = 2 * time.Second

// WatchService registers the figures read from src at every scrape: the
// webhook and notification backlogs (database reads bounded by timeout;
// when they fail, kycreview_backlog_up is 0 and the backlog series are
// left out) and the database pools. now is the clock the ages are measured
// with (nil: time.Now).
func (m *Metrics) WatchService(src Source, timeout time.Duration, now func() time.Time, log *slog.Logger) {
	if timeout <= 0 {
		timeout = DefaultScrapeTimeout
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m.reg.MustRegister(&backlogCollector{src: src, timeout: timeout, now: now, log: log}, &poolCollector{src: src})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
}

var (
	backlogUp = desc("backlog_up",
		"1 if the webhook and notification backlogs could be read from the database at this scrape, else 0.")
	webhookPending = desc("webhook_deliveries_pending",
		"Webhook deliveries owed to active destinations: waiting for a dispatcher or for their next retry. The same figure on every replica.")
	webhookHeld = desc("webhook_deliveries_held",
		"Pending webhook deliveries of destinations that are paused, disabled for failing, or deleted: none is sent until the destination is active again.")
	webhookOldest = desc("webhook_oldest_pending_age_seconds",
		"Age of the oldest webhook delivery owed to an active destination, since its event; 0 when none is.")
	notificationsPending = desc("notifications_pending",
		"Mention notification emails not sent yet (waiting for a notifier, an SMTP server or a retry).")
	notificationsFailed = desc("notifications_failed",
		"Mention notification emails that gave up (refused, or out of retries): a person must look.")
	notificationOldest = desc("notification_oldest_pending_age_seconds",
		"Age of the oldest pending notification email; 0 when none is.")
)

// backlogCollector reads the backlogs at each scrape. The reads use the
// partial indexes on pending rows, so a scrape costs in proportion to the
// backlog, not to the history.
type backlogCollector struct {
	src     Source
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{backlogUp, webhookPending, webhookHeld, webhookOldest, notificationsPending, notificationsFailed, notificationOldest} {
		ch <- d
	}
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	age := func(t *time.Time) float64 {
		if t == nil {
			return 0
		}
		return max(0, c.now().Sub(*t).Seconds())
	}
	w, err := c.src.WebhookBacklog(ctx)
	if err != nil {
		c.log.Warn("metrics: reading the webhook backlog", "err", err)
		gauge(backlogUp, 0)
		return
	}
	n, err := c.src.NotificationBacklog(ctx)
	if err != nil {
		c.log.Warn("metrics: reading the notification backlog", "err", err)
		gauge(backlogUp, 0)
		return
	}
	gauge(backlogUp, 1)
	gauge(webhookPending, float64(w.Pending))
	gauge(webhookHeld, float64(w.Held))
	gauge(webhookOldest, age(w.OldestPendingAt))
	gauge(notificationsPending, float64(n.Pending))
	gauge(notificationsFailed, float64(n.Failed))
	gauge(notificationOldest, age(n.OldestPendingAt))
}

var (
	poolMax = desc("db_pool_max_open_connections",
		"The most connections the pool opens (0: no limit). Pools: reader and writer on SQLite, main on PostgreSQL.", "pool")
	poolOpen   = desc("db_pool_open_connections", "Connections the pool has open, in use or idle.", "pool")
	poolInUse  = desc("db_pool_in_use_connections", "Connections of the pool in use.", "pool")
	poolIdle   = desc("db_pool_idle_connections", "Idle connections of the pool.", "pool")
	poolWaits  = desc("db_pool_waits_total", "Times a caller waited for a connection of the pool because none was free.", "pool")
	poolWaited = desc("db_pool_wait_seconds_total", "Time callers spent waiting for a connection of the pool.", "pool")
)

// poolCollector reports the store's connection pools, read from memory.
type poolCollector struct{ src Source }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolMax, poolOpen, poolInUse, poolIdle, poolWaits, poolWaited} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.src.PoolStats() {
		ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(p.MaxOpen), p.Pool)
		ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(p.Open), p.Pool)
		ch <- prometheus.MustNewConstMetric(poolInUse, prometheus.GaugeValue, float64(p.InUse), p.Pool)
		ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(p.Idle), p.Pool)
		ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(p.WaitCount), p.Pool)
		ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, p.WaitDuration.Seconds(), p.Pool)
	}
}
