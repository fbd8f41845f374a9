package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/client"
)

// The request-level error bodies of SPEC §2, byte for byte.
const (
	detailForbidden       = `{"detail":"You do not have permission to perform this action."}`
	detailSessionNotFound = `{"detail":"Session not found."}`
	detailPathNotFound    = `{"detail":"Not found."}`
)

// errUnknownID is a well-formed session id that no session has.
const errUnknownID = "5d2c1a3e-0b7f-4c8e-9a61-2f4e8d9b7c10"

// writeCounts is how many rows the tables a request may write hold, so a
// test can show a refused request wrote nothing.
type writeCounts struct {
	sessions, live, activities, outbox, notifications int
}

func (e *env) writeCounts() writeCounts {
	e.t.Helper()
	return writeCounts{
		sessions:      e.count(`SELECT count(*) FROM sessions`),
		live:          e.count(`SELECT count(*) FROM sessions WHERE deleted_at IS NULL`),
		activities:    e.count(`SELECT count(*) FROM activities`),
		outbox:        e.count(`SELECT count(*) FROM webhook_outbox`),
		notifications: e.count(`SELECT count(*) FROM notifications`),
	}
}

// sameWrites fails t if the database's row counts moved since before.
func (e *env) sameWrites(t *testing.T, before writeCounts) {
	t.Helper()
	if after := e.writeCounts(); after != before {
		t.Errorf("a refused request wrote to the database: rows before %+v, after %+v", before, after)
	}
}

// expectAt is expect for a request named what among many.
func expectAt(t *testing.T, what string, got response, status int, body string) {
	t.Helper()
	if got.status != status || got.body != body {
		t.Errorf("%s: got %d %s\nwant %d %s", what, got.status, got.body, status, body)
	}
	if body != "" && got.header.Get("Content-Type") != "application/json" {
		t.Errorf("%s: Content-Type = %q, want application/json", what, got.header.Get("Content-Type"))
	}
}

// noRedirect fails t if res is a redirect of any kind.
func noRedirect(t *testing.T, what string, res response) {
	t.Helper()
	if res.status >= 300 && res.status < 400 {
		t.Errorf("%s: redirected with %d", what, res.status)
	}
	if loc := res.header.Get("Location"); loc != "" {
		t.Errorf("%s: Location header %q", what, loc)
	}
}

