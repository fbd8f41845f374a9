package console_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/console"
)

// The console's side of the security tests (issue 9, item 6): what a user
// of one application can see and do to another's sessions and
// notifications, hostile query values, and the form size limit.

// consoleCounts is what a console action may write, over every tenant.
type consoleCounts struct {
	acmeFeed, otherFeed, anaUnread, bobUnread, carolUnread int
	acmeStatus                                             kycreview.Status
}

func (f *fixture) counts(t *testing.T) consoleCounts {
	t.Helper()
	ctx := context.Background()
	var c consoleCounts
	for _, s := range []struct {
		key kycreview.APIKey
		id  string
		n   *int
	}{{f.key, f.session.ID, &c.acmeFeed}, {f.otherKey, f.other.ID, &c.otherFeed}} {
		_, n, err := f.svc.Feed(ctx, s.key, s.id, kycreview.FeedQuery{Ordering: kycreview.DefaultFeedOrdering(), Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		*s.n = n
	}
	for _, u := range []struct {
		id string
		n  *int
	}{{f.ana.ID, &c.anaUnread}, {f.bob.ID, &c.bobUnread}, {f.carol.ID, &c.carolUnread}} {
		in, err := f.svc.Notifications(ctx, u.id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		*u.n = in.Unread
	}
	d, err := f.svc.Decision(ctx, f.key, f.session.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.acmeStatus = d.Session.Status
	return c
}

// TestTenancyMatrix: Carol, a member of Other Corp only, gets the console's
// 404 page for every page and action on Acme's session (the page a missing
// session gets, so ids cannot be probed), never sees Acme's sessions or
// Ana's notifications, and nothing she does changes anything of Acme's.
func TestTenancyMatrix(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b, console.Config{})
		ctx := context.Background()
		// Ana has an unread notification on Acme's session.
		inReview := kycreview.StatusInReview
		note := "over to @ana@example.com"
		if _, err := f.svc.Review(ctx, f.key, f.session.ID, kycreview.Change{NewStatus: &inReview, Comment: &note}, nil); err != nil {
			t.Fatal(err)
		}
		anaInbox, err := f.svc.Notifications(ctx, f.ana.ID, 10, 0)
		if err != nil || anaInbox.Unread != 1 {
			t.Fatalf("Ana's inbox: %+v %v", anaInbox, err)
		}
		anaNote := anaInbox.Notifications[0].ID

		carol := f.browser(t)
		tok := carol.signIn("carol@example.com")
		missing := carol.get("/console/sessions/5d2c1a3e-0b7f-4c8e-9a61-2f4e8d9b7c10")
		if missing.code != http.StatusNotFound {
			t.Fatalf("a session that does not exist: %d", missing.code)
		}
		before := f.counts(t)
		acme := "/console/sessions/" + f.session.ID
		cases := []struct {
			name, method, path string
			form               url.Values
		}{
			{"session page", "GET", acme, nil},
			{"session page, upper-case id", "GET", "/console/sessions/" + strings.ToUpper(f.session.ID), nil},
			{"session page opened from Ana's notification", "GET", acme + "?n=" + anaNote, nil},
			{"approve", "POST", acme + "/review", url.Values{"action": {"Approved"}, "comment": {"mine now"}, "csrf": {tok}}},
			{"decline", "POST", acme + "/review", url.Values{"action": {"Declined"}, "csrf": {tok}}},
			{"in review", "POST", acme + "/review", url.Values{"action": {"In Review"}, "csrf": {tok}}},
			{"comment", "POST", acme + "/review", url.Values{"action": {"comment"}, "comment": {"hello @ana@example.com"}, "csrf": {tok}}},
			{"comment without an action", "POST", acme + "/review", url.Values{"comment": {"x"}, "csrf": {tok}}},
		}
		for _, c := range cases {
			p := carol.do(c.method, c.path, c.form)
			if p.code != http.StatusNotFound || !samePage(p.body, missing.body) {
				t.Errorf("%s: %d, want the 404 page\n%s", c.name, p.code, p.body)
			}
			for _, leak := range []string{f.appName, "Acme Bank-customer-1", note} {
				if strings.Contains(p.body, leak) {
					t.Errorf("%s: the page shows %q", c.name, leak)
				}
			}
		}
		if after := f.counts(t); after != before {
			t.Errorf("Carol's requests changed Acme's data:\nbefore %+v\nafter  %+v", before, after)
		}

		// Her queue, under every status, and her inbox show nothing of Acme's.
		for _, st := range kycreview.Statuses() {
			q := carol.get("/console/?status=" + url.QueryEscape(string(st)))
			if q.code != http.StatusOK || strings.Contains(q.body, f.session.ID) || strings.Contains(q.body, f.appName) {
				t.Errorf("queue %s: %d, or it shows Acme's session", st, q.code)
			}
		}
		// The counts per status are Other's alone: one session, in review.
		q := carol.get("/console/")
		if !strings.Contains(q.body, f.other.ID) {
			t.Errorf("Carol's queue lacks her own session")
		}
		n := carol.get("/console/notifications")
		if n.code != http.StatusOK || strings.Contains(n.body, f.session.ID) || strings.Contains(n.body, anaNote) {
			t.Errorf("Carol's notifications: %d, or they show Ana's", n.code)
		}
		// Opening her own session with Ana's notification id, and marking
		// all of hers read, leave Ana's unread.
		if p := carol.get("/console/sessions/" + f.other.ID + "?n=" + anaNote); p.code != http.StatusOK {
			t.Errorf("own session with a foreign notification id: %d", p.code)
		}
		if p := carol.post("/console/notifications/read", url.Values{"csrf": {tok}}); p.code != http.StatusSeeOther {
			t.Errorf("mark all read: %d", p.code)
		}
		// A mention of Ana on Other's session is plain text: Ana is not
		// Other's member.
		if p := carol.post("/console/sessions/"+f.other.ID+"/review", url.Values{"action": {"comment"}, "comment": {"ask @ana@example.com"}, "csrf": {tok}}); p.code != http.StatusSeeOther {
			t.Fatalf("comment on her own session: %d\n%s", p.code, p.body)
		}
		after := f.counts(t)
		if after.anaUnread != 1 || after.acmeFeed != before.acmeFeed || after.acmeStatus != before.acmeStatus {
			t.Errorf("after Carol's own actions: %+v (before %+v)", after, before)
		}
		entries, _, err := f.svc.Feed(ctx, f.otherKey, f.other.ID, kycreview.FeedQuery{Ordering: kycreview.DefaultFeedOrdering(), Limit: 1})
		if err != nil || !strings.Contains(string(entries[0]), `"mentioned_emails":[]`) {
			t.Errorf("Carol's comment: %s %v", entries, err)
		}
	})
}

// samePage reports whether two console pages are the same apart from the
// per-request CSRF token.
func samePage(a, b string) bool {
	return csrfRE.ReplaceAllString(a, "") == csrfRE.ReplaceAllString(b, "")
}

// TestHostileQueryValues: query values shaped as SQL get a page, never a
// 500, and change nothing.
func TestHostileQueryValues(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b, console.Config{})
		ana := f.browser(t)
		ana.signIn("ana@example.com")
		before := f.counts(t)
		for _, path := range []string{
			"/console/?status=" + url.QueryEscape("In Review' OR '1'='1"),
			"/console/?status=" + url.QueryEscape("'; DROP TABLE sessions; --"),
			"/console/?page=" + url.QueryEscape("1; DROP TABLE sessions"),
			"/console/?page=-1",
			"/console/?page=9223372036854775807",
			"/console/?page=99999999999999999999",
			"/console/?page=368934881474191033", // (page-1)*25 wraps around int64
			"/console/notifications?page=9223372036854775807",
			"/console/notifications?page=" + url.QueryEscape("' OR 1=1 --"),
			"/console/sessions/" + url.PathEscape("' OR '1'='1"),
			"/console/sessions/" + f.session.ID + "?n=" + url.QueryEscape("' OR 1=1 --"),
		} {
			p := ana.get(path)
			if p.code != http.StatusOK && p.code != http.StatusNotFound {
				t.Errorf("GET %s: %d\n%s", path, p.code, p.body)
			}
		}
		// The queue still works, and nothing changed.
		if q := ana.get("/console/"); q.code != http.StatusOK || !strings.Contains(q.body, f.session.ID) {
			t.Errorf("queue after: %d", q.code)
		}
		if after := f.counts(t); after != before {
			t.Errorf("hostile queries changed data: %+v, before %+v", after, before)
		}
	})
}

