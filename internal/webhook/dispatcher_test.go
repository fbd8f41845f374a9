package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
	"github.com/kycreview/kycreview/internal/webhook"
)

// received is what a test receiver saw of one request.
type received struct {
	EventID, SessionID, Status string
	Signature                  string
	Body                       []byte
}

// receiver is a real HTTP server on loopback that records every request
// and answers with whatever answer returns.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, r received) (status int, delay time.Duration)
}

func newReceiver(t *testing.T, answer func(n int, r received) (int, time.Duration)) *receiver {
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			EventID   string `json:"event_id"`
			SessionID string `json:"session_id"`
			Status    string `json:"status"`
		}
		_ = json.Unmarshal(body, &ev)
		got := received{EventID: ev.EventID, SessionID: ev.SessionID, Status: ev.Status, Signature: r.Header.Get("X-Signature"), Body: body}
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, got)
		rc.mu.Unlock()
		status, delay := 200, time.Duration(0)
		if rc.answer != nil {
			status, delay = rc.answer(n, got)
		}
		time.Sleep(delay)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// world is a real SQLite database, a service with one application, a
// destination pointing at a receiver, and a dispatcher ready to run.
type world struct {
	svc  *service.Service
	key  kycreview.APIKey
	wf   string
	dest kycreview.Destination
	d    *webhook.Dispatcher
	seen *attempts // what the dispatcher reported to its metrics
}

// attempts counts the results a dispatcher reports (its AttemptObserver).
type attempts struct {
	mu sync.Mutex
	n  map[webhook.Result]int
}

func (a *attempts) ObserveAttempt(r webhook.Result, latency time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if latency < 0 {
		r += "(negative latency)"
	}
	a.n[r]++
}

// check compares the results reported with want.
func (a *attempts) check(t *testing.T, want map[webhook.Result]int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.n) != len(want) {
		t.Errorf("results reported %v, want %v", a.n, want)
		return
	}
	for r, n := range want {
		if a.n[r] != n {
			t.Errorf("results reported %v, want %v", a.n, want)
			return
		}
	}
}

func newWorld(t *testing.T, rc *receiver, delays []time.Duration, timeout time.Duration) *world {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	guard, err := webhook.NewGuard([]string{"127.0.0.0/8"}, net.DefaultResolver)
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(db, time.Now, service.WithWebhooks(service.WebhookConfig{AllowHTTP: true, CheckURL: guard.CheckURL}))
	app, err := svc.CreateApplication(ctx, "hooks")
	if err != nil {
		t.Fatal(err)
	}
	key, err := svc.Authenticate(ctx, app.Token)
	if err != nil {
		t.Fatal(err)
	}
	url, label := rc.srv.URL+"/hook", "test"
	events := []string{kycreview.EventStatusUpdated}
	dest, err := svc.CreateDestination(ctx, key, kycreview.DestinationInput{URL: &url, Label: &label, SubscribedEvents: &events})
	if err != nil {
		t.Fatal(err)
	}
	seen := &attempts{n: map[webhook.Result]int{}}
	return &world{
		svc: svc, key: key, wf: app.Workflows[kycreview.KindUser].ID, dest: dest, seen: seen,
		d: &webhook.Dispatcher{
			Svc: svc, Client: guard.Client(timeout), Schedule: webhook.Schedule{Delays: delays},
			Workers: 8, Poll: 20 * time.Millisecond, Grace: 5 * time.Second, Metrics: seen,
		},
	}
}

