package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/postgres"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// The webhook benchmark (issue 5): a receiver in this process, one
// destination pointing at it, and three phases on one database.
//
//  1. Queue: kycreview serve --webhook-dispatch=false takes --webhook-events
//     reviews (closed loop); each commits its status.updated event and the
//     delivery owed to the receiver. Nothing is sent.
//  2. Drain: the server is stopped and started again with its dispatcher
//     on. From the moment the process is started until the receiver has
//     every event is the backlog's deliveries per second.
//  3. Latency: with the same server, --webhook-rate reviews per second,
//     open loop, for --warmup and then --webhook-duration; each event's
//     receipt is matched to its review, which gives commit-to-receipt.
const (
	// webhookQueueConns is the closed-loop concurrency that queues the
	// backlog; more would only queue on the writer.
	webhookQueueConns = 64
	// webhookSettle is how long, after the open-loop load, the last events
	// may take to arrive; one that has not is reported missing.
	webhookSettle = 30 * time.Second
	// webhookMinDrainWait is the least time the backlog gets to drain: it
	// also gets a second per 100 events, so that only a dispatcher slower
	// than that is cut off.
	webhookMinDrainWait = 2 * time.Minute
)

// reviewStatusNames are the statuses reviewBodies set, in their order.
var reviewStatusNames = [len(reviewBodies)]string{"Approved", "Declined", "In Review"}

// reviewCursor hands out the webhook benchmark's reviews: review c goes to
// session c mod n, so consecutive reviews touch different sessions and a
// session is reviewed again only after every other one (per-session order
// would otherwise serialise deliveries). Its status is the session's
// (s + round) mod 3, so two consecutive reviews of one session always set
// different statuses and a receipt out of order shows.
type reviewCursor struct {
	ids  []string
	next atomic.Int64
}

// take returns the next review's session and its status's index in
// reviewBodies.
func (c *reviewCursor) take() (id string, status int) {
	n := int(c.next.Add(1) - 1)
	s, round := n%len(c.ids), n/len(c.ids)
	return c.ids[s], (s + round) % len(reviewBodies)
}

// sentReview is one review POST of the webhook benchmark.
type sentReview struct {
	SessionID string
	Status    string
	Sent      time.Time // when the request was sent
	Answered  time.Time // when the 201's head arrived; zero if it failed
	Counted   bool      // sent inside the measured window
}

// webhookServerFlags are serve's flags for the dispatching server: plain
// http to a loopback receiver must be allowed, as in local development.
func webhookServerFlags(cfg config) []string {
	flags := []string{"--webhook-allow-http", "--webhook-allow", "127.0.0.1/32"}
	if cfg.WebhookWorkers > 0 {
		flags = append(flags, "--webhook-workers", strconv.Itoa(cfg.WebhookWorkers))
	}
	return flags
}