// TestAuthRefused sends every authenticated endpoint a missing, empty,
// malformed, unknown, wrong-secret and revoked key: each is the same 403,
// before the session lookup, the method check and the body are looked at
// (SPEC §2), and nothing is written.
func TestAuthRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.newSession(kycreview.KindUser)
	e.moveTo(id, kycreview.StatusInReview) // so a working key could update it
	wf := e.app.Workflows[kycreview.KindUser].ID

	// The env's key works before it is revoked, so the revoked case below
	// fails for the revocation and nothing else.
	if res := e.do("GET", "/v3/session/"+id+"/decision/", "", e.key()); res.status != 200 {
		t.Fatalf("decision with a live key: %d %s", res.status, res.body)
	}
	// Same lookup prefix as a real key, different secret.
	wrongSecret := e.token[:len(e.token)-1] + "A"
	if wrongSecret == e.token {
		wrongSecret = e.token[:len(e.token)-1] + "B"
	}
	revoked := e.key()
	if err := e.svc.RevokeAPIKey(ctx, e.app.KeyID); err != nil {
		t.Fatal(err)
	}
	before := e.writeCounts()

	keys := []struct {
		name   string
		header []string
	}{
		{"missing", nil},
		{"empty", []string{"x-api-key: "}},
		{"malformed", []string{"x-api-key: not-a-key"}},
		{"unknown", []string{"x-api-key: kyc_" + strings.Repeat("A", 43)}},
		{"wrong secret", []string{"x-api-key: " + wrongSecret}},
		{"revoked", []string{revoked}},
	}
	reviewBody := `{"new_status":"Approved","comment":"x"}`
	requests := []struct {
		name, method, path, body string
		headers                  []string
	}{
		{"feed", "GET", "/v3/sessions/" + id + "/reviews/", "", nil},
		{"review", "POST", "/v3/sessions/" + id + "/reviews/", reviewBody, []string{jsonType}},
		{"create session", "POST", "/v3/session/", `{"workflow_id":"` + wf + `"}`, []string{jsonType}},
		{"decision", "GET", "/v3/session/" + id + "/decision/", "", nil},
		{"list", "GET", "/v3/sessions/", "", nil},
		{"delete", "DELETE", "/v3/session/" + id + "/delete/", "", nil},
		{"update status", "PATCH", "/v3/session/" + id + "/update-status/", `{"new_status":"Approved"}`, []string{jsonType}},
		{"options", "OPTIONS", "/v3/sessions/" + id + "/reviews/", "", nil},

		// Auth comes before the session lookup: an unknown or malformed id
		// is not a 404 for a caller without a valid key.
		{"feed of unknown session", "GET", "/v3/sessions/" + errUnknownID + "/reviews/", "", nil},
		{"review of unknown session", "POST", "/v3/sessions/" + errUnknownID + "/reviews/", reviewBody, []string{jsonType}},
		{"decision of unknown session", "GET", "/v3/session/" + errUnknownID + "/decision/", "", nil},
		{"delete of unknown session", "DELETE", "/v3/session/" + errUnknownID + "/delete/", "", nil},
		{"update of unknown session", "PATCH", "/v3/session/" + errUnknownID + "/update-status/", `{"new_status":"Approved"}`, []string{jsonType}},
		{"feed of non-UUID id", "GET", "/v3/sessions/abc/reviews/", "", nil},

		// ... and before the method check.
		{"PUT on reviews", "PUT", "/v3/sessions/" + id + "/reviews/", reviewBody, []string{jsonType}},
		{"PUT on reviews of unknown session", "PUT", "/v3/sessions/" + errUnknownID + "/reviews/", "", nil},
		{"GET on create", "GET", "/v3/session/", "", nil},
		{"PATCH on decision", "PATCH", "/v3/session/" + id + "/decision/", "", nil},

		// ... and before the body is parsed.
		{"review with text body", "POST", "/v3/sessions/" + id + "/reviews/", reviewBody, []string{"Content-Type: text/plain"}},
		{"review with bad JSON", "POST", "/v3/sessions/" + id + "/reviews/", `{`, []string{jsonType}},
		{"review with invalid status", "POST", "/v3/sessions/" + id + "/reviews/", `{"new_status":"Nope"}`, []string{jsonType}},
		{"create with no workflow", "POST", "/v3/session/", `{}`, []string{jsonType}},

		// Without the trailing slash too.
		{"feed without slash", "GET", "/v3/sessions/" + id + "/reviews", "", nil},
		{"list without slash", "GET", "/v3/sessions", "", nil},
	}
	for _, k := range keys {
		for _, r := range requests {
			headers := append(append([]string{}, k.header...), r.headers...)
			res := e.do(r.method, r.path, r.body, headers...)
			expectAt(t, k.name+" key, "+r.name, res, 403, detailForbidden)
		}
	}
	e.sameWrites(t, before)
	if n := e.count(`SELECT count(*) FROM sessions WHERE id = ? AND status = 'In Review' AND deleted_at IS NULL`, id); n != 1 {
		t.Errorf("the session changed after refused requests")
	}
}

