package webhook

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// Service is what the dispatcher needs of the service layer.
type Service interface {
	ClaimDeliveries(ctx context.Context, lease time.Duration, limit int) ([]kycreview.ClaimedDelivery, error)
	RecordAttempts(ctx context.Context, results []service.AttemptResult, disableBefore time.Time) (int, error)
	EventBodies(ctx context.Context, eventIDs []string) (map[string][]byte, map[string]error, error)
	DeliverySignal() <-chan struct{}
}

// Dispatcher sends due deliveries: it claims them (a lease, so a crashed
// dispatcher's rows come back), POSTs each signed body, and records every
// attempt and the delivery's next state. Several dispatchers may share one
// PostgreSQL database: a row is claimed by one of them at a time.
type Dispatcher struct {
	Svc    Service
	Client *http.Client // sends the requests; Guard.Client in production
	// Schedule decides retries; DisableAfter (0: never) disables a
	// destination failing without a break for that long.
	Schedule     Schedule
	DisableAfter time.Duration
	// Workers is how many attempts run at once; Lease how long a claim
	// lasts (it must cover an attempt and its recording); Poll how often
	// the database is asked for due work when nothing signals it; Grace
	// how long in-flight attempts may run on after shutdown begins.
	Workers int
	Lease   time.Duration
	Poll    time.Duration
	Grace   time.Duration
	Now     func() time.Time
	Log     *slog.Logger
	// Metrics, when set, is told of every attempt's result and latency.
	Metrics AttemptObserver
}

// AttemptObserver is told of every delivery attempt that counts (not those
// cut off by shutdown): its Result and how long it took.
type AttemptObserver interface {
	ObserveAttempt(result Result, latency time.Duration)
}

// Defaults of Dispatcher's knobs.
const (
	DefaultWorkers = 64
	DefaultPoll    = time.Second
	DefaultGrace   = 10 * time.Second
)

// maxRecordBatch bounds how many outcomes one transaction records.
const maxRecordBatch = 256

// maxDrain is how much of a response body is read (and thrown away) after
// its head, so the connection can be reused; beyond it the connection is
// closed instead.
const maxDrain = 64 << 10

func (d *Dispatcher) defaults() {
	if d.Workers <= 0 {
		d.Workers = DefaultWorkers
	}
	if d.Poll <= 0 {
		d.Poll = DefaultPoll
	}
	if d.Grace <= 0 {
		d.Grace = DefaultGrace
	}
	if d.Lease <= 0 {
		timeout := DefaultTimeout
		if d.Client != nil && d.Client.Timeout > 0 {
			timeout = d.Client.Timeout
		}
		// A queued delivery may wait for one attempt before its own, then
		// be recorded: three times the attempt's limit and 5 s cover it. A
		// claim that outlives its dispatcher (killed mid-send) comes back
		// this late.
		d.Lease = 3*timeout + 5*time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	// Keep a connection per worker to a receiver that gets all the work,
	// instead of closing those above the transport's idle limit after each
	// answer and dialing again.
	if d.Client != nil {
		if t, ok := d.Client.Transport.(*http.Transport); ok && t.MaxIdleConnsPerHost < d.Workers {
			t = t.Clone()
			t.MaxIdleConnsPerHost = d.Workers
			t.MaxIdleConns = max(t.MaxIdleConns, d.Workers)
			c := *d.Client
			c.Transport = t
			d.Client = &c
		}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
}

// Run dispatches until ctx ends, then stops claiming, lets the attempts
// in flight and queued finish (at most Grace), records their outcomes and
// returns. Attempts cut off by the grace period are not recorded: their
// claims expire and they are sent again, which at-least-once delivery
// allows.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.defaults()
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()

	results := make(chan service.AttemptResult, d.Workers)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		d.record(results)
	}()

	// Workers take claimed deliveries from a local queue holding up to
	// two rounds of work, so a claim (a write transaction) is made for
	// many rows at a time, ahead of need, not for each worker that frees.
	type job struct {
		c       kycreview.ClaimedDelivery
		body    []byte
		bodyErr error
	}
	queue := make(chan job, 2*d.Workers)
	wake := make(chan struct{}, 1)
	var inflight sync.WaitGroup
	for range d.Workers {
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			for j := range queue {
				if len(queue) <= d.Workers {
					select { // room for another round: look for more work
					case wake <- struct{}{}:
					default:
					}
				}
				if sendCtx.Err() != nil {
					continue // cut off: its claim expires and it is sent again
				}
				if r, ok := d.attempt(sendCtx, j.c, j.body, j.bodyErr); ok {
					results <- r
				}
			}
		}()
	}
	poll := time.NewTimer(0)
	defer poll.Stop()

loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-d.Svc.DeliverySignal():
		case <-wake:
		case <-poll.C:
		}
		// Fill the queue, and go on while every claim comes back full.
		for {
			n := cap(queue) - len(queue)
			if n < d.Workers/2+1 || ctx.Err() != nil {
				break
			}
			claimed, err := d.Svc.ClaimDeliveries(ctx, d.Lease, n)
			if err != nil {
				if ctx.Err() == nil {
					d.Log.Error("webhook claim", "err", err)
				}
				break
			}
			bodies, bodyErrs := d.render(ctx, claimed)
			for _, c := range claimed {
				queue <- job{c: c, body: bodies[c.EventID], bodyErr: bodyErrs[c.EventID]}
			}
			if len(claimed) < n {
				break
			}
		}
		poll.Reset(d.Poll)
	}
	close(queue)

	// Shutdown: let the attempts in flight finish, within the grace.
	done := make(chan struct{})
	go func() { inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.Grace):
		cancelSends()
		<-done
	}
	close(results)
	<-recorded
	return nil
}

// record writes outcomes in batches, each as one transaction: whatever has
// arrived while the previous batch was being written.
func (d *Dispatcher) record(results <-chan service.AttemptResult) {
	batch := make([]service.AttemptResult, 0, maxRecordBatch)
	for r := range results {
		batch = append(batch[:0], r)
	collect:
		for len(batch) < maxRecordBatch {
			select {
			case r, ok := <-results:
				if !ok {
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		var disableBefore time.Time
		if d.DisableAfter > 0 {
			disableBefore = d.Now().Add(-d.DisableAfter)
		}
		// Recording must outlive shutdown's cancellation: an outcome not
		// recorded is sent again once its claim expires.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := d.Svc.RecordAttempts(ctx, batch, disableBefore); err != nil {
			d.Log.Error("webhook record", "err", err, "attempts", len(batch))
		}
		cancel()
	}
}

// render renders the bodies of a claimed batch in one read. A failure is
// each delivery's: it is recorded as a failed attempt and retried.
func (d *Dispatcher) render(ctx context.Context, claimed []kycreview.ClaimedDelivery) (map[string][]byte, map[string]error) {
	ids := make([]string, len(claimed))
	for i, c := range claimed {
		ids[i] = c.EventID
	}
	bodies, errs, err := d.Svc.EventBodies(ctx, ids)
	if err != nil {
		errs = make(map[string]error, len(ids))
		for _, id := range ids {
			errs[id] = err
		}
	}
	return bodies, errs
}

// attempt sends c's body once and returns its outcome; false when the
// attempt was cut off by shutdown and must not count.
func (d *Dispatcher) attempt(ctx context.Context, c kycreview.ClaimedDelivery, body []byte, bodyErr error) (service.AttemptResult, bool) {
	a := kycreview.Attempt{Number: c.Attempts + 1, StartedAt: d.Now().UTC()}
	var status int
	var head string
	var err error
	if bodyErr != nil {
		err = &localError{"render event: " + bodyErr.Error()}
	} else {
		status, head, err = d.post(ctx, c, body, a.StartedAt)
	}
	a.Latency = d.Now().Sub(a.StartedAt)
	if ctx.Err() != nil {
		return service.AttemptResult{}, false
	}
	if status != 0 {
		a.StatusCode = &status
	}
	a.ResponseHead = head
	if d.Metrics != nil {
		d.Metrics.ObserveAttempt(classify(status, err), a.Latency)
	}
	switch {
	case err != nil:
		a.Error = redactURL(err.Error(), c.URL)
	case !Succeeded(status):
		a.Error = "HTTP " + http.StatusText(status)
		if a.Error == "HTTP " {
			a.Error = "HTTP status outside 2xx"
		}
	}
	r := service.AttemptResult{Delivery: c, Attempt: a}
	if !a.Succeeded() {
		if next, ok := d.Schedule.Next(a.Number, a.StartedAt.Add(a.Latency)); ok {
			r.Next = next
		}
	}
	return r, true
}

// post sends the delivery's signed body and returns the status code (0 if
// no answer came), the head of the response body, and the transport error,
// as the client returned it (for classify; its text may hold the URL).
func (d *Dispatcher) post(ctx context.Context, c kycreview.ClaimedDelivery, body []byte, at time.Time) (int, string, error) {
	h, err := Sign(c.Secret, c.EventID, body, at)
	if err != nil {
		return 0, "", &localError{"sign event: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", &localError{err.Error()}
	}
	req.Header = h
	resp, err := d.Client.Do(req)
	if err != nil {
		return 0, "", err // its text is redacted when it is recorded
	}
	defer resp.Body.Close()
	buf, readErr := io.ReadAll(io.LimitReader(resp.Body, kycreview.MaxResponseHead))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	head := strings.ToValidUTF8(string(buf), "\uFFFD")
	if !utf8.ValidString(head) {
		head = ""
	}
	if readErr != nil && Succeeded(resp.StatusCode) {
		// The answer was 2xx: the receiver has the event, whatever became
		// of the rest of its body.
		readErr = nil
	}
	return resp.StatusCode, head, readErr
}

// redactURL keeps a destination URL's query string (which may carry a
// token) out of the error text the log keeps.
func redactURL(msg, url string) string {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		msg = strings.ReplaceAll(msg, url, url[:i]+"?…")
	}
	return msg
}