// benchWebhooks runs the webhook benchmark on a seeded database whose
// server is not running. It returns what it measured even on error.
func benchWebhooks(ctx context.Context, cfg config, bin string, ds dataset, dbPIDs func(context.Context) ([]int, error), logf logFunc) (*webhookRun, error) {
	rc, err := startReceiver()
	if err != nil {
		return nil, err
	}
	defer rc.stop()
	if err := createDestination(ctx, ds.DBURL, ds.Token, rc.url); err != nil {
		return nil, fmt.Errorf("create the webhook destination: %w", err)
	}
	offFlags := []string{"--webhook-dispatch=false"}
	onFlags := webhookServerFlags(cfg)
	run := &webhookRun{
		ServerFlagsQueue: strings.Join(offFlags, " "),
		ServerFlags:      strings.Join(onFlags, " "),
	}
	cursor := &reviewCursor{ids: ds.SessionIDs}

	// 1. Queue the backlog with nobody dispatching.
	queuePhase := rc.nextPhase()
	logf("webhooks: queueing %d reviews with dispatch off", cfg.WebhookEvents)
	off, err := startServer(ctx, bin, ds.DBURL, offFlags...)
	if err != nil {
		return nil, err
	}
	conns := min(webhookQueueConns, max(1, len(ds.SessionIDs)/2))
	queueStart := time.Now()
	queued := queueReviews(ctx, off.base, ds.Token, cursor, cfg.WebhookEvents, conns)
	queueTime := time.Since(queueStart)
	aliveErr := off.alive()
	off.stop()
	if err := errors.Join(ctx.Err(), aliveErr); err != nil {
		return nil, err
	}
	tp := &run.Throughput
	tp.QueueConns = conns
	tp.QueueSeconds = queueTime.Seconds()
	for _, r := range queued {
		if !r.Answered.IsZero() {
			tp.Events++
		}
	}
	tp.QueueErrors, tp.QueueFirstError = len(queued)-tp.Events, firstErrorOf(queued)
	tp.QueueReviewsPerSecond = float64(tp.Events) / queueTime.Seconds()
	tp.ReviewsPerSession = (cfg.WebhookEvents + len(ds.SessionIDs) - 1) / len(ds.SessionIDs)
	tp.ReceivedWhileOff = rc.stats(queuePhase).Requests
	logf("webhooks: queued %d events in %s (%.0f reviews/s, %d errors)", tp.Events, queueTime.Round(time.Millisecond), tp.QueueReviewsPerSecond, tp.QueueErrors)
	if tp.Events == 0 {
		return run, fmt.Errorf("webhooks: no review was queued (first error: %s)", tp.QueueFirstError)
	}

	// 2. Start a dispatching server on the backlog and time the drain.
	drainPhase := rc.nextPhase()
	started := time.Now()
	on, err := startServer(ctx, bin, ds.DBURL, onFlags...)
	if err != nil {
		return run, err
	}
	defer on.stop()
	healthy := time.Now()
	spec := &loadSpec{PID: on.pid(), DBPIDs: dbPIDs}
	before, err := sampleCPU(ctx, spec)
	if err != nil {
		return run, err
	}
	limit := max(webhookMinDrainWait, time.Duration(tp.Events/100)*time.Second)
	waitErr := rc.waitEvents(ctx, drainPhase, tp.Events, limit, on.alive, func(got int) {
		logf("webhooks: drain: %d of %d events received after %s", got, tp.Events, time.Since(started).Round(time.Second))
	})
	after, err := sampleCPU(ctx, spec)
	if err != nil {
		return run, err
	}
	if waitErr != nil && !errors.Is(waitErr, errWaitTimedOut) {
		return run, waitErr
	}
	tp.TimedOut = waitErr != nil
	st := rc.stats(drainPhase)
	tp.Delivered, tp.Requests, tp.Duplicates, tp.Malformed = st.Events, st.Requests, st.Duplicates, st.Bad
	tp.Missing = max(0, tp.Events-st.Events)
	tp.StartupSeconds = healthy.Sub(started).Seconds()
	if st.Events > 0 {
		tp.FirstDeliverySeconds = st.First.Sub(started).Seconds()
		tp.DrainSeconds = st.Last.Sub(started).Seconds()
		tp.DeliveriesPerSecond = float64(st.Events) / tp.DrainSeconds
		if st.Events > 1 {
			tp.DeliveriesPerSecondFromFirst = float64(st.Events-1) / st.Last.Sub(st.First).Seconds()
		}
	}
	m := matchReceipts(queued, rc.sessionReceipts(drainPhase))
	tp.OutOfOrder, tp.Unexpected = m.Mismatched, m.Unexpected
	tp.CPU = newPhaseCPU(on.pid(), before, after, st.Events)
	logf("webhooks: drained %d of %d events in %.2fs from server start = %.0f deliveries/s; %d duplicates, %d out of order",
		tp.Delivered, tp.Events, tp.DrainSeconds, tp.DeliveriesPerSecond, tp.Duplicates, tp.OutOfOrder)
	if st.Events == 0 {
		return run, fmt.Errorf("webhooks: the receiver got none of %d events (first problem: %s)", tp.Events, rc.firstProblem())
	}

	// 3. Open-loop reviews at a steady rate; commit-to-receipt.
	latPhase := rc.nextPhase()
	lat := &run.Latency
	lat.RatePerSecond, lat.WarmupSeconds, lat.DurationSeconds = cfg.WebhookRate, cfg.Warmup.Seconds(), cfg.WebhookDuration.Seconds()
	logf("webhooks: %.0f reviews/s open loop for %s + %s", cfg.WebhookRate, cfg.Warmup, cfg.WebhookDuration)
	ol, err := openLoopReviews(ctx, on.base, ds.Token, cursor, cfg.WebhookRate, cfg.Warmup, cfg.WebhookDuration, spec)
	if err != nil {
		return run, errors.Join(on.alive(), err)
	}
	answered := 0
	for _, r := range ol.sent {
		if !r.Answered.IsZero() {
			answered++
		}
	}
	waitErr = rc.waitEvents(ctx, latPhase, answered, webhookSettle, on.alive, nil)
	if waitErr != nil && !errors.Is(waitErr, errWaitTimedOut) {
		return run, waitErr
	}
	m = matchReceipts(ol.sent, rc.sessionReceipts(latPhase))
	st = rc.stats(latPhase)
	fillLatency(lat, ol, m, st, on.pid())
	logf("webhooks: %d reviews at %.1f/s; commit-to-receipt p50 %s ms, p99 %s ms, max %s ms; %d missing",
		lat.Reviews, lat.AchievedRate, fmtMs(lat.CommitToReceipt.P50Ms), fmtMs(lat.CommitToReceipt.P99Ms), fmtMs(lat.CommitToReceipt.MaxMs), lat.Missing)
	if problem := rc.firstProblem(); problem != "" {
		run.FirstMalformed = problem
	}
	return run, on.alive()
}

