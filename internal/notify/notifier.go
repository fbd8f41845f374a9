package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kycreview/kycreview"
)

// Service is what the notifier needs of the service layer.
type Service interface {
	ClaimNotifications(ctx context.Context, lease time.Duration, limit int) ([]kycreview.ClaimedNotification, error)
	RecordNotifications(ctx context.Context, outcomes []kycreview.NotificationOutcome) (int, error)
	NotificationBacklog(ctx context.Context) (kycreview.NotificationBacklog, error)
}

// Sender sends one email.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Notifier sends due notification emails: it claims a batch (a lease, so a
// crashed notifier's rows come back), sends each, and records the batch's
// outcomes in one transaction.
type Notifier struct {
	Svc    Service
	Sender Sender
	// PublicURL is where the console is reached, for the session links.
	PublicURL string
	// Permanent tells a permanent failure from a transient one; nil uses
	// the package's Permanent (5xx SMTP replies).
	Permanent func(error) bool
	Backoff   Backoff
	// Workers is how many emails are sent at once; Lease how long a claim
	// lasts (it must cover a send and its recording); Poll how often the
	// database is asked for due work; Grace how long sends in flight may
	// run on after shutdown begins; BacklogEvery how often a backlog is
	// logged.
	Workers      int
	Lease        time.Duration
	Poll         time.Duration
	Grace        time.Duration
	BacklogEvery time.Duration
	Now          func() time.Time
	Log          *slog.Logger
	// Metrics, when set, is told of every notification handled.
	Metrics SendObserver
}

// SendResult is what became of a claimed notification, as the metrics
// count it.
type SendResult string

// The results of a send.
const (
	SendSent    SendResult = "sent"    // the SMTP server took the email
	SendRetry   SendResult = "retry"   // a temporary failure: it will be tried again
	SendFailed  SendResult = "failed"  // refused for good, or out of retries: a person must look
	SendSkipped SendResult = "skipped" // not sent: its user was disabled or left the application
)

// SendResults lists every SendResult, for metrics to start at zero.
var SendResults = []SendResult{SendSent, SendRetry, SendFailed, SendSkipped}

// SendObserver is told of every notification the notifier handled (not
// those cut off by shutdown).
type SendObserver interface {
	ObserveSend(result SendResult)
}

// Defaults of Notifier's knobs.
const (
	DefaultWorkers      = 4
	DefaultPoll         = time.Second
	DefaultGrace        = 10 * time.Second
	DefaultBacklogEvery = time.Minute
)

// LeaseFor is the claim a send with the given timeout needs: twice the
// timeout (connecting, then the exchange), and time to record the outcome.
// A notifier killed mid-send leaves its rows to come back this late.
func LeaseFor(timeout time.Duration) time.Duration { return 2*timeout + 5*time.Second }

func (n *Notifier) defaults() {
	if n.Workers <= 0 {
		n.Workers = DefaultWorkers
	}
	if n.Poll <= 0 {
		n.Poll = DefaultPoll
	}
	if n.Grace <= 0 {
		n.Grace = DefaultGrace
	}
	if n.Lease <= 0 {
		n.Lease = LeaseFor(DefaultSMTPTimeout)
	}
	if n.BacklogEvery <= 0 {
		n.BacklogEvery = DefaultBacklogEvery
	}
	if n.Backoff.Attempts <= 0 {
		n.Backoff = DefaultBackoff
	}
	if n.Permanent == nil {
		n.Permanent = Permanent
	}
	if n.Now == nil {
		n.Now = time.Now
	}
	if n.Log == nil {
		n.Log = slog.New(slog.DiscardHandler)
	}
}

// Run sends until ctx ends, then stops claiming, lets the sends in flight
// finish (at most Grace), records their outcomes and returns. Sends cut
// off by the grace period are not recorded: their claims expire and they
// are sent again, which at-least-once delivery allows.
func (n *Notifier) Run(ctx context.Context) error {
	n.defaults()
	var reporter sync.WaitGroup
	defer reporter.Wait() // it reads the database, which closes after Run
	reporter.Go(func() { ReportBacklog(ctx, n.Svc, n.BacklogEvery, n.Log, slog.LevelInfo, "") })
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		}
		// Claim a batch the size of the worker pool, and go on while every
		// claim comes back full.
		for ctx.Err() == nil {
			claimed, err := n.Svc.ClaimNotifications(ctx, n.Lease, n.Workers)
			if err != nil {
				if ctx.Err() == nil {
					n.Log.Error("notification claim", "err", err)
				}
				break
			}
			if len(claimed) == 0 {
				break
			}
			n.record(n.sendAll(ctx, claimed))
			if len(claimed) < n.Workers {
				break
			}
		}
		poll.Reset(n.Poll)
	}
}

