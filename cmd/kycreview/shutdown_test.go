package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kycreview/kycreview/client"
	"github.com/kycreview/kycreview/internal/notify/smtptest"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
)

// TestSIGTERMDrainsInOrder sends SIGTERM to a server with a request, a
// webhook attempt and an email in flight, and checks the polite stop: the
// listener closes at once (new connections are refused), the request in
// flight finishes with its normal answer, then the workers stop, letting
// the attempt and the email they hold finish and recording them, then the
// database closes, the log shows each step in that order, and the process
// exits 0. Started again, the server owes neither the attempt nor the
// email (they were recorded), and sends what the drained request queued.
// It runs on SQLite and on PostgreSQL.
func TestSIGTERMDrainsInOrder(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testSIGTERMDrainsInOrder(t, "sqlite:"+filepath.Join(t.TempDir(), "kycreview.db"))
	})
	t.Run("postgres", func(t *testing.T) { testSIGTERMDrainsInOrder(t, pgtest.URL(t)) })
}

// holder answers a test server's first request only once released.
type holder struct {
	mu       sync.Mutex
	held     bool
	arrived  chan struct{} // closed when the first request arrives
	released chan struct{} // closed by the test
}

func newHolder() *holder {
	return &holder{arrived: make(chan struct{}), released: make(chan struct{})}
}

// hold blocks the first caller until release.
func (h *holder) hold() {
	h.mu.Lock()
	first := !h.held
	h.held = true
	h.mu.Unlock()
	if first {
		close(h.arrived)
		<-h.released
	}
}

func (h *holder) release() {
	select {
	case <-h.released:
	default:
		close(h.released)
	}
}