// TestLongCommentForm: the console takes every comment the API takes. A
// comment at the 10000-character limit in a script of three-byte UTF-8
// characters is about 90 KB form-encoded (each byte becomes %XX), and four-
// byte characters about 120 KB; a form beyond the console's limit is 413,
// and writes nothing.
func TestLongCommentForm(t *testing.T) {
	f := newFixture(t, sqliteBackend(), console.Config{})
	ana := f.browser(t)
	tok := ana.signIn("ana@example.com")
	review := "/console/sessions/" + f.session.ID + "/review"
	for _, r := range []string{"語", "😀"} {
		comment := strings.Repeat(r, kycreview.MaxCommentLength)
		if p := ana.post(review, url.Values{"action": {"comment"}, "comment": {comment}, "csrf": {tok}}); p.code != http.StatusSeeOther {
			t.Fatalf("a %d-character comment of %q: %d\n%.300s", kycreview.MaxCommentLength, r, p.code, p.body)
		}
		if got := feedRows(t, f)[0]["comment"]; got != comment {
			t.Errorf("the stored comment is not the one sent (%d characters)", len([]rune(got.(string))))
		}
	}
	// One character more: the service's message, on the session page, with
	// the text kept.
	p := ana.post(review, url.Values{"action": {"comment"}, "comment": {strings.Repeat("語", kycreview.MaxCommentLength+1)}, "csrf": {tok}})
	if p.code != http.StatusBadRequest || !strings.Contains(p.body, "Ensure this field has no more than 10000 characters.") {
		t.Errorf("an over-long comment: %d\n%.300s", p.code, p.body)
	}
	before := f.counts(t)
	huge := strings.Repeat("x", 1<<20)
	p = ana.post(review, url.Values{"action": {"comment"}, "comment": {huge}, "csrf": {tok}})
	if p.code != http.StatusRequestEntityTooLarge || !strings.Contains(p.body, "The form is too large.") {
		t.Errorf("a 1 MiB form: %d\n%.300s", p.code, p.body)
	}
	// The sign-in form too.
	br := f.browser(t)
	p = br.post("/console/signin", url.Values{"csrf": {br.csrf(br.get("/console/signin"))}, "email": {"ana@example.com"}, "password": {huge}})
	if p.code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1 MiB sign-in form: %d", p.code)
	}
	if after := f.counts(t); after != before {
		t.Errorf("an oversized form wrote: %+v, before %+v", after, before)
	}
}