func (w *world) session(t *testing.T) string {
	t.Helper()
	s, err := w.svc.CreateSession(context.Background(), w.key, service.SessionInput{WorkflowID: w.wf})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func (w *world) review(t *testing.T, sessionID string, st kycreview.Status) {
	t.Helper()
	if _, err := w.svc.Review(context.Background(), w.key, sessionID, kycreview.Change{Actor: kycreview.KeyActor(w.key), NewStatus: &st}, nil); err != nil {
		t.Fatal(err)
	}
}

// run starts the dispatcher and returns a function that stops it and waits.
func (w *world) run(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.d.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// log waits (up to 10 s) until every delivery of the destination has left
// the pending state, and returns the log.
func (w *world) settled(t *testing.T, want int) []kycreview.Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, count, err := w.svc.Deliveries(context.Background(), w.key, w.dest.ID, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, d := range ds {
			if d.State == kycreview.DeliveryPending {
				pending++
			}
		}
		if count == want && pending == 0 {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries not settled: %d of %d, %d pending: %+v", count, want, pending, ds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDispatchSignedAndLogged(t *testing.T) {
	rc := newReceiver(t, nil)
	w := newWorld(t, rc, nil, 2*time.Second)
	sid := w.session(t)
	w.review(t, sid, kycreview.StatusApproved)
	w.run(t)
	ds := w.settled(t, 1)

	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	mac := hmac.New(sha256.New, []byte(w.dest.Secret))
	mac.Write(got[0].Body)
	if want := hex.EncodeToString(mac.Sum(nil)); got[0].Signature != want {
		t.Errorf("X-Signature %q, want %q", got[0].Signature, want)
	}
	d := ds[0]
	if d.State != kycreview.DeliverySucceeded || d.EventID != got[0].EventID || got[0].SessionID != sid || got[0].Status != "Approved" {
		t.Errorf("delivery %+v for request %+v", d, got[0])
	}
	if len(d.AttemptHistory) != 1 || !d.AttemptHistory[0].Succeeded() || d.AttemptHistory[0].ResponseHead != `{"ok":true}` {
		t.Errorf("attempt log %+v", d.AttemptHistory)
	}
	w.seen.check(t, map[webhook.Result]int{webhook.ResultSuccess: 1})
}

func TestDispatchRetriesThenFails(t *testing.T) {
	// Two 500s then a 200 for the first event; the second event always 503.
	rc := newReceiver(t, func(n int, r received) (int, time.Duration) {
		if r.Status == "Approved" && n >= 2 {
			return 200, 0
		}
		return 503 - 3*boolInt(r.Status == "Approved"), 0
	})
	w := newWorld(t, rc, []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}, 2*time.Second)
	first, second := w.session(t), w.session(t)
	w.review(t, first, kycreview.StatusApproved)
	w.run(t)
	w.settled(t, 1)
	w.review(t, second, kycreview.StatusDeclined)
	ds := w.settled(t, 2)

	byStatus := map[kycreview.DeliveryState]kycreview.Delivery{}
	for _, d := range ds {
		byStatus[d.State] = d
	}
	ok, failed := byStatus[kycreview.DeliverySucceeded], byStatus[kycreview.DeliveryFailed]
	if len(ok.AttemptHistory) != 3 || *ok.AttemptHistory[0].StatusCode != 500 || !ok.AttemptHistory[2].Succeeded() {
		t.Errorf("retried delivery: %+v", ok.AttemptHistory)
	}
	// Three attempts (the schedule's two retries), then failed for good.
	if len(failed.AttemptHistory) != 3 || failed.Attempts != 3 || *failed.AttemptHistory[2].StatusCode != 503 || failed.CompletedAt == nil {
		t.Errorf("failed delivery: %+v", failed)
	}
	for i, a := range failed.AttemptHistory {
		if a.Number != i+1 || a.Error == "" {
			t.Errorf("attempt %d: %+v", i, a)
		}
	}
	w.seen.check(t, map[webhook.Result]int{webhook.ResultSuccess: 1, webhook.ResultHTTPError: 5})
}

func TestDispatchTimeoutIsAFailedAttempt(t *testing.T) {
	rc := newReceiver(t, func(n int, _ received) (int, time.Duration) {
		if n == 0 {
			return 200, time.Second // longer than the client's timeout
		}
		return 200, 0
	})
	w := newWorld(t, rc, []time.Duration{10 * time.Millisecond}, 300*time.Millisecond)
	w.review(t, w.session(t), kycreview.StatusApproved)
	w.run(t)
	ds := w.settled(t, 1)
	h := ds[0].AttemptHistory
	if len(h) != 2 || h[0].StatusCode != nil || h[0].Error == "" || !h[1].Succeeded() {
		t.Errorf("attempts after a timeout: %+v", h)
	}
	w.seen.check(t, map[webhook.Result]int{webhook.ResultTimeout: 1, webhook.ResultSuccess: 1})
}

// TestDispatchConnectionRefused: a receiver that is gone is a failed
// attempt, counted as a connection error.
func TestDispatchConnectionRefused(t *testing.T) {
	rc := newReceiver(t, nil)
	w := newWorld(t, rc, nil, 2*time.Second)
	rc.srv.Close()
	w.review(t, w.session(t), kycreview.StatusApproved)
	w.run(t)
	ds := w.settled(t, 1)
	if h := ds[0].AttemptHistory; ds[0].State != kycreview.DeliveryFailed || len(h) != 1 || h[0].StatusCode != nil || h[0].Error == "" {
		t.Errorf("delivery to a closed port: %+v", ds[0])
	}
	w.seen.check(t, map[webhook.Result]int{webhook.ResultConnectionError: 1})
}

// TestDispatchOrderPerSession checks that one session's events arrive in
// the order of its changes even when the receiver fails some first
// attempts, while another session's events are not held up.
func TestDispatchOrderPerSession(t *testing.T) {
	failedOnce := map[string]bool{}
	var mu sync.Mutex
	rc := newReceiver(t, func(_ int, r received) (int, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if !failedOnce[r.EventID] {
			failedOnce[r.EventID] = true
			return 500, 0
		}
		return 200, 0
	})
	w := newWorld(t, rc, []time.Duration{5 * time.Millisecond, 5 * time.Millisecond}, 2*time.Second)
	a, b := w.session(t), w.session(t)
	statuses := []kycreview.Status{kycreview.StatusInReview, kycreview.StatusApproved, kycreview.StatusDeclined, kycreview.StatusInReview, kycreview.StatusApproved}
	for _, st := range statuses {
		w.review(t, a, st)
		w.review(t, b, st)
	}
	w.run(t)
	w.settled(t, 2*len(statuses))
	for _, sid := range []string{a, b} {
		var seen []string
		for _, r := range rc.requests() {
			if r.SessionID == sid && !contains(seen, r.EventID) {
				seen = append(seen, r.EventID)
			}
		}
		// Each event was sent (and failed) before the next was ever sent.
		var order []string
		for _, r := range rc.requests() {
			if r.SessionID == sid {
				order = append(order, r.Status)
			}
		}
		want := []string{}
		for _, st := range statuses {
			want = append(want, string(st), string(st))
		}
		if len(order) != len(want) {
			t.Fatalf("session %s: %d requests %v, want %v", sid, len(order), order, want)
		}
		for i := range want {
			if order[i] != want[i] {
				t.Errorf("session %s: requests in order %v, want %v", sid, order, want)
				break
			}
		}
	}
}

// TestDispatchDisablesFailingDestination checks that a destination that
// fails without a break for DisableAfter is disabled and gets nothing more.
func TestDispatchDisablesFailingDestination(t *testing.T) {
	rc := newReceiver(t, func(int, received) (int, time.Duration) { return 500, 0 })
	w := newWorld(t, rc, nil, 2*time.Second)
	w.d.DisableAfter = time.Nanosecond
	w.review(t, w.session(t), kycreview.StatusApproved)
	w.run(t)
	// A failure whose streak began more than DisableAfter ago disables
	// the destination; with 1ns, the first failure does.
	w.settled(t, 1)
	d, err := w.svc.Destination(context.Background(), w.key, w.dest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.DisabledAt == nil || d.FailingSince == nil || d.Active() {
		t.Fatalf("destination after failing: %+v", d)
	}
	n := len(rc.requests())
	w.review(t, w.session(t), kycreview.StatusApproved)
	time.Sleep(200 * time.Millisecond)
	if got := len(rc.requests()); got != n {
		t.Errorf("a disabled destination got %d more requests", got-n)
	}
	if _, count, err := w.svc.Deliveries(context.Background(), w.key, w.dest.ID, 10, 0); err != nil || count != 1 {
		t.Errorf("a disabled destination was owed %d deliveries (%v), want only the first", count, err)
	}
}

// TestDispatchGracefulShutdown checks that an attempt in flight when the
// dispatcher is told to stop finishes and is recorded.
func TestDispatchGracefulShutdown(t *testing.T) {
	started := make(chan struct{}, 1)
	rc := newReceiver(t, func(int, received) (int, time.Duration) {
		started <- struct{}{}
		return 200, 300 * time.Millisecond
	})
	w := newWorld(t, rc, nil, 2*time.Second)
	w.review(t, w.session(t), kycreview.StatusApproved)
	stop := w.run(t)
	<-started
	stop()
	ds, _, err := w.svc.Deliveries(context.Background(), w.key, w.dest.ID, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].State != kycreview.DeliverySucceeded {
		t.Errorf("after shutdown: %+v", ds)
	}
}

// TestGuardRefusesLoopbackAtConnect checks that the dispatcher's client,
// without an allowance for loopback, cannot reach a receiver there even
// though the destination was saved (DNS rebinding: the name was public
// when it was checked).
func TestGuardRefusesLoopbackAtConnect(t *testing.T) {
	rc := newReceiver(t, nil)
	w := newWorld(t, rc, nil, 2*time.Second)
	strict, err := webhook.NewGuard(nil, net.DefaultResolver)
	if err != nil {
		t.Fatal(err)
	}
	w.d.Client = strict.Client(2 * time.Second)
	w.review(t, w.session(t), kycreview.StatusApproved)
	w.run(t)
	ds := w.settled(t, 1)
	if len(rc.requests()) != 0 || ds[0].State != kycreview.DeliveryFailed || ds[0].AttemptHistory[0].Error == "" {
		t.Errorf("guarded delivery to loopback: %+v, receiver saw %d", ds[0], len(rc.requests()))
	}
	w.seen.check(t, map[webhook.Result]int{webhook.ResultBlocked: 1})
	if _, err := netip.ParseAddr("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
