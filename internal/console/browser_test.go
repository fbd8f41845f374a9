package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kycreview/kycreview/internal/console"
)

// chromiumPath is Debian's chromium, which the browser tests drive.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts a headless chromium with a fresh profile and returns a
// context for driving it. Without chromium the test is skipped, except
// under CI, which must run it. On failure, a screenshot of the page is
// saved (its path is logged).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed at %s: CI must run the browser tests (apt-get install chromium)", chromiumPath)
		} else {
			t.Skipf("browser tests skipped: chromium is not installed (apt-get install chromium)")
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		if t.Failed() {
			saveScreenshot(t, ctx)
		}
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// saveScreenshot saves what the browser shows, for a failed test.
func saveScreenshot(t *testing.T, ctx context.Context) {
	dir := os.Getenv("KYCREVIEW_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "kycreview-console-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(sctx, chromedp.Location())
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png")
	if err := os.WriteFile(name, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot of %s saved to %s", loc, name)
}

// run runs steps in order; a failure fails the test.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs an action that returns a value; a failure fails the test.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// signInByKeyboard signs in using only the keyboard: the email field has
// focus on load, Tab reaches the password, Enter submits.
func signInByKeyboard(t *testing.T, ctx context.Context, base, email string) {
	t.Helper()
	run(t, ctx, "sign in as "+email,
		chromedp.Navigate(base+"/console/signin"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.KeyEvent(email),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(password),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".me-name")),
	)
}

// allLabelled is true when every visible form control on the page has a
// label.
const allLabelled = `[...document.querySelectorAll('input:not([type=hidden]), textarea, select')].every(e => e.labels && e.labels.length > 0)`

func TestBrowserReviewAndNotification(t *testing.T) {
	f := newFixture(t, sqliteBackend(), console.Config{})
	ctx := newBrowser(t)
	base := f.srv.URL

	run(t, ctx, "sign-in page", chromedp.Navigate(base+"/console/signin"))
	if !value(t, ctx, "labels", chromedp.Evaluate[bool](allLabelled)) {
		t.Error("the sign-in form has a control without a label")
	}
	signInByKeyboard(t, ctx, base, "ana@example.com")

	queue := value(t, ctx, "queue", chromedp.Text(chromedp.ID("queue")))
	if !strings.Contains(queue, "#1") || !strings.Contains(queue, "Acme Bank") || strings.Contains(queue, "Other Corp") {
		t.Fatalf("queue shows %q", queue)
	}

	// Open the session from the queue, write a comment using the @mention
	// suggestions (typing "@bo" and choosing with Enter), approve.
	run(t, ctx, "open the session",
		chromedp.Click(chromedp.CSS(`#queue a[href="/console/sessions/`+f.session.ID+`"]`)),
		chromedp.WaitVisible(chromedp.ID("review-form")),
	)
	if !value(t, ctx, "labels", chromedp.Evaluate[bool](allLabelled)) {
		t.Error("the review form has a control without a label")
	}
	run(t, ctx, "write the comment",
		chromedp.Focus(chromedp.ID("comment")),
		chromedp.KeyEvent("Documents verified; please double-check @bo"),
		chromedp.WaitVisible(chromedp.CSS("#mention-suggestions li")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.KeyEvent("thanks"),
	)
	if comment := value(t, ctx, "comment", chromedp.Value(chromedp.ID("comment"))); comment != "Documents verified; please double-check @bob@example.com thanks" {
		t.Errorf("comment after choosing a suggestion = %q", comment)
	}
	run(t, ctx, "approve",
		chromedp.Click(chromedp.ID("btn-approve")),
		chromedp.WaitVisible(chromedp.CSS(`#feed li[data-activity-type="STATUS_UPDATED"] .comment`)),
	)
	if status := value(t, ctx, "status", chromedp.Text(chromedp.ID("session-status"))); status != "Approved" {
		t.Errorf("status after approving = %q", status)
	}
	feed := value(t, ctx, "feed", chromedp.Text(chromedp.CSS("#feed .entry")))
	for _, want := range []string{"Ana Lead", "ana@example.com", "STATUS_UPDATED", "In Review", "Approved", "@bob@example.com thanks", "Mentioned: bob@example.com"} {
		if !strings.Contains(feed, want) {
			t.Errorf("newest feed row %q lacks %q", feed, want)
		}
	}
	// The same row through the API.
	row := feedRows(t, f)[0]
	if row["actor_type"] != "CONSOLE_USER" || row["new_status"] != "Approved" || row["actor_email"] != "ana@example.com" {
		t.Errorf("API row = %v", row)
	}

	// A POST without the CSRF token, from the signed-in page, is refused.
	post := fmt.Sprintf(`fetch('/console/sessions/%s/review', {method: 'POST', credentials: 'same-origin',
		body: new URLSearchParams({action: 'Declined', comment: 'forged'})}).then(r => r.status)`, f.session.ID)
	if code := value(t, ctx, "CSRF-less POST", chromedp.Evaluate[int](post, chromedp.EvalAwaitPromise)); code != 403 {
		t.Errorf("CSRF-less POST answered %d, want 403", code)
	}
	if n := len(feedRows(t, f)); n != 2 {
		t.Errorf("feed has %d rows after the refused POST, want 2", n)
	}

	// Sign out, then Bob signs in and sees the notification.
	run(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS(`form[action="/console/signout"] button`)),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	signInByKeyboard(t, ctx, base, "bob@example.com")
	badge := value(t, ctx, "badge", chromedp.Text(chromedp.ID("unread-badge")))
	run(t, ctx, "notifications page",
		chromedp.Click(chromedp.CSS(".notif-link")),
		chromedp.WaitVisible(chromedp.ID("notifications")),
	)
	note := value(t, ctx, "notification", chromedp.Text(chromedp.CSS("#notifications li.unread")))
	if badge != "1" || !strings.Contains(note, "Ana Lead mentioned you on session #1") || !strings.Contains(note, "please double-check") {
		t.Fatalf("badge %q, notification %q", badge, note)
	}
	run(t, ctx, "open the notification",
		chromedp.Click(chromedp.CSS("#notifications li.unread a")),
		chromedp.WaitVisible(chromedp.ID("review-form")),
	)
	if n := value(t, ctx, "badges", chromedp.Evaluate[int](`document.querySelectorAll('#unread-badge').length`)); n != 0 {
		t.Error("the unread badge is still shown after opening the notification")
	}
}
