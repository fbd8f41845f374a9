package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxWebhookBody bounds what the receiver reads of one delivery. A
// status.updated body carries the session's whole status history; a seeded
// session with the default 20 rows sends about 10 KB.
const maxWebhookBody = 4 << 20

// receiver is the webhook endpoint of the webhook benchmark: a plain
// net/http server on 127.0.0.1, in the kycbench process, that answers every
// delivery 204 at once and records when each event first arrived. It does
// nothing else (no signature check), so what it costs is what any receiver
// costs at the least.
type receiver struct {
	srv *http.Server
	url string // the destination URL

	mu    sync.Mutex
	phase int                 // receipts are tagged with the phase they arrived in
	seen  map[string]*receipt // by event_id: the first receipt
	// bySession lists each session's events in the order of their first
	// receipt, for the order check and for matching receipts to reviews.
	bySession map[string][]*receipt
	counts    []int // distinct events first received, per phase
	requests  []int // requests received, duplicates included, per phase
	bad       []int // requests that were not a status.updated event, per phase
	firstBad  string
}

// receipt is the first arrival of one event.
type receipt struct {
	EventID   string
	SessionID string
	Status    string
	At        time.Time // when its body had been read in full
	Phase     int
	Copies    int // how many times it arrived
}

// webhookEvent is what the receiver reads of a body; the rest is ignored.
type webhookEvent struct {
	EventID   string `json:"event_id"`
	SessionID string `json:"session_id"`
	Status    string `json:"status"`
}

// startReceiver listens on a free loopback port and serves until stop.
func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: listen: %w", err)
	}
	r := &receiver{
		url:       "http://" + ln.Addr().String() + "/kycbench/webhook",
		seen:      map[string]*receipt{},
		bySession: map[string][]*receipt{},
		counts:    []int{0},
		requests:  []int{0},
		bad:       []int{0},
	}
	r.srv = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// stop closes the receiver and every connection to it.
func (r *receiver) stop() { _ = r.srv.Close() }

// ServeHTTP records one delivery and answers 204. The receipt time is taken
// once the body has been read: the moment the receiver has the event.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxWebhookBody))
	at := time.Now()
	if err != nil {
		r.record(at, webhookEvent{}, "read body: "+err.Error())
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if req.Method != http.MethodPost {
		r.record(at, webhookEvent{}, "method "+req.Method)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var ev webhookEvent
	problem := ""
	switch err := json.Unmarshal(body, &ev); {
	case err != nil:
		problem = "body is not JSON: " + err.Error()
	case ev.EventID == "" || ev.SessionID == "" || ev.Status == "":
		problem = "body lacks event_id, session_id or status: " + truncate(string(body), 120)
	case req.Header.Get("webhook-id") != ev.EventID:
		problem = fmt.Sprintf("webhook-id %q is not the body's event_id %q", req.Header.Get("webhook-id"), ev.EventID)
	}
	r.record(at, ev, problem)
	// 204 even to a malformed delivery: a retry would not mend it, and the
	// report counts it.
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) record(at time.Time, ev webhookEvent, problem string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[r.phase]++
	if problem != "" {
		r.bad[r.phase]++
		if r.firstBad == "" {
			r.firstBad = problem
		}
		return
	}
	if rc := r.seen[ev.EventID]; rc != nil {
		rc.Copies++
		return
	}
	rc := &receipt{EventID: ev.EventID, SessionID: ev.SessionID, Status: ev.Status, At: at, Phase: r.phase, Copies: 1}
	r.seen[ev.EventID] = rc
	r.counts[r.phase]++
	r.bySession[ev.SessionID] = append(r.bySession[ev.SessionID], rc)
}

// nextPhase starts a new phase and returns its number. An event first
// received in an earlier phase stays that phase's, even if a copy of it
// arrives later.
func (r *receiver) nextPhase() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase++
	r.counts = append(r.counts, 0)
	r.requests = append(r.requests, 0)
	r.bad = append(r.bad, 0)
	return r.phase
}

// phaseStats is what the receiver got in one phase.
type phaseStats struct {
	Events   int // distinct event_ids first received in the phase
	Requests int // deliveries received in the phase, copies included
	// Duplicates counts the copies, beyond the first, of the phase's
	// events, whenever they arrived.
	Duplicates int
	Bad        int       // requests that were not an event
	First      time.Time // first receipt of a new event
	Last       time.Time // last receipt of a new event
}

// stats returns phase's figures so far.
func (r *receiver) stats(phase int) phaseStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := phaseStats{Requests: r.requests[phase], Bad: r.bad[phase]}
	for _, rc := range r.seen {
		if rc.Phase != phase {
			continue
		}
		s.Events++
		s.Duplicates += rc.Copies - 1
		if s.First.IsZero() || rc.At.Before(s.First) {
			s.First = rc.At
		}
		if rc.At.After(s.Last) {
			s.Last = rc.At
		}
	}
	return s
}

// events returns how many distinct events phase has received so far.
func (r *receiver) events(phase int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[phase]
}

// sessionReceipts returns a copy of phase's receipts of each session, in
// the order they first arrived.
func (r *receiver) sessionReceipts(phase int) map[string][]receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]receipt{}
	for sid, list := range r.bySession {
		for _, rc := range list {
			if rc.Phase == phase {
				out[sid] = append(out[sid], *rc)
			}
		}
	}
	return out
}

// firstProblem is the first malformed delivery's description, or "".
func (r *receiver) firstProblem() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstBad
}

// errWaitTimedOut is returned by waitEvents when the events did not all
// arrive in time.
var errWaitTimedOut = errors.New("timed out")

// waitEvents waits until phase has received want distinct events, the
// limit passes, alive reports an error (the server died), or ctx ends.
// progress, if set, is called every few seconds.
func (r *receiver) waitEvents(ctx context.Context, phase, want int, limit time.Duration, alive func() error, progress func(got int)) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	lastProgress := time.Now()
	for {
		got := r.events(phase)
		if got >= want {
			return nil
		}
		if err := alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errWaitTimedOut
		}
		if progress != nil && time.Since(lastProgress) >= 5*time.Second {
			progress(got)
			lastProgress = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