// createDestination adds to the dataset's application a destination at
// url subscribed to status.updated, through the service as the API would,
// before any server runs on the database.
func createDestination(ctx context.Context, dbURL, token, url string) error {
	var store service.Store
	var err error
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		store, err = sqlite.Open(ctx, path)
	} else {
		store, err = postgres.Open(ctx, dbURL)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	// No CheckURL: the SSRF guard is the server's, which is told to allow
	// the loopback receiver; here it would refuse it.
	svc := service.New(store, time.Now, service.WithWebhooks(service.WebhookConfig{AllowHTTP: true}))
	key, err := svc.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	label, enabled, events := "kycbench receiver", true, []string{kycreview.EventStatusUpdated}
	_, err = svc.CreateDestination(ctx, key, kycreview.DestinationInput{
		Label: &label, URL: &url, Enabled: &enabled, SubscribedEvents: &events,
	})
	return err
}

// benchClient is an HTTP client for the webhook benchmark's reviews.
func benchClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout:       requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// postReview sends review (id, status) and fills in r; it returns the
// error of a failed one.
func postReview(ctx context.Context, client *http.Client, base, key, id string, status int, r *sentReview) error {
	r.SessionID, r.Status = id, reviewStatusNames[status]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v3/sessions/"+id+"/reviews/", strings.NewReader(reviewBodies[status]))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", key)
	r.Sent = time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	at := time.Now()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("POST %s: %s %s", req.URL.Path, resp.Status, strings.TrimSpace(string(snippet)))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if err == nil {
		r.Answered = at
	}
	return err
}

// queueReviews sends n reviews from the cursor over conns closed-loop
// workers and returns them; a failed one has no Answered time and keeps its
// error.
func queueReviews(ctx context.Context, base, key string, cursor *reviewCursor, n, conns int) []reviewOutcome {
	client := benchClient(conns)
	defer client.CloseIdleConnections()
	out := make([]reviewOutcome, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				id, status := cursor.take()
				if err := postReview(ctx, client, base, key, id, status, &out[i].sentReview); err != nil {
					out[i].err = err.Error()
				}
			}
		})
	}
	wg.Wait()
	return out
}

// reviewOutcome is a sent review and its error, if it failed.
type reviewOutcome struct {
	sentReview
	err string
}

func firstErrorOf(rs []reviewOutcome) string {
	for _, r := range rs {
		if r.err != "" {
			return r.err
		}
	}
	return ""
}

// openLoopResult is what the open-loop phase sent and measured.
type openLoopResult struct {
	sent      []reviewOutcome
	window    time.Duration // the measured window as it really was
	lateness  time.Duration // how far behind its schedule the latest send was
	before    cpuSample
	after     cpuSample
	postLat   []time.Duration // of the counted reviews answered 201
	errors    int             // counted reviews that failed
	firstErr  string
	scheduled int // counted reviews
}

