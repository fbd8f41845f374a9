package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/kycreview/kycreview/client"
	"github.com/kycreview/kycreview/internal/notify/smtptest"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
)

// notifyFixture is an application with console users, created with the
// command line, and a way to mention them in reviews.
type notifyFixture struct {
	db       string
	key      string
	workflow string
	emails   []string
}

func newNotifyFixture(t *testing.T, db string, users int) notifyFixture {
	t.Helper()
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme Bank", "--db", db)
	f := notifyFixture{db: db, key: app["api_key"].(string), workflow: app["workflows"].(map[string]any)["user"].(string)}
	for i := range users {
		email := fmt.Sprintf("reviewer%d@example.com", i)
		mustJSON(t, nil, "users", "create", "--app", app["application_id"].(string), "--email", email, "--name", fmt.Sprintf("Reviewer %d", i), "--db", db)
		f.emails = append(f.emails, email)
	}
	return f
}

// mentionAll creates sessions sessions and, on each, a review mentioning
// every user; it returns the number of notifications that makes.
func (f notifyFixture) mentionAll(t *testing.T, base string, sessions int) int {
	t.Helper()
	ctx := context.Background()
	c := client.New(base, f.key)
	var b strings.Builder
	for _, e := range f.emails {
		b.WriteString("@" + e + " ")
	}
	comment := b.String() + "please re-check <b>the address</b>"
	for range sessions {
		s, err := c.CreateSession(ctx, client.CreateSessionRequest{WorkflowID: f.workflow})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateReview(ctx, s.SessionID, client.ReviewRequest{NewStatus: "In Review", Comment: &comment}); err != nil {
			t.Fatal(err)
		}
	}
	return sessions * len(f.emails)
}

// smtpServeFlags are serve's flags for the test SMTP server.
func smtpServeFlags(srv *smtptest.Server) []string {
	return []string{"--smtp-host", srv.Host, "--smtp-port", strconv.Itoa(srv.Port), "--smtp-tls", "none",
		"--smtp-from", "kycreview <kyc@example.com>", "--smtp-timeout", "1s", "--public-url", "https://kyc.example.com"}
}

// messageKey names the notification a message carries: its recipient and
// the session number in its subject.
func messageKey(t *testing.T, m smtptest.Message) string {
	t.Helper()
	p, err := smtptest.Parse(m.Data)
	if err != nil {
		t.Fatalf("unreadable message: %v", err)
	}
	return strings.Join(m.To, ",") + " " + p.Subject()
}

// TestNotificationsSurviveSIGKILL kills the server with SIGKILL while
// emails are in flight (the SMTP server holds its DATA replies), starts it
// again on the same database, and checks that every notification reaches
// the SMTP server at least once. It runs on SQLite and on PostgreSQL.
func TestNotificationsSurviveSIGKILL(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testNotificationsSurviveSIGKILL(t, "sqlite:"+filepath.Join(t.TempDir(), "kycreview.db"))
	})
	t.Run("postgres", func(t *testing.T) { testNotificationsSurviveSIGKILL(t, pgtest.URL(t)) })
}

func testNotificationsSurviveSIGKILL(t *testing.T, db string) {
	var mu sync.Mutex
	hold := true
	inflight := 0
	release := make(chan struct{})
	srv := smtptest.Start(t, smtptest.Options{OnData: func(m smtptest.Message) error {
		mu.Lock()
		held := hold
		if held {
			inflight++
		}
		mu.Unlock()
		if held {
			// Answer nothing until the sender is dead; then refuse, so
			// only a resend after the restart can deliver this one.
			<-release
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "connection lost"}
		}
		return nil
	}})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	f := newNotifyFixture(t, db, 3)
	p := startServer(t, db, smtpServeFlags(srv)...)
	want := f.mentionAll(t, "http://"+p.addr, 4)

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := inflight
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no email in flight within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	mu.Lock()
	hold = false
	before := inflight
	mu.Unlock()
	close(release)

	startServer(t, db, smtpServeFlags(srv)...)
	deadline = time.Now().Add(60 * time.Second)
	for {
		seen := map[string]int{}
		for _, m := range srv.Messages() {
			seen[messageKey(t, m)]++
		}
		if len(seen) >= want {
			if len(seen) != want {
				t.Errorf("%d distinct notifications received, want %d: %v", len(seen), want, seen)
			}
			again := 0
			for _, n := range seen {
				if n > 1 {
					again++
				}
			}
			t.Logf("%d notifications; %d were in flight at the kill; %d were received more than once", want, before, again)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the SMTP server has %d of %d notifications", len(seen), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNotificationsWaitWithoutSMTP: without an SMTP server the service
// starts, mentions are recorded, their backlog shows on /system/status and
// in the log; started again with a server, it sends them all.
func TestNotificationsWaitWithoutSMTP(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "kycreview.db")
	f := newNotifyFixture(t, db, 2)
	p := startServer(t, db)
	base := "http://" + p.addr
	want := f.mentionAll(t, base, 2)

	status := func(base string) map[string]any {
		t.Helper()
		resp, err := http.Get(base + "/system/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK || v["status"] != "ok" {
			t.Fatalf("status: %d %v %v", resp.StatusCode, v, err)
		}
		return v["notifications"].(map[string]any)
	}
	if n := status(base); n["pending"] != float64(want) || n["failed"] != float64(0) || n["oldest_pending_at"] == nil {
		t.Errorf("notifications on /system/status: %v, want %d pending", n, want)
	}
	// The healthcheck's body is the contract's, unchanged.
	resp, err := http.Get(base + "/system/healthcheck")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if len(health) != 2 || health["status"] != "ok" {
		t.Errorf("healthcheck body %v", health)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-p.done; err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}

	srv := smtptest.Start(t, smtptest.Options{})
	p = startServer(t, db, smtpServeFlags(srv)...)
	msgs := srv.Wait(t, want, 30*time.Second)
	m, err := smtptest.Parse(msgs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "https://kyc.example.com/console/sessions/") || strings.Contains(m.HTML, "<b>the address</b>") ||
		!strings.Contains(m.HTML, "&lt;b&gt;the address&lt;/b&gt;") {
		t.Errorf("message:\ntext: %s\nhtml: %s", m.Text, m.HTML)
	}
	deadline := time.Now().Add(10 * time.Second)
	for status("http://" + p.addr)["pending"] != float64(0) {
		if time.Now().After(deadline) {
			t.Fatalf("notifications still pending after they were sent: %v", status("http://"+p.addr))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
