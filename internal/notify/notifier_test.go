package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/notify"
	"github.com/kycreview/kycreview/internal/notify/smtptest"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// fixture is a service on a real SQLite file with an application, two
// console users and a KYC session.
type fixture struct {
	svc     *service.Service
	key     kycreview.APIKey
	ana     kycreview.ConsoleUser
	bob     kycreview.ConsoleUser
	session kycreview.Session
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kycreview.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := service.New(db, time.Now)
	app, err := svc.CreateApplication(ctx, "Acme Bank")
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{svc: svc}
	if f.key, err = svc.Authenticate(ctx, app.Token); err != nil {
		t.Fatal(err)
	}
	if f.ana, err = svc.CreateConsoleUser(ctx, app.Application.ID, "Ana.Lead@Example.com", "Ana Lead"); err != nil {
		t.Fatal(err)
	}
	if f.bob, err = svc.CreateConsoleUser(ctx, app.Application.ID, "bob@example.com", "Bob"); err != nil {
		t.Fatal(err)
	}
	if f.session, err = svc.CreateSession(ctx, f.key, service.SessionInput{WorkflowID: app.Workflows[kycreview.KindUser].ID}); err != nil {
		t.Fatal(err)
	}
	return f
}

// review records a review with comment, as the API does.
func (f fixture) review(t *testing.T, comment string) {
	t.Helper()
	status := kycreview.StatusInReview
	if _, err := f.svc.Review(context.Background(), f.key, f.session.ID, kycreview.Change{NewStatus: &status, Comment: &comment}, nil); err != nil {
		t.Fatal(err)
	}
}

