package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/console"
)

func TestSignIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b, console.Config{})
		br := f.browser(t)

		// Signed out: pages send to the sign-in form, keeping where to go.
		p := br.get("/console/sessions/" + f.session.ID)
		if p.code != http.StatusSeeOther || !strings.HasPrefix(p.resp.Header.Get("Location"), "/console/signin?next=") {
			t.Fatalf("signed-out session page: %d %q", p.code, p.resp.Header.Get("Location"))
		}

		// A wrong password and an unknown account get the same answer.
		var bodies []string
		for _, email := range []string{"ana@example.com", "nobody@example.com"} {
			form := url.Values{"csrf": {br.csrf(br.get("/console/signin"))}, "email": {email}, "password": {"wrong password!"}}
			p := br.post("/console/signin", form)
			if p.code != http.StatusForbidden || !strings.Contains(p.body, "Invalid email or password.") {
				t.Fatalf("bad sign-in as %s: %d\n%s", email, p.code, p.body)
			}
			bodies = append(bodies, strings.ReplaceAll(csrfRE.ReplaceAllString(p.body, ""), email, "EMAIL"))
		}
		if bodies[0] != bodies[1] {
			t.Errorf("the pages for a wrong password and an unknown account differ")
		}

		form := url.Values{"csrf": {br.csrf(br.get("/console/signin"))}, "email": {"ANA@example.com"}, "password": {password}}
		p = br.post("/console/signin", form)
		if p.code != http.StatusSeeOther || p.resp.Header.Get("Location") != "/console/" {
			t.Fatalf("sign-in: %d %q", p.code, p.resp.Header.Get("Location"))
		}
		var cookie *http.Cookie
		for _, c := range p.resp.Cookies() {
			if c.Name == "kycreview_console" {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || cookie.Path != "/console/" {
			t.Fatalf("sign-in cookie = %+v, want HttpOnly, SameSite=Lax, not Secure over http, Path /console/", cookie)
		}
		q := br.get("/console/")
		if q.code != http.StatusOK || !strings.Contains(q.body, "Ana Lead") || !strings.Contains(q.body, f.session.ID) {
			t.Fatalf("queue: %d\n%s", q.code, q.body)
		}

		// Sign out ends the sign-in on the server: the old cookie is dead.
		p = br.post("/console/signout", url.Values{"csrf": {br.csrf(q)}})
		if p.code != http.StatusSeeOther {
			t.Fatalf("sign out: %d", p.code)
		}
		if _, _, err := f.svc.ConsoleAuth(context.Background(), cookie.Value); err == nil {
			t.Fatal("the sign-in still works after sign-out")
		}
		if p := br.get("/console/"); p.code != http.StatusSeeOther {
			t.Fatalf("queue after sign-out: %d", p.code)
		}
	})
}

func TestSecureCookieBehindProxy(t *testing.T) {
	for _, tc := range []struct {
		cfg    console.Config
		header string
		secure bool
	}{
		{console.Config{TrustForwardedHeaders: true}, "https", true},
		{console.Config{TrustForwardedHeaders: false}, "https", false},
		{console.Config{TrustForwardedHeaders: true}, "", false},
		{console.Config{CookieSecure: console.CookieSecureAlways}, "", true},
	} {
		f := newFixture(t, sqliteBackend(), tc.cfg)
		br := f.browser(t)
		if tc.header != "" {
			br.h.Set("X-Forwarded-Proto", tc.header)
		}
		p := br.get("/console/signin")
		var got *http.Cookie
		for _, c := range p.resp.Cookies() {
			got = c
		}
		if got == nil || got.Secure != tc.secure {
			t.Errorf("%+v, X-Forwarded-Proto %q: cookie %+v, want Secure=%v", tc.cfg, tc.header, got, tc.secure)
		}
	}
}