// TestStaticFilesOnly: /console/static/ serves the embedded files and
// nothing else: no directory listing, nothing outside the directory (the
// templates are embedded too, in another file system), and the console's
// own 404 page for the rest, never a 500.
func TestStaticFilesOnly(t *testing.T) {
	f := newFixture(t, sqliteBackend(), console.Config{})
	css, err := os.ReadFile("static/console.css")
	if err != nil {
		t.Fatal(err)
	}
	br := f.browser(t)
	if p := br.get("/console/static/console.css"); p.code != http.StatusOK || p.body != string(css) {
		t.Fatalf("the stylesheet: %d", p.code)
	}
	for _, path := range []string{
		"/console/static/",
		"/console/static",
		"/console/static/nope.css",
		"/console/static/%2e%2e/templates/layout.html",
		"/console/static/..%2ftemplates%2flayout.html",
		"/console/static/%2e%2e%2f%2e%2e%2fconsole.go",
		"/console/static/..%5ctemplates%5clayout.html",
		"/console/static/console.css%00.png",
		"/console/static/%252e%252e/templates/layout.html",
		"/console/static/console.css/",
		"/console/static/.%2fconsole.css/",
	} {
		req, err := http.NewRequest("GET", f.srv.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = path // sent as is, not cleaned by the client
		resp, err := br.c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && !(resp.StatusCode >= 300 && resp.StatusCode < 400) {
			t.Errorf("GET %s: %d, want 404 or a redirect\n%.200s", path, resp.StatusCode, body)
		}
		for _, leak := range []string{"<pre>", `<a href="console.css">`, `{{define`, "package console"} {
			if strings.Contains(string(body), leak) {
				t.Errorf("GET %s: the answer holds %q:\n%.300s", path, leak, body)
			}
		}
		if resp.StatusCode == http.StatusNotFound && !strings.Contains(string(body), "Page not found.") {
			t.Errorf("GET %s: not the console's 404 page:\n%.200s", path, body)
		}
	}
}