// sendAll sends the claimed notifications concurrently and returns the
// outcomes of those that finished. Once ctx ends they get Grace more; the
// ones still running then are abandoned (their goroutines end at the SMTP
// timeout) and left to their claims' expiry.
func (n *Notifier) sendAll(ctx context.Context, claimed []kycreview.ClaimedNotification) []kycreview.NotificationOutcome {
	sendCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var mu sync.Mutex
	var out []kycreview.NotificationOutcome
	var wg sync.WaitGroup
	for _, c := range claimed {
		wg.Go(func() {
			o := n.deliver(sendCtx, c)
			if sendCtx.Err() != nil {
				return // cut off by shutdown: must not count
			}
			mu.Lock()
			out = append(out, o)
			mu.Unlock()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done:
		case <-time.After(n.Grace):
			cancel()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return out
}

// deliver sends one notification's email and says what became of it.
func (n *Notifier) deliver(ctx context.Context, c kycreview.ClaimedNotification) kycreview.NotificationOutcome {
	o, result := n.send(ctx, c)
	if n.Metrics != nil && ctx.Err() == nil {
		n.Metrics.ObserveSend(result)
	}
	return o
}

func (n *Notifier) send(ctx context.Context, c kycreview.ClaimedNotification) (kycreview.NotificationOutcome, SendResult) {
	o := kycreview.NotificationOutcome{PK: c.PK, Claim: c.Claim, Attempts: c.Attempts}
	if c.SkipReason != "" {
		o.State, o.LastError = kycreview.NotificationSkipped, c.SkipReason
		return o, SendSkipped
	}
	start := n.Now().UTC()
	o.Attempts, o.AttemptedAt = c.Attempts+1, &start
	m, err := Render(c, n.PublicURL)
	if err == nil {
		err = n.Sender.Send(ctx, m)
	}
	end := n.Now().UTC()
	switch {
	case err == nil:
		o.State, o.SentAt = kycreview.NotificationSent, &end
		n.Log.Info("notification sent", "notification", c.ID, "session", c.SessionID, "attempt", o.Attempts)
		return o, SendSent
	case n.Permanent(err):
		o.State, o.LastError = kycreview.NotificationFailed, err.Error()
		n.Log.Warn("notification refused by the SMTP server", "notification", c.ID, "attempt", o.Attempts, "err", err)
		return o, SendFailed
	}
	o.LastError = err.Error()
	if next, ok := n.Backoff.Next(o.Attempts, end); ok {
		o.State, o.NextAttemptAt = kycreview.NotificationPending, &next
		n.Log.Warn("notification send failed; will retry", "notification", c.ID, "attempt", o.Attempts, "next", next, "err", err)
		return o, SendRetry
	}
	o.State = kycreview.NotificationFailed
	n.Log.Error("notification send failed; giving up", "notification", c.ID, "attempts", o.Attempts, "err", err)
	return o, SendFailed
}

// record writes a batch's outcomes; it must outlive shutdown's
// cancellation, or finished sends would be repeated.
func (n *Notifier) record(outcomes []kycreview.NotificationOutcome) {
	if len(outcomes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.Svc.RecordNotifications(ctx, outcomes); err != nil {
		n.Log.Error("notification record", "err", err, "outcomes", len(outcomes))
	}
}

// BacklogReader counts the notifications still owed.
type BacklogReader interface {
	NotificationBacklog(ctx context.Context) (kycreview.NotificationBacklog, error)
}

// ReportBacklog logs the notification backlog at level every interval
// until ctx ends, whenever there is one: pending emails, and failed ones
// that need a person to look. why, when set, says why the backlog grows
// (no SMTP server configured).
func ReportBacklog(ctx context.Context, svc BacklogReader, every time.Duration, log *slog.Logger, level slog.Level, why string) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		b, err := svc.NotificationBacklog(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Error("notification backlog", "err", err)
		case b.Pending > 0 || b.Failed > 0:
			attrs := []any{"pending", b.Pending, "failed", b.Failed}
			if b.OldestPendingAt != nil {
				attrs = append(attrs, "oldest_pending_at", b.OldestPendingAt.Format(time.RFC3339))
			}
			if why != "" {
				attrs = append(attrs, "reason", why)
			}
			log.Log(ctx, level, "notification backlog", attrs...)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
