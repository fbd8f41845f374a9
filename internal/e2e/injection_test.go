package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
)

// SQL-shaped values (issue 9, item 6) in every place a request's text
// reaches a query: the feed's ordering, the session list's status,
// vendor_data and session_kind filters, ids in paths, and the pagination
// parameters. Each gets the contract's answer, never a 500, and the
// database is intact afterwards: every table still there, every row as it
// was. Run on both backends (KYCREVIEW_E2E_BACKEND=postgres).

// sqlShaped are values written to break out of a quoted string, a number,
// an identifier or a clause.
var sqlShaped = []string{
	`'; DROP TABLE sessions; --`,
	`' OR '1'='1`,
	`" OR "1"="1`,
	`1 OR 1=1`,
	`1) OR (1=1`,
	`1; DROP TABLE activities`,
	`') UNION SELECT token_hash, 1, 1 FROM api_keys --`,
	`$1`,
	`?`,
	`\'; SELECT pg_sleep(10); --`,
	`%' --`,
	`_`,
	"'\x00",
	`’ OR ’1’=’1`, // typographic quotes
	`1e309`,
	`-9223372036854775809`,
	`99999999999999999999999999999999999999`,
}

// TestInjectionOrdering: ordering terms are matched against the orderable
// fields (SPEC §3.1); anything else is dropped, so SQL never reaches the
// query, and the answer is the one for the valid terms alone.
func TestInjectionOrdering(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	for _, st := range []string{"In Review", "Approved", "Declined"} {
		e.review(id, st)
	}
	feed := func(ordering string) response {
		q := ""
		if ordering != "" {
			q = "?ordering=" + url.QueryEscape(ordering)
		}
		return e.do("GET", "/v3/sessions/"+id+"/reviews/"+q, "", e.key())
	}
	// Links repeat the query, so compare the results alone.
	results := func(r response) string {
		_, after, _ := strings.Cut(r.body, `"results":`)
		return after
	}
	before := e.dump()
	cases := []struct{ ordering, same string }{
		{"created_at; DROP TABLE activities", ""},
		{"-created_at,(SELECT 1)", "-created_at"},
		{"comment DESC", ""},
		{"comment) UNION SELECT * FROM api_keys --", ""},
		{"1", ""},
		{`created_at COLLATE "C"`, ""},
		{"uuid--", ""},
		{"--uuid", ""},
		{"new_status,'; SELECT pg_sleep(10); --", "new_status"},
		{"created_at\x00", ""},
		{"CREATED_AT", ""},
		{"activities.created_at", ""},
		{"(CASE WHEN 1=1 THEN created_at ELSE uuid END)", ""},
		{"created_at,-new_status", "created_at,-new_status"},
	}
	for _, v := range sqlShaped {
		cases = append(cases, struct{ ordering, same string }{v, ""}, struct{ ordering, same string }{"created_at," + v, "created_at"})
	}
	for _, c := range cases {
		got, want := feed(c.ordering), feed(c.same)
		if got.status != 200 || want.status != 200 || results(got) != results(want) {
			t.Errorf("ordering=%q: %d %s\nwant the answer to ordering=%q: %d %s", c.ordering, got.status, got.body, c.same, want.status, want.body)
		}
	}
	e.sameDB(t, "SQL-shaped orderings", before)
}

// TestInjectionFilters: the session list's filters are values bound to the
// query, never SQL: a status that is not one of the ten is no match,
// vendor_data matches exactly (no LIKE wildcards), and session_kind outside
// its three choices is DRF's 400.
func TestInjectionFilters(t *testing.T) {
	e := newEnv(t)
	plain := e.newSession(kycreview.KindUser)
	e.moveTo(plain, kycreview.StatusInReview)
	// One session whose vendor_data is itself SQL-shaped: only the exact
	// value finds it.
	evil := `x' OR '1'='1; DROP TABLE sessions; --`
	res := e.do("POST", "/v3/session/", `{"workflow_id":"`+e.app.Workflows[kycreview.KindUser].ID+`","vendor_data":"x' OR '1'='1; DROP TABLE sessions; --"}`, e.key(), jsonType)
	if res.status != 201 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	evilID := jsonString(t, jsonObject(t, res.body)["session_id"])
	list := func(query string) response { return e.do("GET", "/v3/sessions/"+query, "", e.key()) }
	empty := `{"count":0,"next":null,"previous":null,"results":[]}`
	before := e.dump()

	for _, v := range append(sqlShaped, "Approved' OR '1'='1", "In Review' --", "In Review;", "approved", "%", "In%") {
		expectAt(t, "status="+v, list("?status="+url.QueryEscape(v)), 200, empty)
		expectAt(t, "vendor_data="+v, list("?vendor_data="+url.QueryEscape(v)), 200, empty)
		expectAt(t, "session_kind="+v, list("?session_kind="+url.QueryEscape(v)), 400,
			`{"session_kind":["\"`+jsonEscape(v)+`\" is not a valid choice."]}`)
	}
	// A valid status among SQL-shaped terms still filters.
	for _, v := range sqlShaped {
		res := list("?status=" + url.QueryEscape(v+",In Review"))
		if res.status != 200 || !strings.HasPrefix(res.body, `{"count":1,`) || !strings.Contains(res.body, plain) {
			t.Errorf("status=%q,In Review: %d %s", v, res.status, res.body)
		}
	}
	res = list("?vendor_data=" + url.QueryEscape(evil))
	if res.status != 200 || !strings.HasPrefix(res.body, `{"count":1,`) || !strings.Contains(res.body, evilID) {
		t.Errorf("the exact SQL-shaped vendor_data: %d %s", res.status, res.body)
	}
	for _, v := range []string{"x%", "x_", "%", "x' OR '1'='1%"} {
		expectAt(t, "vendor_data="+v+" (no LIKE)", list("?vendor_data="+url.QueryEscape(v)), 200, empty)
	}
	e.sameDB(t, "SQL-shaped filters", before)
}