func TestSignInRateLimit(t *testing.T) {
	f := newFixture(t, sqliteBackend(), console.Config{AccountFailures: 3, AddressFailures: 100})
	br := f.browser(t)
	attempt := func(email, pw string) page {
		return br.post("/console/signin", url.Values{"csrf": {br.csrf(br.get("/console/signin"))}, "email": {email}, "password": {pw}})
	}
	for range 3 {
		if p := attempt("ana@example.com", "wrong password!"); p.code != http.StatusForbidden {
			t.Fatalf("failure: %d", p.code)
		}
	}
	// The account is now locked, even with its right password...
	if p := attempt("ana@example.com", password); p.code != http.StatusTooManyRequests || strings.Contains(p.body, "Ana") {
		t.Fatalf("over the account limit: %d", p.code)
	}
	// ...and an unknown account is limited the same way, revealing nothing.
	for range 3 {
		attempt("ghost@example.com", "wrong password!")
	}
	if p := attempt("ghost@example.com", password); p.code != http.StatusTooManyRequests {
		t.Fatalf("unknown account over the limit: %d", p.code)
	}
	// Other accounts are not affected.
	br.signIn("bob@example.com")

	// Per address: a second console with a low address limit.
	g := newFixture(t, sqliteBackend(), console.Config{AccountFailures: 100, AddressFailures: 2})
	gb := g.browser(t)
	for _, e := range []string{"x@example.com", "y@example.com"} {
		gb.post("/console/signin", url.Values{"csrf": {gb.csrf(gb.get("/console/signin"))}, "email": {e}, "password": {"nope nope"}})
	}
	p := gb.post("/console/signin", url.Values{"csrf": {gb.csrf(gb.get("/console/signin"))}, "email": {"ana@example.com"}, "password": {password}})
	if p.code != http.StatusTooManyRequests {
		t.Fatalf("over the address limit: %d", p.code)
	}
}

func feedRows(t *testing.T, f *fixture) []map[string]any {
	t.Helper()
	entries, _, err := f.svc.Feed(context.Background(), f.key, f.session.ID, kycreview.FeedQuery{Ordering: kycreview.DefaultFeedOrdering(), Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range entries {
		var m map[string]any
		if err := json.Unmarshal(e, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestCSRF(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b, console.Config{})
		br := f.browser(t)

		// The sign-in form: no token, or one not matching the cookie.
		for _, tok := range []string{"", "forged"} {
			br.get("/console/signin")
			p := br.post("/console/signin", url.Values{"csrf": {tok}, "email": {"ana@example.com"}, "password": {password}})
			if p.code != http.StatusForbidden {
				t.Fatalf("sign-in with csrf %q: %d", tok, p.code)
			}
		}

		good := br.signIn("ana@example.com")
		before := len(feedRows(t, f))
		review := "/console/sessions/" + f.session.ID + "/review"
		for _, form := range []url.Values{
			{"action": {"Approved"}, "comment": {"no token"}},
			{"action": {"Approved"}, "comment": {"wrong token"}, "csrf": {"x" + good}},
		} {
			if p := br.post(review, form); p.code != http.StatusForbidden {
				t.Fatalf("review %v: %d", form, p.code)
			}
		}
		if p := br.post("/console/signout", url.Values{}); p.code != http.StatusForbidden {
			t.Fatalf("sign-out without a token: %d", p.code)
		}
		if p := br.post("/console/notifications/read", url.Values{"csrf": {"nope"}}); p.code != http.StatusForbidden {
			t.Fatalf("mark read with a wrong token: %d", p.code)
		}
		// Another user's token is no good either.
		other := f.browser(t)
		carolTok := other.signIn("carol@example.com")
		if p := br.post(review, url.Values{"action": {"Approved"}, "csrf": {carolTok}}); p.code != http.StatusForbidden {
			t.Fatalf("review with another sign-in's token: %d", p.code)
		}
		if n := len(feedRows(t, f)); n != before {
			t.Fatalf("refused posts wrote %d rows", n-before)
		}
		// And the right token works.
		if p := br.post(review, url.Values{"action": {"Approved"}, "csrf": {good}}); p.code != http.StatusSeeOther {
			t.Fatalf("review with the token: %d\n%s", p.code, p.body)
		}
	})
}

func TestTenancy(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b, console.Config{})
		carol := f.browser(t)
		tok := carol.signIn("carol@example.com")

		q := carol.get("/console/")
		if strings.Contains(q.body, f.session.ID) || !strings.Contains(q.body, f.other.ID) {
			t.Fatalf("Carol's queue shows the wrong sessions:\n%s", q.body)
		}
		if p := carol.get("/console/sessions/" + f.session.ID); p.code != http.StatusNotFound {
			t.Fatalf("another tenant's session page: %d", p.code)
		}
		if p := carol.get("/console/sessions/" + f.other.ID); p.code != http.StatusOK {
			t.Fatalf("own session page: %d", p.code)
		}
		if p := carol.get("/console/sessions/not-a-uuid"); p.code != http.StatusNotFound {
			t.Fatalf("bad id: %d", p.code)
		}
		before := len(feedRows(t, f))
		p := carol.post("/console/sessions/"+f.session.ID+"/review", url.Values{"action": {"Declined"}, "comment": {"hi"}, "csrf": {tok}})
		if p.code != http.StatusNotFound {
			t.Fatalf("review of another tenant's session: %d", p.code)
		}
		if n := len(feedRows(t, f)); n != before {
			t.Fatal("a review of another tenant's session was written")
		}

		// Leaving the application takes its sessions away at once.
		ana := f.browser(t)
		ana.signIn("ana@example.com")
		if _, err := f.svc.RemoveMember(context.Background(), f.key.ApplicationID, "ana@example.com"); err != nil {
			t.Fatal(err)
		}
		if p := ana.get("/console/sessions/" + f.session.ID); p.code != http.StatusNotFound {
			t.Fatalf("session page after leaving the application: %d", p.code)
		}
	})
}

