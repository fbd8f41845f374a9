package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
)

func claimed(comment string) kycreview.ClaimedNotification {
	approved := kycreview.StatusApproved
	return kycreview.ClaimedNotification{
		ID: "n1", Application: "Acme Bank", Email: "Ana@Example.com", FullName: "Ana Lead",
		SessionID: "3f1c3c4e-8a55-4e1b-9b0e-6d1f0c2d7a10", SessionNumber: 42, Actor: "API Client",
		Comment: &comment, NewStatus: &approved, At: time.Date(2026, 6, 12, 0, 0, 0, 0, time.UTC),
	}
}

func TestRender(t *testing.T) {
	m, err := Render(claimed("Address matches. @ana@example.com please re-check\nline two"), "https://kyc.example.com/base/")
	if err != nil {
		t.Fatal(err)
	}
	link := "https://kyc.example.com/base/console/sessions/3f1c3c4e-8a55-4e1b-9b0e-6d1f0c2d7a10"
	if m.To != "Ana@Example.com" || m.ToName != "Ana Lead" {
		t.Errorf("recipient %q %q", m.ToName, m.To)
	}
	if want := "[Acme Bank] API Client mentioned you on session #42"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	for name, part := range map[string]string{"text": m.Text, "html": m.HTML} {
		for _, want := range []string{link, "Ana Lead", "API Client", "#42", "Acme Bank", "Approved", "please re-check", "line two"} {
			if !strings.Contains(part, want) {
				t.Errorf("%s part lacks %q:\n%s", name, want, part)
			}
		}
	}
	if !strings.Contains(m.HTML, `href="`+link+`"`) {
		t.Errorf("html part has no link to %s:\n%s", link, m.HTML)
	}
}

// TestRenderEscapesHTML: a comment, a name or an application holding markup
// shows as text in the HTML part and adds no element or attribute.
func TestRenderEscapesHTML(t *testing.T) {
	n := claimed(`<script>alert(1)</script> <a href="https://evil.example">click</a> "><img src=x onerror=alert(2)>`)
	n.Actor = "<b>Mallory</b>"
	n.Application = `Acme <i>"Bank"</i>`
	n.FullName = "<u>Ana</u>"
	m, err := Render(n, "https://kyc.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<a href=\"https://evil", "<img", "<b>", "<i>", "<u>"} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("html part contains %q:\n%s", bad, m.HTML)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;Mallory&lt;/b&gt;", "&lt;img src=x onerror=alert(2)&gt;"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("html part lacks the escaped %q:\n%s", want, m.HTML)
		}
	}
	// The text part is text: the comment as written.
	if !strings.Contains(m.Text, "<script>alert(1)</script>") {
		t.Errorf("text part changed the comment:\n%s", m.Text)
	}
}

func TestRenderOneLineSubject(t *testing.T) {
	n := claimed("hi")
	n.Actor = "Eve\r\nBcc: victim@example.com"
	m, err := Render(n, "https://kyc.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") || strings.ContainsAny(m.ToName, "\r\n") {
		t.Errorf("subject %q has a line break", m.Subject)
	}
}

func TestRenderWithoutCommentOrName(t *testing.T) {
	n := claimed("")
	n.Comment, n.NewStatus, n.FullName = nil, nil, ""
	m, err := Render(n, "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "Hi Ana@Example.com,") || strings.Contains(m.HTML, "<blockquote") || strings.Contains(m.Text, "setting its status") {
		t.Errorf("text:\n%s\nhtml:\n%s", m.Text, m.HTML)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Base: 30 * time.Second, Max: 2 * time.Hour, Attempts: 10}
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, 64 * time.Minute, 2 * time.Hour}
	for i, w := range want {
		next, ok := b.Next(i+1, end)
		if !ok || next.Sub(end) != w {
			t.Errorf("after attempt %d: %v %v, want %v", i+1, next.Sub(end), ok, w)
		}
	}
	if _, ok := b.Next(10, end); ok {
		t.Error("a retry after the last attempt")
	}
	b.Jitter = 0.2
	for range 100 {
		next, _ := b.Next(1, end)
		if d := next.Sub(end); d < 24*time.Second || d > 36*time.Second {
			t.Fatalf("jittered wait %v outside ±20%% of 30s", d)
		}
	}
}

func TestParseTLSMode(t *testing.T) {
	for s, port := range map[string]int{"none": 25, "starttls": 587, "tls": 465} {
		m, err := ParseTLSMode(s)
		if err != nil || m.DefaultPort() != port {
			t.Errorf("%s: %v %v", s, m.DefaultPort(), err)
		}
	}
	if _, err := ParseTLSMode("ssl"); err == nil {
		t.Error("ssl accepted")
	}
}