// jsonEscape is v as it appears inside a JSON string in the API's answers.
func jsonEscape(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\x00", `\u0000`)
	return r.Replace(v)
}

// TestInjectionPathIDs: an id in a path that is not a UUID is the same
// JSON 404 as an unknown one, whatever it holds.
func TestInjectionPathIDs(t *testing.T) {
	e := newEnv(t)
	ts := newTenants(t, e)
	before := e.dump()
	ids := append(append([]string{}, sqlShaped...), ts.aUser+"' OR '1'='1", ts.aUser+"; DROP TABLE sessions", strings.ToUpper(ts.aUser)+"'--")
	for _, v := range ids {
		p := url.PathEscape(v)
		for _, c := range []struct {
			method, path, body, want string
		}{
			{"GET", "/v3/sessions/" + p + "/reviews/", "", detailSessionNotFound},
			{"POST", "/v3/sessions/" + p + "/reviews/", `{"new_status":"Approved"}`, detailSessionNotFound},
			{"GET", "/v3/sessions/" + p + "/reviews/proof/", "", detailSessionNotFound},
			{"GET", "/v3/session/" + p + "/decision/", "", detailSessionNotFound},
			{"DELETE", "/v3/session/" + p + "/delete/", "", detailSessionNotFound},
			{"PATCH", "/v3/session/" + p + "/update-status/", `{"new_status":"Approved"}`, detailSessionNotFound},
			{"GET", destinationsPath + p + "/", "", detailDestNotFound},
			{"PATCH", destinationsPath + p + "/", `{"label":"x"}`, detailDestNotFound},
			{"DELETE", destinationsPath + p + "/", "", detailDestNotFound},
			{"GET", destinationsPath + p + "/deliveries/", "", detailDestNotFound},
			{"POST", destinationsPath + p + "/deliveries/" + ts.aDelivery + "/resend/", "", detailDestNotFound},
			{"POST", destinationsPath + ts.aDest + "/deliveries/" + p + "/resend/", "", detailDeliveryMissing},
		} {
			what := c.method + " " + c.path
			res := e.do(c.method, c.path, c.body, e.key(), jsonType)
			// An id with a "/" in it is another path: the router's 404.
			want := c.want
			if strings.Contains(v, "/") {
				want = detailPathNotFound
			}
			expectAt(t, what, res, 404, want)
		}
	}
	e.sameDB(t, "SQL-shaped ids", before)
}

// TestInjectionPagination: limit and offset are parsed as Python's int()
// parses them (SPEC §3.1); whatever else they hold is the default, on every
// paged list, and never reaches the query as text.
func TestInjectionPagination(t *testing.T) {
	e := newEnv(t)
	ts := newTenants(t, e)
	before := e.dump()
	lists := []struct{ name, path string }{
		{"feed", "/v3/sessions/" + ts.aUser + "/reviews/"},
		{"sessions", "/v3/sessions/"},
		{"deliveries", destinationsPath + ts.aDest + "/deliveries/"},
		{"destinations (paged)", destinationsPath + "?limit=10&"},
	}
	for _, l := range lists {
		sep := "?"
		if strings.HasSuffix(l.path, "&") {
			sep = ""
		}
		base := e.do("GET", l.path, "", e.key())
		if base.status != 200 {
			t.Fatalf("%s: %d %s", l.name, base.status, base.body)
		}
		for _, v := range append(sqlShaped, "1; DROP TABLE sessions", "-1 OR 1=1", "0x10", "1_000", "+1", " 2 ", "١") {
			for _, param := range []string{"limit", "offset"} {
				res := e.do("GET", l.path+sep+param+"="+url.QueryEscape(v), "", e.key())
				// The destination list without a positive limit (the last
				// one wins) is Didit's bare array.
				page := strings.HasPrefix(res.body, `{"count":`) || l.name == "destinations (paged)" && param == "limit" && strings.HasPrefix(res.body, `[{"uuid":`)
				if res.status != 200 || !page {
					t.Errorf("%s %s=%q: %d %s", l.name, param, v, res.status, res.body)
				}
			}
		}
		// Past the end, however far: an empty page with the count.
		for _, off := range []string{"1000000", "9223372036854775807", "99999999999999999999999999"} {
			res := e.do("GET", l.path+sep+"offset="+off, "", e.key())
			if res.status != 200 || !strings.Contains(res.body, `"results":[]`) {
				t.Errorf("%s offset=%s: %d %s", l.name, off, res.status, res.body)
			}
		}
	}
	e.sameDB(t, "SQL-shaped pages", before)
}