func TestReviewWritesRows(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b, console.Config{})
		ana := f.browser(t)
		tok := ana.signIn("ana@example.com")
		review := "/console/sessions/" + f.session.ID + "/review"

		p := ana.post(review, url.Values{"action": {"Approved"}, "comment": {"  Looks good, @BOB@example.com and @stranger@example.com.  "}, "csrf": {tok}})
		if p.code != http.StatusSeeOther {
			t.Fatalf("approve: %d\n%s", p.code, p.body)
		}
		rows := feedRows(t, f)
		got := rows[0]
		want := map[string]any{
			"activity_type": "STATUS_UPDATED", "actor_type": "CONSOLE_USER", "actor_display": "Ana Lead",
			"actor_email": "ana@example.com", "previous_status": "In Review", "new_status": "Approved",
			"comment": "Looks good, @BOB@example.com and @stranger@example.com.",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		if m, _ := got["mentioned_emails"].([]any); len(m) != 1 || m[0] != "bob@example.com" {
			t.Errorf("mentioned_emails = %v", got["mentioned_emails"])
		}
		if cf, _ := got["changed_fields"].([]any); len(cf) != 1 || cf[0] != "status" {
			t.Errorf("changed_fields = %v", got["changed_fields"])
		}
		d, err := f.svc.Decision(context.Background(), f.key, f.session.ID)
		if err != nil || d.Session.Status != kycreview.StatusApproved {
			t.Fatalf("session after approval: %v %v", d.Session.Status, err)
		}

		// A comment alone: COMMENT, no status.
		p = ana.post(review, url.Values{"action": {"comment"}, "comment": {"Filed."}, "csrf": {tok}})
		if p.code != http.StatusSeeOther {
			t.Fatalf("comment: %d\n%s", p.code, p.body)
		}
		got = feedRows(t, f)[0]
		if got["activity_type"] != "COMMENT" || got["new_status"] != nil || got["comment"] != "Filed." {
			t.Errorf("comment row = %v", got)
		}
		// An empty comment alone and an unknown action are refused, writing nothing.
		n := len(feedRows(t, f))
		for _, form := range []url.Values{
			{"action": {"comment"}, "comment": {"   "}, "csrf": {tok}},
			{"action": {"Resubmitted"}, "csrf": {tok}},
		} {
			if p := ana.post(review, form); p.code != http.StatusBadRequest {
				t.Errorf("%v: %d", form, p.code)
			}
		}
		if len(feedRows(t, f)) != n {
			t.Error("a refused review wrote a row")
		}

		// The session page shows the feed.
		sp := ana.get("/console/sessions/" + f.session.ID)
		for _, s := range []string{"Looks good, @BOB@example.com", "Filed.", "Ana Lead", "Acme Bank", "&#34;country&#34;: &#34;PT&#34;", "Acme Bank-customer-1"} {
			if !strings.Contains(sp.body, s) {
				t.Errorf("session page lacks %q", s)
			}
		}

		// Bob is notified; opening the notification marks it read.
		bob := f.browser(t)
		bob.signIn("bob@example.com")
		np := bob.get("/console/notifications")
		if !strings.Contains(np.body, `id="unread-badge" aria-label="1 unread">1<`) || !strings.Contains(np.body, "Ana Lead") {
			t.Fatalf("Bob's notifications:\n%s", np.body)
		}
		in, _ := f.svc.Notifications(context.Background(), f.bob.ID, 10, 0)
		if len(in.Notifications) != 1 {
			t.Fatalf("Bob has %d notifications", len(in.Notifications))
		}
		link := "/console/sessions/" + f.session.ID + "?n=" + in.Notifications[0].ID
		if !strings.Contains(np.body, strings.ReplaceAll(link, "?", "?")) {
			t.Errorf("no link %s", link)
		}
		if p := bob.get(link); p.code != http.StatusOK || strings.Contains(p.body, "unread-badge") {
			t.Fatalf("opening the notification: %d", p.code)
		}
		if in, _ := f.svc.Notifications(context.Background(), f.bob.ID, 10, 0); in.Unread != 0 {
			t.Errorf("unread after opening = %d", in.Unread)
		}
		// The stranger was not notified and not listed.
		if in, _ := f.svc.Notifications(context.Background(), f.ana.ID, 10, 0); in.Count != 0 {
			t.Errorf("Ana has %d notifications", in.Count)
		}
	})
}