// openLoopReviews sends reviews at rate per second on a fixed schedule,
// each on its own goroutine, whatever the earlier ones are doing: a slow
// server does not slow the load down, as it would a closed loop. Reviews
// scheduled in the warmup are sent but not counted. CPU is sampled at the
// edges of the measured window.
func openLoopReviews(ctx context.Context, base, key string, cursor *reviewCursor, rate float64, warmup, duration time.Duration, spec *loadSpec) (openLoopResult, error) {
	client := benchClient(256)
	defer client.CloseIdleConnections()
	interval := time.Duration(float64(time.Second) / rate)
	total := int((warmup + duration).Seconds() * rate)
	start := time.Now().Add(10 * time.Millisecond)
	from, to := start.Add(warmup), start.Add(warmup+duration)

	var res openLoopResult
	res.sent = make([]reviewOutcome, total)
	var cpuErr error
	var sampled sync.WaitGroup
	sampled.Go(func() {
		sleepUntil(ctx, from)
		var err error
		if res.before, err = sampleCPU(ctx, spec); err != nil {
			cpuErr = err
			return
		}
		sleepUntil(ctx, to)
		res.after, cpuErr = sampleCPU(ctx, spec)
	})
	var wg sync.WaitGroup
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		sleepUntil(ctx, at)
		if ctx.Err() != nil {
			break
		}
		res.lateness = max(res.lateness, time.Since(at))
		id, status := cursor.take()
		o := &res.sent[i]
		o.Counted = !at.Before(from)
		wg.Go(func() {
			if err := postReview(ctx, client, base, key, id, status, &o.sentReview); err != nil {
				o.err = err.Error()
			}
		})
	}
	wg.Wait()
	sampled.Wait()
	if err := errors.Join(ctx.Err(), cpuErr); err != nil {
		return res, err
	}
	res.window = res.after.at.Sub(res.before.at)
	for _, o := range res.sent {
		if !o.Counted {
			continue
		}
		res.scheduled++
		if o.Answered.IsZero() {
			res.errors++
			if res.firstErr == "" {
				res.firstErr = o.err
			}
			continue
		}
		res.postLat = append(res.postLat, o.Answered.Sub(o.Sent))
	}
	return res, nil
}

// matchResult is the receipts of a phase matched to its reviews.
type matchResult struct {
	Matched int
	// Missing counts reviews answered 201 whose event never arrived.
	Missing int
	// Unexpected counts events for which no review was sent.
	Unexpected int
	// Mismatched counts receipts whose status is not that of the review
	// in the same place of its session's sequence: an event delivered out
	// of order, or after an earlier one of its session was lost.
	Mismatched int
	// AfterAnswer is, for each counted review matched, the receipt time
	// minus the time its 201 arrived; AfterSend the receipt time minus the
	// time the review was sent. The commit lies between the two.
	AfterAnswer []time.Duration
	AfterSend   []time.Duration
}

// matchReceipts matches each session's reviews, in the order their 201s
// arrived (the order of their commits: reviews of one session are sent far
// apart), to the session's receipts in the order they arrived.
func matchReceipts(sent []reviewOutcome, got map[string][]receipt) matchResult {
	bySession := map[string][]*reviewOutcome{}
	for i := range sent {
		if !sent[i].Answered.IsZero() {
			bySession[sent[i].SessionID] = append(bySession[sent[i].SessionID], &sent[i])
		}
	}
	var m matchResult
	for sid, reviews := range bySession {
		sortByAnswered(reviews)
		receipts := got[sid]
		n := min(len(reviews), len(receipts))
		for k := range n {
			r, rc := reviews[k], receipts[k]
			if r.Status != rc.Status {
				m.Mismatched++
				continue
			}
			m.Matched++
			if r.Counted {
				m.AfterAnswer = append(m.AfterAnswer, rc.At.Sub(r.Answered))
				m.AfterSend = append(m.AfterSend, rc.At.Sub(r.Sent))
			}
		}
		m.Missing += len(reviews) - n
		m.Unexpected += len(receipts) - n
	}
	for sid, receipts := range got {
		if _, ok := bySession[sid]; !ok {
			m.Unexpected += len(receipts)
		}
	}
	return m
}

// sortByAnswered sorts a session's reviews by the time their 201 arrived.
func sortByAnswered(rs []*reviewOutcome) {
	slices.SortStableFunc(rs, func(a, b *reviewOutcome) int { return a.Answered.Compare(b.Answered) })
}