// run runs a notifier until the test ends.
func run(t *testing.T, n *notify.Notifier) {
	t.Helper()
	if n.Poll == 0 {
		n.Poll = 10 * time.Millisecond
	}
	n.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// sends counts the results a notifier reports (its SendObserver).
type sends struct {
	mu sync.Mutex
	n  map[notify.SendResult]int
}

func newSends() *sends { return &sends{n: map[notify.SendResult]int{}} }

func (s *sends) ObserveSend(r notify.SendResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n[r]++
}

func (s *sends) check(t *testing.T, want map[notify.SendResult]int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := len(s.n) == len(want)
	for r, n := range want {
		ok = ok && s.n[r] == n
	}
	if !ok {
		t.Errorf("send results reported %v, want %v", s.n, want)
	}
}

func sender(t *testing.T, srv *smtptest.Server, mode notify.TLSMode, user, password string) *notify.SMTPSender {
	t.Helper()
	s, err := notify.NewSMTPSender(notify.SMTPConfig{
		Host: srv.Host, Port: srv.Port, TLS: mode, Username: user, Password: password,
		From: "kycreview <kyc@example.com>", Timeout: 5 * time.Second, TLSConfig: srv.ClientTLS, HELO: "localhost",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// inbox returns the user's notifications, waiting until none is pending.
func settled(t *testing.T, svc *service.Service, user kycreview.ConsoleUser) []kycreview.InboxNotification {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		in, err := svc.Notifications(context.Background(), user.ID, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		pending := false
		for _, n := range in.Notifications {
			pending = pending || n.State == kycreview.NotificationPending
		}
		if !pending {
			return in.Notifications
		}
		if time.Now().After(deadline) {
			t.Fatalf("notifications still pending after 10s: %+v", in.Notifications)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDeliver: a mention reaches the SMTP server as a MIME message with a
// text and an HTML part, addressed to the user, naming the session and
// linking to it, with the comment's markup escaped in the HTML part.
func TestDeliver(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.Options{})
	seen := newSends()
	run(t, &notify.Notifier{Svc: f.svc, Sender: sender(t, srv, notify.TLSNone, "", ""), PublicURL: "https://kyc.example.com/", Metrics: seen})

	f.review(t, `@ana.lead@example.com please re-check <script>alert(1)</script> and ask @stranger@example.com`)
	msgs := srv.Wait(t, 1, 10*time.Second)
	m := msgs[0]
	if m.From != "kyc@example.com" || len(m.To) != 1 || m.To[0] != "Ana.Lead@Example.com" {
		t.Errorf("envelope from %q to %v, want only Ana", m.From, m.To)
	}
	p, err := smtptest.Parse(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if to := p.Header.Get("To"); !strings.Contains(to, "Ana.Lead@Example.com") || !strings.Contains(to, "Ana Lead") {
		t.Errorf("To: %q", to)
	}
	if want := "[Acme Bank] API Client mentioned you on session #1"; p.Subject() != want {
		t.Errorf("Subject: %q, want %q", p.Subject(), want)
	}
	if p.Header.Get("Auto-Submitted") != "auto-generated" || p.Header.Get("Message-Id") == "" {
		t.Errorf("headers: %v", p.Header)
	}
	link := "https://kyc.example.com/console/sessions/" + f.session.ID
	if !strings.Contains(p.Text, link) || !strings.Contains(p.Text, "<script>alert(1)</script>") {
		t.Errorf("text part:\n%s", p.Text)
	}
	if !strings.Contains(p.HTML, `href="`+link+`"`) {
		t.Errorf("html part has no link to the session:\n%s", p.HTML)
	}
	if strings.Contains(p.HTML, "<script") || !strings.Contains(p.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("html part does not escape the comment:\n%s", p.HTML)
	}

	got := settled(t, f.svc, f.ana)
	if len(got) != 1 || got[0].State != kycreview.NotificationSent || got[0].Attempts != 1 || got[0].ReadAt != nil {
		t.Errorf("Ana's notification after sending: %+v", got)
	}
	// Only members are notified: the stranger got nothing, Bob nothing.
	time.Sleep(50 * time.Millisecond)
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("the SMTP server received %d messages, want 1", n)
	}
	if b, err := f.svc.NotificationBacklog(context.Background()); err != nil || b.Pending != 0 || b.Failed != 0 {
		t.Errorf("backlog %+v, %v", b, err)
	}
	seen.check(t, map[notify.SendResult]int{notify.SendSent: 1})
}

// TestPermanentFailure: a 5xx refusal fails the notification at once, with
// the server's answer kept for people to see.
func TestPermanentFailure(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.Options{OnData: func(m smtptest.Message) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	}})
	seen := newSends()
	run(t, &notify.Notifier{Svc: f.svc, Sender: sender(t, srv, notify.TLSNone, "", ""), PublicURL: "https://kyc.example.com",
		Backoff: notify.Backoff{Base: time.Millisecond, Max: time.Millisecond, Attempts: 5}, Metrics: seen})
	f.review(t, "@bob@example.com look")
	got := settled(t, f.svc, f.bob)
	if len(got) != 1 || got[0].State != kycreview.NotificationFailed || got[0].Attempts != 1 ||
		!strings.Contains(got[0].LastError, "550") || !strings.Contains(got[0].LastError, "mailbox unavailable") {
		t.Errorf("after a 550: %+v", got)
	}
	if b, _ := f.svc.NotificationBacklog(context.Background()); b.Failed != 1 || b.Pending != 0 {
		t.Errorf("backlog %+v, want 1 failed", b)
	}
	seen.check(t, map[notify.SendResult]int{notify.SendFailed: 1})
}

// TestTransientFailureRetried: 4xx answers and a server that is not there
// are retried with backoff until the message goes through; when the
// attempts run out, the notification fails.
func TestTransientFailureRetried(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	refusals := 2
	srv := smtptest.Start(t, smtptest.Options{OnData: func(m smtptest.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if refusals > 0 {
			refusals--
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	}})
	seen := newSends()
	run(t, &notify.Notifier{Svc: f.svc, Sender: sender(t, srv, notify.TLSNone, "", ""), PublicURL: "https://kyc.example.com",
		Backoff: notify.Backoff{Base: 20 * time.Millisecond, Max: 20 * time.Millisecond, Attempts: 5}, Metrics: seen})
	f.review(t, "@bob@example.com look")
	srv.Wait(t, 1, 10*time.Second)
	got := settled(t, f.svc, f.bob)
	if len(got) != 1 || got[0].State != kycreview.NotificationSent || got[0].Attempts != 3 {
		t.Errorf("after two 451s and a success: %+v", got)
	}
	seen.check(t, map[notify.SendResult]int{notify.SendRetry: 2, notify.SendSent: 1})
}

func TestTransientFailuresRunOut(t *testing.T) {
	f := newFixture(t)
	// Nothing listens here: every connection is refused.
	s, err := notify.NewSMTPSender(notify.SMTPConfig{Host: "127.0.0.1", Port: 1, TLS: notify.TLSNone, From: "kyc@example.com", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	seen := newSends()
	run(t, &notify.Notifier{Svc: f.svc, Sender: s, PublicURL: "https://kyc.example.com",
		Backoff: notify.Backoff{Base: 5 * time.Millisecond, Max: 5 * time.Millisecond, Attempts: 3}, Metrics: seen})
	f.review(t, "@bob@example.com look")
	got := settled(t, f.svc, f.bob)
	if len(got) != 1 || got[0].State != kycreview.NotificationFailed || got[0].Attempts != 3 || !strings.Contains(got[0].LastError, "connect") {
		t.Errorf("after three refused connections: %+v", got)
	}
	seen.check(t, map[notify.SendResult]int{notify.SendRetry: 2, notify.SendFailed: 1})
}

// TestDisabledUserReceivesNothing: disabling a user skips their pending
// notifications, and they can no longer be mentioned.
func TestDisabledUserReceivesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.review(t, "@bob@example.com first") // written before any notifier runs
	if _, skipped, err := f.svc.DisableConsoleUser(ctx, "BOB@example.com"); err != nil || skipped != 1 {
		t.Fatalf("disable: skipped %d, %v", skipped, err)
	}
	f.review(t, "@bob@example.com second, @ana.lead@example.com")
	srv := smtptest.Start(t, smtptest.Options{})
	run(t, &notify.Notifier{Svc: f.svc, Sender: sender(t, srv, notify.TLSNone, "", ""), PublicURL: "https://kyc.example.com"})
	srv.Wait(t, 1, 10*time.Second)
	time.Sleep(50 * time.Millisecond)
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].To[0] != "Ana.Lead@Example.com" {
		t.Errorf("messages %+v, want only Ana's", msgs)
	}
	if b, _ := f.svc.NotificationBacklog(ctx); b.Pending != 0 {
		t.Errorf("backlog %+v", b)
	}
}

// TestSMTPSecurity: STARTTLS and implicit TLS with authentication, against
// a server whose certificate the client trusts; a wrong password is an
// error worth retrying (the operator fixes it), not a refusal of the
// message.
func TestSMTPSecurity(t *testing.T) {
	msg := notify.Message{To: "ana@example.com", ToName: "Ana", Subject: "hello", Text: "text", HTML: "<p>html</p>"}
	for _, mode := range []notify.TLSMode{notify.TLSStartTLS, notify.TLSImplicit} {
		t.Run(string(mode), func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{TLS: string(mode), Username: "kyc", Password: "s3cret-pass"})
			if err := sender(t, srv, mode, "kyc", "s3cret-pass").Send(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			if got := srv.Messages(); len(got) != 1 || got[0].User != "kyc" {
				t.Errorf("received %+v", got)
			}
			err := sender(t, srv, mode, "kyc", "wrong").Send(context.Background(), msg)
			if err == nil || notify.Permanent(err) {
				t.Errorf("wrong password: %v (permanent %v)", err, notify.Permanent(err))
			}
			// A client that does not trust the certificate refuses it.
			s, err := notify.NewSMTPSender(notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: mode, From: "kyc@example.com",
				Username: "kyc", Password: "s3cret-pass", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(context.Background(), msg); err == nil {
				t.Error("an untrusted certificate was accepted")
			}
		})
	}
	// STARTTLS mode refuses a server that cannot upgrade.
	plain := smtptest.Start(t, smtptest.Options{})
	if err := sender(t, plain, notify.TLSStartTLS, "", "").Send(context.Background(), msg); err == nil {
		t.Error("starttls mode sent in the clear")
	}
}

func TestPermanent(t *testing.T) {
	if notify.Permanent(errors.New("550 looks permanent but is not a SendError")) {
		t.Error("a plain error counted as permanent")
	}
}