// TestSessionNotFound: a session that does not exist, is another
// application's, is deleted, or (on the reviews endpoints) is a KYB session,
// and any path id that is not a UUID, is the same JSON 404, and nothing is
// written (SPEC §2).
func TestSessionNotFound(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	live := e.newSession(kycreview.KindUser)
	business := e.newSession(kycreview.KindBusiness)
	deleted := e.newSession(kycreview.KindUser)
	if err := e.client.DeleteSession(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.CreateApplication(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	otherClient := client.New(e.url, other.Token)
	s, err := otherClient.CreateSession(ctx, client.CreateSessionRequest{WorkflowID: other.Workflows[kycreview.KindUser].ID})
	if err != nil {
		t.Fatal(err)
	}
	otherID := s.SessionID
	otherKey := "x-api-key: " + other.Token

	// The controls: the ids below are found when they should be, so each
	// 404 is about visibility and not a broken route.
	for _, c := range []struct {
		path, key string
	}{
		{"/v3/sessions/" + live + "/reviews/", e.key()},
		{"/v3/session/" + business + "/decision/", e.key()},
		{"/v3/sessions/" + otherID + "/reviews/", otherKey},
		{"/v3/session/" + otherID + "/decision/", otherKey},
	} {
		if res := e.do("GET", c.path, "", c.key); res.status != 200 {
			t.Fatalf("control GET %s: %d %s", c.path, res.status, res.body)
		}
	}
	before := e.writeCounts()

	ids := []struct{ name, id string }{
		{"unknown", errUnknownID},
		{"other application's", otherID},
		{"deleted", deleted},
		{"nil UUID", "00000000-0000-0000-0000-000000000000"},
		{"abc", "abc"},
		{"123", "123"},
		{"no hyphens", strings.ReplaceAll(live, "-", "")},
		{"too long", live + "0"},
	}
	reviewIDs := append(append([]struct{ name, id string }{}, ids...), struct{ name, id string }{"business", business})
	for _, c := range reviewIDs {
		expectAt(t, "GET reviews of "+c.name, e.do("GET", "/v3/sessions/"+c.id+"/reviews/", "", e.key()), 404, detailSessionNotFound)
		expectAt(t, "POST reviews of "+c.name, e.do("POST", "/v3/sessions/"+c.id+"/reviews/", `{"new_status":"Approved"}`, e.key(), jsonType), 404, detailSessionNotFound)
	}
	for _, c := range ids {
		expectAt(t, "decision of "+c.name, e.do("GET", "/v3/session/"+c.id+"/decision/", "", e.key()), 404, detailSessionNotFound)
		expectAt(t, "update-status of "+c.name, e.do("PATCH", "/v3/session/"+c.id+"/update-status/", `{"new_status":"Approved"}`, e.key(), jsonType), 404, detailSessionNotFound)
		expectAt(t, "delete of "+c.name, e.do("DELETE", "/v3/session/"+c.id+"/delete/", "", e.key()), 404, detailSessionNotFound)
	}
	e.sameWrites(t, before)
	// The other application's session survived the attempt to delete it.
	if _, err := otherClient.Decision(ctx, otherID); err != nil {
		t.Errorf("other application's session after a foreign delete: %v", err)
	}
}

// TestUnknownPath: a path no route serves is a JSON 404, with or without a
// key.
func TestUnknownPath(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	paths := []string{
		"/",
		"/v3/",
		"/v3/nope/",
		"/v3/sessions/" + id,
		"/v3/sessions/" + id + "/",
		"/v3/sessions/" + id + "/reviews/extra/",
		"/v3/session/" + id + "/",
		"/v3/session/" + id + "/decision/extra",
		"/v2/sessions/" + id + "/reviews/",
		"/system/",
	}
	for _, p := range paths {
		for _, key := range [][]string{nil, {e.key()}} {
			res := e.do("GET", p, "", key...)
			if res.status != 404 || res.body != detailPathNotFound {
				t.Errorf("GET %s (key %v): %d %s, want 404 %s", p, key != nil, res.status, res.body, detailPathNotFound)
			}
			if res.header.Get("Content-Type") != "application/json" {
				t.Errorf("GET %s: Content-Type %q", p, res.header.Get("Content-Type"))
			}
		}
	}
}

// TestTrailingSlash: every endpoint answers the same with and without its
// trailing slash, and never with a redirect, which would lose a POST body
// (SPEC §2).
func TestTrailingSlash(t *testing.T) {
	e := newEnv(t)
	wf := e.app.Workflows[kycreview.KindUser].ID
	id := e.newSession(kycreview.KindUser)
	toDelete := []string{e.newSession(kycreview.KindUser), e.newSession(kycreview.KindUser)}
	toUpdate := []string{e.newSession(kycreview.KindUser), e.newSession(kycreview.KindUser)}
	for _, u := range toUpdate {
		e.moveTo(u, kycreview.StatusInReview)
	}

	type variant struct{ path, body string }
	cases := []struct {
		name     string
		method   string
		status   int
		headers  []string
		variants [2]variant // with and without the slash
		sameBody bool
	}{
		{name: "feed", method: "GET", status: 200, headers: []string{e.key()}, sameBody: true,
			variants: [2]variant{{path: "/v3/sessions/" + id + "/reviews/"}, {path: "/v3/sessions/" + id + "/reviews"}}},
		{name: "review", method: "POST", status: 201, headers: []string{e.key(), jsonType},
			variants: [2]variant{{"/v3/sessions/" + id + "/reviews/", `{"new_status":"Declined"}`}, {"/v3/sessions/" + id + "/reviews", `{"new_status":"Approved"}`}}},
		{name: "create session", method: "POST", status: 201, headers: []string{e.key(), jsonType},
			variants: [2]variant{{"/v3/session/", `{"workflow_id":"` + wf + `"}`}, {"/v3/session", `{"workflow_id":"` + wf + `"}`}}},
		{name: "decision", method: "GET", status: 200, headers: []string{e.key()}, sameBody: true,
			variants: [2]variant{{path: "/v3/session/" + id + "/decision/"}, {path: "/v3/session/" + id + "/decision"}}},
		{name: "list", method: "GET", status: 200, headers: []string{e.key()},
			variants: [2]variant{{path: "/v3/sessions/"}, {path: "/v3/sessions"}}},
		{name: "delete", method: "DELETE", status: 204, headers: []string{e.key()},
			variants: [2]variant{{path: "/v3/session/" + toDelete[0] + "/delete/"}, {path: "/v3/session/" + toDelete[1] + "/delete"}}},
		{name: "update status", method: "PATCH", status: 200, headers: []string{e.key(), jsonType},
			variants: [2]variant{{"/v3/session/" + toUpdate[0] + "/update-status/", `{"new_status":"Approved"}`}, {"/v3/session/" + toUpdate[1] + "/update-status", `{"new_status":"Approved"}`}}},
		{name: "healthcheck", method: "GET", status: 200,
			variants: [2]variant{{path: "/system/healthcheck/"}, {path: "/system/healthcheck"}}},
		{name: "unknown session", method: "GET", status: 404, headers: []string{e.key()}, sameBody: true,
			variants: [2]variant{{path: "/v3/sessions/" + errUnknownID + "/reviews/"}, {path: "/v3/sessions/" + errUnknownID + "/reviews"}}},
		{name: "method not allowed", method: "PUT", status: 405, headers: []string{e.key()}, sameBody: true,
			variants: [2]variant{{path: "/v3/sessions/" + id + "/reviews/"}, {path: "/v3/sessions/" + id + "/reviews"}}},
		{name: "no key", method: "GET", status: 403, sameBody: true,
			variants: [2]variant{{path: "/v3/session/" + id + "/decision/"}, {path: "/v3/session/" + id + "/decision"}}},
	}
	for _, c := range cases {
		var bodies [2]string
		for i, v := range c.variants {
			res := e.do(c.method, v.path, v.body, c.headers...)
			noRedirect(t, c.method+" "+v.path, res)
			if res.status != c.status {
				t.Errorf("%s: %s %s: %d %s, want %d", c.name, c.method, v.path, res.status, res.body, c.status)
			}
			bodies[i] = res.body
		}
		if c.sameBody && bodies[0] != bodies[1] {
			t.Errorf("%s: bodies differ:\n with slash: %s\n without:    %s", c.name, bodies[0], bodies[1])
		}
	}
	// Both deletes and both updates really happened.
	if n := e.count(`SELECT count(*) FROM sessions WHERE deleted_at IS NOT NULL`); n != 2 {
		t.Errorf("deleted sessions = %d, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM sessions WHERE status = 'Approved'`); n != 3 {
		t.Errorf("approved sessions = %d, want 3 (one review, two updates)", n)
	}
}

// TestMethodNotAllowed: a method an endpoint does not serve is DRF's 405
// with an Allow header listing what it does serve, checked before the
// session lookup; nothing is written.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	before := e.writeCounts()
	const (
		reviewsAllow = "GET, POST, HEAD, OPTIONS"
		getAllow     = "GET, HEAD, OPTIONS"
	)
	cases := []struct {
		method, path, allow string
		headers             []string
	}{
		{"PUT", "/v3/sessions/" + id + "/reviews/", reviewsAllow, []string{e.key()}},
		{"DELETE", "/v3/sessions/" + id + "/reviews/", reviewsAllow, []string{e.key()}},
		{"PATCH", "/v3/sessions/" + id + "/reviews/", reviewsAllow, []string{e.key()}},
		{"PUT", "/v3/sessions/" + errUnknownID + "/reviews/", reviewsAllow, []string{e.key()}},
		{"GET", "/v3/session/", "POST, OPTIONS", []string{e.key()}},
		{"PUT", "/v3/session/", "POST, OPTIONS", []string{e.key()}},
		{"PATCH", "/v3/session/" + id + "/decision/", getAllow, []string{e.key()}},
		{"POST", "/v3/session/" + id + "/decision/", getAllow, []string{e.key()}},
		{"POST", "/v3/sessions/", getAllow, []string{e.key()}},
		{"GET", "/v3/session/" + id + "/delete/", "DELETE, OPTIONS", []string{e.key()}},
		{"GET", "/v3/session/" + id + "/update-status/", "PATCH, OPTIONS", []string{e.key()}},
		{"POST", "/system/healthcheck/", getAllow, nil},
	}
	for _, c := range cases {
		res := e.do(c.method, c.path, "", c.headers...)
		want := `{"detail":"Method \"` + c.method + `\" not allowed."}`
		if res.status != 405 || res.body != want {
			t.Errorf("%s %s: %d %s, want 405 %s", c.method, c.path, res.status, res.body, want)
		}
		if got := res.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
		if res.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, res.header.Get("Content-Type"))
		}
	}
	e.sameWrites(t, before)
	if _, err := e.client.Decision(context.Background(), id); err != nil {
		t.Errorf("session after DELETE on its reviews: %v", err)
	}
}