func TestQueue(t *testing.T) {
	f := newFixture(t, sqliteBackend(), console.Config{})
	ctx := context.Background()
	// 30 more sessions In Review: two pages, newest first.
	d, err := f.svc.Decision(ctx, f.key, f.session.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 30 {
		s, err := f.svc.CreateSession(ctx, f.key, serviceInput(d.Session.WorkflowID))
		if err != nil {
			t.Fatal(err)
		}
		st := kycreview.StatusInReview
		if _, err := f.svc.Review(ctx, f.key, s.ID, kycreview.Change{NewStatus: &st}, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	br := f.browser(t)
	br.signIn("ana@example.com")
	p1 := br.get("/console/")
	if !strings.Contains(p1.body, `aria-current="page">In Review <span class="count">31</span>`) {
		t.Errorf("In Review tab count missing:\n%s", p1.body)
	}
	if !strings.Contains(p1.body, ids[29]) || strings.Index(p1.body, ids[29]) > strings.Index(p1.body, ids[28]) {
		t.Error("page 1 is not newest first")
	}
	if strings.Contains(p1.body, f.session.ID) {
		t.Error("the oldest session is on page 1 of 2")
	}
	p2 := br.get("/console/?status=In+Review&page=2")
	if !strings.Contains(p2.body, f.session.ID) || !strings.Contains(p2.body, "Page 2 of 2") {
		t.Errorf("page 2:\n%s", p2.body)
	}
	// Another status filter.
	if p := br.get("/console/?status=Not+Started"); strings.Contains(p.body, f.session.ID) || !strings.Contains(p.body, "No sessions are Not Started") {
		t.Errorf("Not Started filter:\n%s", p.body)
	}
}

// TestReviewQueuesWebhook: a console status change queues status.updated
// for the application's destinations; a comment alone does not.
func TestReviewQueuesWebhook(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b, console.Config{})
		ctx := context.Background()
		label, u := "hooks", "https://hooks.example.com/kyc"
		events := []string{"status.updated"}
		enabled := true
		dest, err := f.svc.CreateDestination(ctx, f.key, kycreview.DestinationInput{Label: &label, URL: &u, Enabled: &enabled, SubscribedEvents: &events})
		if err != nil {
			t.Fatal(err)
		}
		deliveries := func() []kycreview.Delivery {
			t.Helper()
			ds, _, err := f.svc.Deliveries(ctx, f.key, dest.ID, 50, 0)
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}
		ana := f.browser(t)
		tok := ana.signIn("ana@example.com")
		review := "/console/sessions/" + f.session.ID + "/review"
		if p := ana.post(review, url.Values{"action": {"comment"}, "comment": {"just a note"}, "csrf": {tok}}); p.code != http.StatusSeeOther {
			t.Fatalf("comment: %d", p.code)
		}
		if n := len(deliveries()); n != 0 {
			t.Fatalf("a comment alone queued %d deliveries", n)
		}
		if p := ana.post(review, url.Values{"action": {"Declined"}, "csrf": {tok}}); p.code != http.StatusSeeOther {
			t.Fatalf("decline: %d", p.code)
		}
		ds := deliveries()
		if len(ds) != 1 || ds[0].EventType != "status.updated" || ds[0].SessionID != f.session.ID {
			t.Fatalf("deliveries after a decline: %+v", ds)
		}
		body, err := f.svc.EventBody(ctx, ds[0].EventID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), `"status":"Declined"`) {
			t.Errorf("event body %s", body)
		}
	})
}