func testSIGTERMDrainsInOrder(t *testing.T, db string) {
	nf := newNotifyFixture(t, db, 1)
	keyFile := filepath.Join(t.TempDir(), "audit-key.pem")
	mustJSON(t, nil, "audit", "keygen", "--out", keyFile)

	// A webhook receiver and an SMTP server that hold their first request.
	hook, mail := newHolder(), newHolder()
	defer hook.release()
	defer mail.release()
	var mu sync.Mutex
	events := map[string]int{} // event_id → requests received
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			EventID string `json:"event_id"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		events[ev.EventID]++
		mu.Unlock()
		hook.hold()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()
	smtpSrv := smtptest.Start(t, smtptest.Options{OnData: func(smtptest.Message) error { mail.hold(); return nil }})

	flags := append(smtpServeFlags(smtpSrv), "--smtp-timeout", "20s",
		"--webhook-allow-http", "--webhook-allow", "127.0.0.1/32", "--webhook-timeout", "20s", "--webhook-retries", "200ms*50",
		"--audit-key-file", keyFile, "--audit-checkpoint-interval", "100ms")
	p := startServer(t, db, flags...)
	base := "http://" + p.addr
	createDestination(t, base, nf.key, rc.URL+"/hook")
	ctx := context.Background()
	c := client.New(base, nf.key)
	s, err := c.CreateSession(ctx, client.CreateSessionRequest{WorkflowID: nf.workflow})
	if err != nil {
		t.Fatal(err)
	}
	held := "held-review @" + nf.emails[0] + " please look"
	if _, err := c.CreateReview(ctx, s.SessionID, client.ReviewRequest{NewStatus: "In Review", Comment: &held}); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, hook.arrived, "the webhook attempt to arrive")
	waitClosed(t, mail.arrived, "the email to arrive")

	// A request in flight: its head sent with Expect: 100-continue, so the
	// server's 100 Continue says the handler is running and reading the
	// body, which is sent only after SIGTERM.
	drained := "drained-review @" + nf.emails[0]
	body, _ := json.Marshal(map[string]any{"new_status": "Approved", "comment": drained})
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(conn, "POST /v3/sessions/%s/reviews/ HTTP/1.1\r\nHost: %s\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", s.SessionID, p.addr, nf.key, len(body))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("the server did not ask for the body: %q %v", line, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q %v", blank, err)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The listener closes at once: a new connection is refused while the
	// request above is still open.
	waitFor(t, 10*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return false
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial after SIGTERM: %v, want connection refused", err)
		}
		return true
	})
	select {
	case err := <-p.done:
		t.Fatalf("the server exited (%v) with a request in flight", err)
	default:
	}

	// The request in flight finishes with its normal answer.
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var review client.Review
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(answer, &review) != nil || review.Comment == nil || *review.Comment != drained {
		t.Fatalf("the request in flight: %d %s", resp.StatusCode, answer)
	}

	// The HTTP server has stopped, then the workers are told to: the first
	// one logged stopped says so. The other two still hold an attempt and
	// an email, and the database is open.
	waitFor(t, 10*time.Second, "the audit checkpointer to stop", func() bool {
		return logIndex(p.log.Lines(), "worker stopped", "audit checkpointer") >= 0
	})
	lines := p.log.Lines()
	for _, w := range []string{"webhook dispatcher", "notifier"} {
		if logIndex(lines, "worker stopped", w) >= 0 {
			t.Errorf("the %s stopped with its work in flight", w)
		}
	}
	if logIndex(lines, "database closed", "") >= 0 {
		t.Error("the database closed with work in flight")
	}
	hook.release()
	mail.release()

	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0\n%s", err, strings.Join(p.log.Lines(), "\n"))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not exit within 30s of releasing its work\n%s", strings.Join(p.log.Lines(), "\n"))
	}

	// The log tells the order.
	lines = p.log.Lines()
	steps := []struct{ msg, worker string }{
		{"shutting down: draining HTTP requests", ""},
		{"http server stopped", ""},
		{"worker stopped", "audit checkpointer"},
		{"worker stopped", "notifier"},
		{"worker stopped", "webhook dispatcher"},
		{"database closed", ""},
	}
	at := -1
	for _, s := range steps {
		i := logIndex(lines, s.msg, s.worker)
		if i <= at {
			t.Errorf("log line %q %q at %d, want it after %d:\n%s", s.msg, s.worker, i, at, strings.Join(lines, "\n"))
			break
		}
		at = i
	}
	if at != len(lines)-1 {
		t.Errorf("lines after the database closed:\n%s", strings.Join(lines[at+1:], "\n"))
	}
	for _, l := range lines {
		if strings.Contains(l, `"level":"ERROR"`) {
			t.Errorf("error logged: %s", l)
		}
	}

	// The attempt and the email in flight finished and were recorded.
	conn2 := openTestDB(t, db)
	defer conn2.Close()
	var state string
	var attempts int
	err = conn2.QueryRow(`SELECT d.state, d.attempts FROM webhook_deliveries d
		JOIN webhook_outbox o ON o.pk = d.event_pk
		JOIN activities a ON a.session_pk = o.session_pk AND a.seq = o.seq
		WHERE a.comment LIKE 'held-review %'`).Scan(&state, &attempts)
	if err != nil || state != "succeeded" || attempts != 1 {
		t.Errorf("the webhook attempt in flight: %s after %d attempts (%v), want succeeded after 1", state, attempts, err)
	}
	err = conn2.QueryRow(`SELECT n.state, n.attempts FROM notifications n
		JOIN activities a ON a.pk = n.activity_pk WHERE a.comment LIKE 'held-review %'`).Scan(&state, &attempts)
	if err != nil || state != "sent" || attempts != 1 {
		t.Errorf("the email in flight: %s after %d attempts (%v), want sent after 1", state, attempts, err)
	}
	conn2.Close()

	// Started again, it sends what the drained request queued (its event
	// waited behind the held one, its email for the notifier), and nothing
	// twice.
	p = startServer(t, db, flags...)
	waitFor(t, 30*time.Second, "the drained review's event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == 2
	})
	msgs := smtpSrv.Wait(t, 2, 30*time.Second)
	mu.Lock()
	for id, n := range events {
		if n != 1 {
			t.Errorf("event %s was received %d times", id, n)
		}
	}
	mu.Unlock()
	if len(msgs) != 2 {
		t.Errorf("%d emails, want 2", len(msgs))
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-p.done; err != nil {
		t.Errorf("exit after the second SIGTERM: %v", err)
	}
}

// logIndex is the index of the first JSON log line with message msg (and,
// when worker is set, that worker attribute), or -1.
func logIndex(lines []string, msg, worker string) int {
	for i, l := range lines {
		var v struct{ Msg, Worker string }
		if json.Unmarshal([]byte(l), &v) == nil && v.Msg == msg && (worker == "" || v.Worker == worker) {
			return i
		}
	}
	return -1
}

// waitClosed waits for ch to close, failing the test after 10 s.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("waited 10s for %s", what)
	}
}