// TestReviewBodies runs POST …/reviews/ over DRF's body rules (SPEC §2,
// §3.2): content types, JSON that is not an object, and each field's
// validation. A refused body writes nothing; an accepted one writes one row
// and one event.
func TestReviewBodies(t *testing.T) {
	const required = `{"new_status":["This field is required."]}`
	accented := strings.Repeat("é", kycreview.MaxCommentLength)
	longComment := func(s string) string { return `{"new_status":"Approved","comment":"` + s + `"}` }
	type tc struct {
		name        string
		contentType string // "" sends none
		body        string
		status      int
		want        string // exact body; ignored when wantPrefix or wantJSON is set
		wantPrefix  string
		wantJSON    bool // compare want as JSON, key order aside
		wantComment *string
	}
	cases := []tc{
		{name: "text/plain", contentType: "text/plain", body: `{"new_status":"Approved"}`, status: 415,
			want: `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{name: "text/plain with charset", contentType: "text/plain; charset=utf-8", body: `{"new_status":"Approved"}`, status: 415,
			want: `{"detail":"Unsupported media type \"text/plain; charset=utf-8\" in request."}`},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: `new_status=Approved`, status: 415,
			want: `{"detail":"Unsupported media type \"application/x-www-form-urlencoded\" in request."}`},
		{name: "no content type", body: `{"new_status":"Approved"}`, status: 415,
			want: `{"detail":"Unsupported media type \"\" in request."}`},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: `{"new_status":"Approved"}`, status: 201},
		{name: "malformed", contentType: "application/json", body: `{"new_status":`, status: 400, wantPrefix: `{"detail":"JSON parse error - `},
		{name: "trailing garbage", contentType: "application/json", body: `{"new_status":"Approved"} x`, status: 400, wantPrefix: `{"detail":"JSON parse error - `},
		{name: "list", contentType: "application/json", body: `[1,2]`, status: 400,
			want: `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{name: "string", contentType: "application/json", body: `"x"`, status: 400,
			want: `{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}`},
		{name: "int", contentType: "application/json", body: `3`, status: 400,
			want: `{"non_field_errors":["Invalid data. Expected a dictionary, but got int."]}`},
		{name: "float", contentType: "application/json", body: `1.5`, status: 400,
			want: `{"non_field_errors":["Invalid data. Expected a dictionary, but got float."]}`},
		{name: "bool", contentType: "application/json", body: `true`, status: 400,
			want: `{"non_field_errors":["Invalid data. Expected a dictionary, but got bool."]}`},
		{name: "null", contentType: "application/json", body: `null`, status: 400,
			want: `{"non_field_errors":["No data provided"]}`},
		{name: "empty body", contentType: "application/json", body: ``, status: 400, want: required},
		{name: "empty body without content type", body: ``, status: 400, want: required},
		{name: "empty object", contentType: "application/json", body: `{}`, status: 400, want: required},
		{name: "only a comment", contentType: "application/json", body: `{"comment":"x"}`, status: 400, want: required},
		{name: "null status", contentType: "application/json", body: `{"new_status":null}`, status: 400,
			want: `{"new_status":["This field may not be null."]}`},
		{name: "lower case", contentType: "application/json", body: `{"new_status":"approved"}`, status: 400,
			want: `{"new_status":["\"approved\" is not a valid choice."]}`},
		{name: "blank status", contentType: "application/json", body: `{"new_status":""}`, status: 400,
			want: `{"new_status":["\"\" is not a valid choice."]}`},
		{name: "comment true", contentType: "application/json", body: `{"new_status":"Approved","comment":true}`, status: 400,
			want: `{"comment":["Not a valid string."]}`},
		{name: "comment list", contentType: "application/json", body: `{"new_status":"Approved","comment":["x"]}`, status: 400,
			want: `{"comment":["Not a valid string."]}`},
		{name: "comment object", contentType: "application/json", body: `{"new_status":"Approved","comment":{}}`, status: 400,
			want: `{"comment":["Not a valid string."]}`},
		{name: "comment 10001 characters", contentType: "application/json", body: longComment(strings.Repeat("a", kycreview.MaxCommentLength+1)), status: 400,
			want: `{"comment":["Ensure this field has no more than 10000 characters."]}`},
		{name: "comment 10001 accented characters", contentType: "application/json", body: longComment(accented + "é"), status: 400,
			want: `{"comment":["Ensure this field has no more than 10000 characters."]}`},
		{name: "comment 10000 accented characters", contentType: "application/json", body: longComment(accented), status: 201,
			wantComment: &accented},
		{name: "comment 10000 characters after trimming", contentType: "application/json", body: longComment("  " + accented + `\n `), status: 201,
			wantComment: &accented},
		{name: "comment with NUL", contentType: "application/json", body: `{"new_status":"Approved","comment":"a\u0000b"}`, status: 400,
			want: `{"comment":["Null characters are not allowed."]}`},
		{name: "both fields bad", contentType: "application/json", body: `{"new_status":"Resubmitted","comment":true}`, status: 400, wantJSON: true,
			want: `{"new_status":["\"Resubmitted\" is not a valid choice."],"comment":["Not a valid string."]}`},
		{name: "unknown fields", contentType: "application/json", body: `{"new_status":"Approved","user":"Mallory","created_at":"2000-01-01T00:00:00Z","extra":{"a":[1]}}`, status: 201},
		{name: "too large", contentType: "application/json", body: longComment(strings.Repeat("a", 1<<20)), status: 413, wantJSON: true},
	}
	for _, s := range kycreview.Statuses() {
		if s.In(kycreview.ReviewStatuses()) {
			continue
		}
		cases = append(cases, tc{name: "status " + string(s), contentType: "application/json", body: `{"new_status":"` + string(s) + `"}`, status: 400,
			want: `{"new_status":["\"` + string(s) + `\" is not a valid choice."]}`})
	}
	for _, s := range kycreview.ReviewStatuses() {
		cases = append(cases, tc{name: "status " + string(s), contentType: "application/json", body: `{"new_status":"` + string(s) + `"}`, status: 201})
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := e.newSession(kycreview.KindUser)
			headers := []string{e.key()}
			if c.contentType != "" {
				headers = append(headers, "Content-Type: "+c.contentType)
			}
			res := e.do("POST", "/v3/sessions/"+id+"/reviews/", c.body, headers...)
			if res.status != c.status {
				t.Fatalf("status %d, want %d; body %.300s", res.status, c.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			switch {
			case c.status == 413:
				var got map[string]any
				if err := json.Unmarshal([]byte(res.body), &got); err != nil || len(got) != 1 {
					t.Errorf("413 body is not one {\"detail\": …}: %s", res.body)
				} else if d, ok := got["detail"].(string); !ok || d == "" {
					t.Errorf("413 body has no detail message: %s", res.body)
				}
			case c.status == 201:
				var got struct {
					NewStatus string  `json:"new_status"`
					Comment   *string `json:"comment"`
				}
				if err := json.Unmarshal([]byte(res.body), &got); err != nil {
					t.Fatalf("201 body: %v: %s", err, res.body)
				}
				if c.wantComment != nil && (got.Comment == nil || *got.Comment != *c.wantComment) {
					t.Errorf("comment answered is not the %d-character trimmed text", kycreview.MaxCommentLength)
				}
				if c.wantComment != nil && e.count(`SELECT count(*) FROM activities WHERE comment = ?`, *c.wantComment) != 1 {
					t.Errorf("comment stored is not the trimmed text")
				}
			case c.wantPrefix != "":
				var got map[string]string
				if !strings.HasPrefix(res.body, c.wantPrefix) || json.Unmarshal([]byte(res.body), &got) != nil || len(got) != 1 {
					t.Errorf("body %s, want one detail starting %s", res.body, c.wantPrefix)
				}
			case c.wantJSON:
				var got, want any
				if err := json.Unmarshal([]byte(res.body), &got); err != nil {
					t.Fatalf("body is not JSON: %s", res.body)
				}
				if err := json.Unmarshal([]byte(c.want), &want); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			default:
				if res.body != c.want {
					t.Errorf("body %s\nwant %s", res.body, c.want)
				}
			}
			written := 0
			if c.status == 201 {
				written = 1
			}
			if n := e.count(`SELECT count(*) FROM activities`); n != written {
				t.Errorf("activities = %d, want %d", n, written)
			}
			if n := e.count(`SELECT count(*) FROM webhook_outbox`); n != written {
				t.Errorf("webhook_outbox = %d, want %d", n, written)
			}
			if written == 0 && e.count(`SELECT count(*) FROM sessions WHERE status = 'Not Started'`) != 1 {
				t.Errorf("a refused review changed the session's status")
			}
		})
	}
}

// TestHealthcheck: no key needed (a bad one is ignored), 200 with a
// millisecond UTC timestamp while the database answers, 503 once it is gone.
func TestHealthcheck(t *testing.T) {
	e := newEnv(t)
	ok := regexp.MustCompile(`^\{"status":"ok","timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\}$`)
	paths := []string{"/system/healthcheck", "/system/healthcheck/"}
	for _, p := range paths {
		for _, headers := range [][]string{nil, {"x-api-key: not-a-key"}} {
			res := e.do("GET", p, "", headers...)
			if res.status != 200 || !ok.MatchString(res.body) {
				t.Errorf("GET %s %v: %d %s", p, headers, res.status, res.body)
			}
			if res.header.Get("Content-Type") != "application/json" {
				t.Errorf("GET %s: Content-Type %q", p, res.header.Get("Content-Type"))
			}
		}
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		res := e.do("GET", p, "", nil...)
		if res.status != http.StatusServiceUnavailable {
			t.Errorf("GET %s with the database closed: %d %s, want 503", p, res.status, res.body)
		}
		if !json.Valid([]byte(res.body)) || res.header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s with the database closed: not a JSON answer: %q", p, res.body)
		}
	}
}

// TestDotAndEmptyPathIDs: an empty, "." or ".." session id is a path id
// that is not a UUID, so it is a JSON 404 like any other (SPEC §2), never a
// redirect to a cleaned path, which would lose a POST body and answer
// without authenticating.
func TestDotAndEmptyPathIDs(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"", ".", ".."} {
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/v3/sessions/" + id + "/reviews/", ""},
			{"POST", "/v3/sessions/" + id + "/reviews/", `{"new_status":"Approved"}`},
			{"GET", "/v3/session/" + id + "/decision/", ""},
			{"PATCH", "/v3/session/" + id + "/update-status/", `{"new_status":"Approved"}`},
			{"DELETE", "/v3/session/" + id + "/delete/", ""},
		} {
			res := e.do(r.method, r.path, r.body, e.key(), jsonType)
			if res.status != 404 || (res.body != detailSessionNotFound && res.body != detailPathNotFound) || res.header.Get("Location") != "" {
				t.Errorf("%s %s: %d (Location %q) %q, want a JSON 404 and no redirect", r.method, r.path, res.status, res.header.Get("Location"), res.body)
			}
		}
	}
	if n := e.count(`SELECT count(*) FROM activities`); n != 0 {
		t.Errorf("activities = %d, want 0", n)
	}
}
