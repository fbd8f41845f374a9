package console_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/console"
	"github.com/kycreview/kycreview/internal/service"
)

var screenshots = flag.Bool("screenshots", false, "save screenshots of the console to docs/screenshots/")

// TestScreenshots renders the queue and a session page with some data and
// saves them for the README: go test ./internal/console/ -run TestScreenshots -screenshots
func TestScreenshots(t *testing.T) {
	if !*screenshots {
		t.Skip("run with -screenshots to update docs/screenshots/")
	}
	f := newFixture(t, sqliteBackend(), console.Config{})
	ctx := context.Background()
	d, err := f.svc.Decision(ctx, f.key, f.session.ID)
	if err != nil {
		t.Fatal(err)
	}
	inReview := kycreview.StatusInReview
	for i, vd := range []string{"cust-20931", "cust-20944", "cust-20950", "cust-20987", "cust-21002", "cust-21013"} {
		meta := []byte(`{"channel":"mobile","risk_score":` + string(rune('3'+i%5)) + `}`)
		s, err := f.svc.CreateSession(ctx, f.key, service.SessionInput{WorkflowID: d.Session.WorkflowID, VendorData: &vd, Metadata: meta})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Review(ctx, f.key, s.ID, kycreview.Change{NewStatus: &inReview}, nil); err != nil {
			t.Fatal(err)
		}
	}
	bob := f.bob
	note := "Selfie matches the document, but the address proof is 4 months old. @ana@example.com can you confirm our policy allows it?"
	if _, err := f.svc.ConsoleReview(ctx, bob, f.session.ID, nil, note); err != nil {
		t.Fatal(err)
	}

	bctx := newBrowser(t)
	signInByKeyboard(t, bctx, f.srv.URL, "ana@example.com")
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(name string, a chromedp.Action[[]byte]) {
		png := value(t, bctx, name, a)
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, bctx, "queue", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(f.srv.URL+"/console/"), chromedp.WaitVisible(chromedp.ID("queue")))
	save("queue.png", chromedp.CaptureScreenshot())
	run(t, bctx, "session", chromedp.EmulateViewport(1280, 820), chromedp.Navigate(f.srv.URL+"/console/sessions/"+f.session.ID), chromedp.WaitVisible(chromedp.ID("feed")))
	save("session.png", chromedp.CaptureScreenshot())
	run(t, bctx, "session on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("feed")))
	save("session-phone.png", chromedp.CaptureScreenshot())
}
