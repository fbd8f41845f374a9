package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/client"
	"github.com/kycreview/kycreview/internal/service"
)

// sessionKeys are the fields of a session as the session endpoints show it
// (SPEC §4), sorted.
var sessionKeys = []string{"callback", "created_at", "metadata", "session_id", "session_kind", "session_number", "status", "vendor_data", "workflow_id"}

var (
	lowerUUIDRE   = regexp.MustCompile(`^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$`)
	drfDateTimeRE = regexp.MustCompile(`^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z"$`)
)

// jsonObject decodes a JSON object's fields undecoded.
func jsonObject(t *testing.T, body string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, body)
	}
	return m
}

// objectKeys returns m's keys, sorted.
func objectKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// createSessionRaw posts body to POST /v3/session/ with the env's key.
func (e *env) createSessionRaw(body string) response {
	e.t.Helper()
	return e.do("POST", "/v3/session/", body, e.key(), jsonType)
}

// TestCreateSession: the 201 body has exactly the session's fields, numbers
// count up per application across kinds, the kind comes from the workflow,
// and metadata of any JSON type is echoed (SPEC §4).
func TestCreateSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	wf := e.app.Workflows[kycreview.KindUser].ID
	bwf := e.app.Workflows[kycreview.KindBusiness].ID

	res := e.createSessionRaw(`{"workflow_id":"` + wf + `","vendor_data":"user-42","callback":"https://example.com/done",` +
		`"metadata":{"plan":"gold","tags":["a","b"],"n":1,"nested":{"x":null}}}`)
	if res.status != 201 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	expect(t, res, 201, res.body) // Content-Type
	golden(t, "sessions_create_201.json", normalise(res.body))
	first := jsonObject(t, res.body)
	if diff := cmp.Diff(sessionKeys, objectKeys(first)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if !lowerUUIDRE.Match(first["session_id"]) || string(first["session_id"]) == `"`+wf+`"` {
		t.Errorf("session_id %s is not a new UUID", first["session_id"])
	}
	if string(first["workflow_id"]) != `"`+wf+`"` {
		t.Errorf("workflow_id %s, want %q", first["workflow_id"], wf)
	}
	if !drfDateTimeRE.Match(first["created_at"]) {
		t.Errorf("created_at %s is not UTC ISO 8601 with Z", first["created_at"])
	}

	// Numbers count up per application, whatever the kind; the kind is the
	// workflow's; absent optional fields are null.
	for i, c := range []struct {
		workflow, kind string
	}{{bwf, "business"}, {wf, "user"}, {bwf, "business"}} {
		res := e.createSessionRaw(`{"workflow_id":"` + c.workflow + `"}`)
		if res.status != 201 {
			t.Fatalf("create %d: %d %s", i+2, res.status, res.body)
		}
		m := jsonObject(t, res.body)
		want := map[string]string{
			"session_number": fmt.Sprint(i + 2), "session_kind": `"` + c.kind + `"`, "status": `"Not Started"`,
			"vendor_data": "null", "callback": "null", "metadata": "null", "workflow_id": `"` + c.workflow + `"`,
		}
		for k, v := range want {
			if string(m[k]) != v {
				t.Errorf("session %d: %s = %s, want %s", i+2, k, m[k], v)
			}
		}
		if string(m["session_id"]) == string(first["session_id"]) {
			t.Errorf("session %d reuses the first session's id", i+2)
		}
	}
	// Another application starts its own numbering.
	other, err := e.svc.CreateApplication(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.New(e.url, other.Token).CreateSession(ctx, client.CreateSessionRequest{WorkflowID: other.Workflows[kycreview.KindUser].ID})
	if err != nil {
		t.Fatal(err)
	}
	if s.SessionNumber != 1 {
		t.Errorf("other application's first session_number = %d, want 1", s.SessionNumber)
	}

	// A new session's decision has no reviews yet: an empty list, not null.
	var id string
	if err := json.Unmarshal(first["session_id"], &id); err != nil {
		t.Fatal(err)
	}
	d := e.do("GET", "/v3/session/"+id+"/decision/", "", e.key())
	if got := jsonObject(t, d.body); d.status != 200 || string(got["reviews"]) != "[]" {
		t.Errorf("decision of a new session: %d %s", d.status, d.body)
	}
}

// TestCreateSessionMetadata: metadata may be any JSON value and comes back
// as sent (compacted), in the 201 and in the decision.
func TestCreateSessionMetadata(t *testing.T) {
	e := newEnv(t)
	wf := e.app.Workflows[kycreview.KindUser].ID
	for _, c := range []struct {
		name, field, want string // field "" leaves metadata out
	}{
		{"object", `{"plan":"gold","tags":["a","b"],"n":1.5,"x":null,"é":"ü"}`, `{"plan":"gold","tags":["a","b"],"n":1.5,"x":null,"é":"ü"}`},
		{"spaced object", `{ "a" : [ 1 , 2 ] }`, `{"a":[1,2]}`},
		{"empty object", `{}`, `{}`},
		{"array", `[1,"x",true,null]`, `[1,"x",true,null]`},
		{"string", `"text"`, `"text"`},
		{"number", `12.5`, `12.5`},
		{"zero", `0`, `0`},
		{"bool", `false`, `false`},
		{"null", `null`, `null`},
		{"absent", ``, `null`},
	} {
		body := `{"workflow_id":"` + wf + `"}`
		if c.field != "" {
			body = `{"workflow_id":"` + wf + `","metadata":` + c.field + `}`
		}
		res := e.createSessionRaw(body)
		if res.status != 201 {
			t.Errorf("%s: %d %s", c.name, res.status, res.body)
			continue
		}
		m := jsonObject(t, res.body)
		if string(m["metadata"]) != c.want {
			t.Errorf("%s: 201 metadata %s, want %s", c.name, m["metadata"], c.want)
		}
		var id string
		if err := json.Unmarshal(m["session_id"], &id); err != nil {
			t.Fatal(err)
		}
		d := jsonObject(t, e.do("GET", "/v3/session/"+id+"/decision/", "", e.key()).body)
		if string(d["metadata"]) != c.want {
			t.Errorf("%s: decision metadata %s, want %s", c.name, d["metadata"], c.want)
		}
	}
}

// TestCreateSessionErrors: a missing, malformed, unknown or foreign
// workflow is a 400 on workflow_id, and nothing is created.
func TestCreateSessionErrors(t *testing.T) {
	e := newEnv(t)
	other, err := e.svc.CreateApplication(context.Background(), "Other")
	if err != nil {
		t.Fatal(err)
	}
	foreign := other.Workflows[kycreview.KindUser].ID
	foreignBusiness := other.Workflows[kycreview.KindBusiness].ID
	before := e.writeCounts()
	notExist := func(id string) string {
		return `{"workflow_id":["Invalid pk \"` + id + `\" - object does not exist."]}`
	}
	for _, c := range []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"missing", "application/json", `{"vendor_data":"x"}`, 400, `{"workflow_id":["This field is required."]}`},
		{"empty object", "application/json", `{}`, 400, `{"workflow_id":["This field is required."]}`},
		{"empty body", "application/json", ``, 400, `{"workflow_id":["This field is required."]}`},
		{"null", "application/json", `{"workflow_id":null}`, 400, `{"workflow_id":["This field may not be null."]}`},
		{"not a UUID", "application/json", `{"workflow_id":"not-a-uuid"}`, 400, `{"workflow_id":["Must be a valid UUID."]}`},
		{"blank", "application/json", `{"workflow_id":""}`, 400, `{"workflow_id":["Must be a valid UUID."]}`},
		{"unknown", "application/json", `{"workflow_id":"` + errUnknownID + `"}`, 400, notExist(errUnknownID)},
		{"other application's", "application/json", `{"workflow_id":"` + foreign + `"}`, 400, notExist(foreign)},
		{"other application's business", "application/json", `{"workflow_id":"` + foreignBusiness + `"}`, 400, notExist(foreignBusiness)},
		{"text/plain", "text/plain", `{"workflow_id":"` + foreign + `"}`, 415, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{"list", "application/json", `[1]`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{"null body", "application/json", `null`, 400, `{"non_field_errors":["No data provided"]}`},
	} {
		res := e.do("POST", "/v3/session/", c.body, e.key(), "Content-Type: "+c.contentType)
		expectAt(t, c.name, res, c.status, c.want)
	}
	e.sameWrites(t, before)
}

// insertComment appends a comment-only row (no status) to a session's feed
// directly in the store, as the console would write it.
func (e *env) insertComment(id, comment string) {
	e.t.Helper()
	ctx := context.Background()
	err := e.store.WriteTx(ctx, func(tx service.Tx) error {
		s, err := tx.LockSession(ctx, e.app.Application.ID, id)
		if err != nil {
			return err
		}
		at := kycreview.NextActivityTime(time.Now(), s.LastActivityAt)
		a := kycreview.Activity{ID: uuid.NewString(), SessionPK: s.PK, Seq: s.ActivityCount + 1, Type: kycreview.ActivityComment,
			Actor: kycreview.APIKeyActor(""), Comment: &comment, CreatedAt: at}
		if err := tx.InsertActivity(ctx, &a); err != nil {
			return err
		}
		s.ActivityCount, s.LastActivityAt = a.Seq, at
		return tx.UpdateSession(ctx, s)
	})
	if err != nil {
		e.t.Fatalf("insert comment: %v", err)
	}
}

// decisionReview is one entry of a decision's reviews, undecoded.
type decisionReview map[string]json.RawMessage

// getDecision fetches a decision and checks its shape: the session's fields
// plus reviews, each with exactly user, new_status, comment, created_at,
// oldest first.
func (e *env) getDecision(t *testing.T, id string) (response, map[string]json.RawMessage, []decisionReview) {
	t.Helper()
	res := e.do("GET", "/v3/session/"+id+"/decision/", "", e.key())
	if res.status != 200 {
		t.Fatalf("decision: %d %s", res.status, res.body)
	}
	m := jsonObject(t, res.body)
	if diff := cmp.Diff(append(slices.Clone(sessionKeys), "reviews"), objectKeys(m), cmp.Transformer("sort", func(s []string) []string {
		s = slices.Clone(s)
		sort.Strings(s)
		return s
	})); diff != "" {
		t.Errorf("decision keys (-want +got):\n%s", diff)
	}
	var reviews []decisionReview
	if err := json.Unmarshal(m["reviews"], &reviews); err != nil {
		t.Fatalf("reviews: %v: %s", err, m["reviews"])
	}
	var last time.Time
	for i, r := range reviews {
		if diff := cmp.Diff([]string{"comment", "created_at", "new_status", "user"}, objectKeys(r)); diff != "" {
			t.Errorf("review %d keys (-want +got):\n%s", i, diff)
		}
		if !drfDateTimeRE.Match(r["created_at"]) {
			t.Errorf("review %d created_at %s", i, r["created_at"])
		}
		var at time.Time
		if err := json.Unmarshal(r["created_at"], &at); err != nil {
			t.Fatal(err)
		}
		if i > 0 && !at.After(last) {
			t.Errorf("review %d is not newer than review %d: reviews must be oldest first", i, i-1)
		}
		last = at
	}
	return res, m, reviews
}

// checkReviews compares a decision's reviews with want, given as
// [user, new_status, comment] triples of JSON text.
func checkReviews(t *testing.T, got []decisionReview, want [][3]string) {
	t.Helper()
	var g [][3]string
	for _, r := range got {
		g = append(g, [3]string{string(r["user"]), string(r["new_status"]), string(r["comment"])})
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("reviews (-want +got):\n%s", diff)
	}
}

// TestDecision: the decision is the session plus its status rows, oldest
// first; rows without a status are left out. KYC and KYB alike.
func TestDecision(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	wf := e.app.Workflows[kycreview.KindUser].ID
	res := e.createSessionRaw(`{"workflow_id":"` + wf + `","vendor_data":"user-42","metadata":{"plan":"gold"}}`)
	if res.status != 201 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	var created client.Session
	if err := json.Unmarshal([]byte(res.body), &created); err != nil {
		t.Fatal(err)
	}
	id := created.SessionID
	e.moveTo(id, kycreview.StatusInReview)
	e.insertComment(id, "Note without status.")
	if r := e.do("POST", "/v3/sessions/"+id+"/reviews/", `{"new_status":"Approved","comment":"Document re-checked."}`, e.key(), jsonType); r.status != 201 {
		t.Fatalf("review: %d %s", r.status, r.body)
	}
	if n := e.count(`SELECT count(*) FROM activities`); n != 3 {
		t.Fatalf("feed rows = %d, want 3 (the comment row must exist for this test to mean anything)", n)
	}

	d, m, reviews := e.getDecision(t, id)
	golden(t, "sessions_decision_200.json", normalise(d.body))
	checkReviews(t, reviews, [][3]string{
		{`"System"`, `"In Review"`, `null`},
		{`"API Client"`, `"Approved"`, `"Document re-checked."`},
	})
	// The session part is what creation answered, with the new status.
	for k, want := range map[string]string{
		"session_id": `"` + id + `"`, "session_number": "1", "session_kind": `"user"`, "status": `"Approved"`,
		"workflow_id": `"` + wf + `"`, "vendor_data": `"user-42"`, "metadata": `{"plan":"gold"}`, "callback": "null",
		"created_at": `"` + kycreview.FormatMicro(created.CreatedAt) + `"`,
	} {
		if string(m[k]) != want {
			t.Errorf("decision %s = %s, want %s", k, m[k], want)
		}
	}

	// KYB: the pipeline moves it, a client key decides with update-status.
	bid := e.newSession(kycreview.KindBusiness)
	e.moveTo(bid, kycreview.StatusInReview)
	if err := e.client.UpdateStatus(ctx, bid, client.UpdateStatusRequest{NewStatus: "Declined", Comment: ptr("Registry mismatch.")}); err != nil {
		t.Fatal(err)
	}
	_, bm, breviews := e.getDecision(t, bid)
	if string(bm["session_kind"]) != `"business"` || string(bm["status"]) != `"Declined"` {
		t.Errorf("KYB decision: kind %s, status %s", bm["session_kind"], bm["status"])
	}
	checkReviews(t, breviews, [][3]string{
		{`"System"`, `"In Review"`, `null`},
		{`"API Client"`, `"Declined"`, `"Registry mismatch."`},
	})
}

// sessionList is a decoded GET /v3/sessions/ page.
type sessionList struct {
	Count    int
	Next     *string
	Previous *string
	Numbers  []int64
	IDs      []string
}

// listSessions fetches GET /v3/sessions/?query and checks the page's shape.
func (e *env) listSessions(t *testing.T, query string) sessionList {
	t.Helper()
	res := e.do("GET", "/v3/sessions/?"+query, "", e.key())
	if res.status != 200 {
		t.Fatalf("list ?%s: %d %s", query, res.status, res.body)
	}
	top := jsonObject(t, res.body)
	if diff := cmp.Diff([]string{"count", "next", "previous", "results"}, objectKeys(top)); diff != "" {
		t.Errorf("list keys (-want +got):\n%s", diff)
	}
	var page struct {
		Count    int
		Next     *string
		Previous *string
		Results  []map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(res.body), &page); err != nil {
		t.Fatal(err)
	}
	out := sessionList{Count: page.Count, Next: page.Next, Previous: page.Previous, Numbers: []int64{}, IDs: []string{}}
	for _, r := range page.Results {
		if diff := cmp.Diff(sessionKeys, objectKeys(r)); diff != "" {
			t.Errorf("list entry keys (-want +got):\n%s", diff)
		}
		var n int64
		var id string
		if json.Unmarshal(r["session_number"], &n) != nil || json.Unmarshal(r["session_id"], &id) != nil {
			t.Fatalf("list entry: %v", r)
		}
		out.Numbers, out.IDs = append(out.Numbers, n), append(out.IDs, id)
	}
	return out
}

// TestListSessions: newest first, DRF limit/offset with exact next and
// previous links, the status, vendor_data and session_kind filters, and
// deleted or foreign sessions never listed (SPEC §4).
func TestListSessions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	type spec struct {
		kind   kycreview.Kind
		vendor string
		status kycreview.Status
	}
	specs := []spec{ // session_number is the index + 1
		{kycreview.KindUser, "alice", ""},
		{kycreview.KindUser, "bob", kycreview.StatusApproved},
		{kycreview.KindBusiness, "alice", kycreview.StatusApproved},
		{kycreview.KindUser, "alice", kycreview.StatusDeclined},
		{kycreview.KindUser, "", kycreview.StatusInReview},
		{kycreview.KindUser, "Alice", kycreview.StatusApproved},
		{kycreview.KindBusiness, "", ""},
		{kycreview.KindUser, "alice", kycreview.StatusApproved},     // deleted below
		{kycreview.KindBusiness, "alice", kycreview.StatusApproved}, // deleted below
	}
	ids := map[int64]string{}
	for i, s := range specs {
		req := client.CreateSessionRequest{WorkflowID: e.app.Workflows[s.kind].ID}
		if s.vendor != "" {
			req.VendorData = ptr(s.vendor)
		}
		got, err := e.client.CreateSession(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if got.SessionNumber != int64(i+1) {
			t.Fatalf("session %d got number %d", i+1, got.SessionNumber)
		}
		ids[got.SessionNumber] = got.SessionID
		if s.status != "" {
			e.moveTo(got.SessionID, s.status)
		}
	}
	for _, n := range []int64{8, 9} {
		if err := e.client.DeleteSession(ctx, ids[n]); err != nil {
			t.Fatal(err)
		}
	}
	// Another application's session, with the same vendor_data, is never
	// listed.
	other, err := e.svc.CreateApplication(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(e.url, other.Token).CreateSession(ctx, client.CreateSessionRequest{
		WorkflowID: other.Workflows[kycreview.KindUser].ID, VendorData: ptr("alice")}); err != nil {
		t.Fatal(err)
	}

	link := func(q string) *string { s := e.url + "/v3/sessions/?" + q; return &s }
	for _, c := range []struct {
		query      string
		count      int
		numbers    []int64
		next, prev *string
	}{
		{"", 5, []int64{6, 5, 4, 2, 1}, nil, nil},
		{"limit=2", 5, []int64{6, 5}, link("limit=2&offset=2"), nil},
		{"limit=2&offset=2", 5, []int64{4, 2}, link("limit=2&offset=4"), link("limit=2")},
		{"limit=2&offset=4", 5, []int64{1}, nil, link("limit=2&offset=2")},
		{"limit=2&offset=9", 5, []int64{}, nil, link("limit=2&offset=7")},
		{"status=Approved", 2, []int64{6, 2}, nil, nil},
		{"status=Approved,Declined", 3, []int64{6, 4, 2}, nil, nil},
		{"status=Approved%2CDeclined&limit=1", 3, []int64{6}, link("limit=1&offset=1&status=Approved%2CDeclined"), nil},
		{"status=Not%20Started", 1, []int64{1}, nil, nil},
		{"status=Not+Started,In+Review", 2, []int64{5, 1}, nil, nil},
		{"status=Nope", 0, []int64{}, nil, nil},
		{"vendor_data=alice", 2, []int64{4, 1}, nil, nil},
		{"vendor_data=Alice", 1, []int64{6}, nil, nil},
		{"vendor_data=ali", 0, []int64{}, nil, nil},
		{"vendor_data=alice&status=Declined", 1, []int64{4}, nil, nil},
		{"session_kind=user", 5, []int64{6, 5, 4, 2, 1}, nil, nil},
		{"session_kind=USER", 5, []int64{6, 5, 4, 2, 1}, nil, nil},
		{"session_kind=business", 2, []int64{7, 3}, nil, nil},
		{"session_kind=BUSINESS", 2, []int64{7, 3}, nil, nil},
		{"session_kind=Business&status=Approved", 1, []int64{3}, nil, nil},
		{"session_kind=all", 7, []int64{7, 6, 5, 4, 3, 2, 1}, nil, nil},
		{"session_kind=ALL&vendor_data=alice", 3, []int64{4, 3, 1}, nil, nil},
		{"session_kind=all&status=Not%20Started", 2, []int64{7, 1}, nil, nil},
		{"session_kind=all&limit=3&offset=3", 7, []int64{4, 3, 2}, link("limit=3&offset=6&session_kind=all"), link("limit=3&session_kind=all")},
	} {
		got := e.listSessions(t, c.query)
		if got.Count != c.count || !cmp.Equal(got.Numbers, c.numbers) {
			t.Errorf("?%s: count %d, numbers %v; want %d, %v", c.query, got.Count, got.Numbers, c.count, c.numbers)
			continue
		}
		for i, n := range got.Numbers {
			if got.IDs[i] != ids[n] {
				t.Errorf("?%s: session_number %d has id %s, want %s", c.query, n, got.IDs[i], ids[n])
			}
		}
		if diff := cmp.Diff(c.next, got.Next); diff != "" {
			t.Errorf("?%s: next (-want +got):\n%s", c.query, diff)
		}
		if diff := cmp.Diff(c.prev, got.Previous); diff != "" {
			t.Errorf("?%s: previous (-want +got):\n%s", c.query, diff)
		}
	}

	// An unknown kind is a 400, whatever its case.
	for _, v := range []string{"x", "XYZ", "users"} {
		res := e.do("GET", "/v3/sessions/?session_kind="+v, "", e.key())
		expectAt(t, "session_kind="+v, res, 400, `{"session_kind":["\"`+v+`\" is not a valid choice."]}`)
	}
}

// TestListSessionsBehindProxy: with a public URL configured, page links use
// it instead of the loopback address the request came in on.
func TestListSessionsBehindProxy(t *testing.T) {
	const public = "https://kyc.example.com"
	e := newEnv(t, withPublicURL(public))
	var id string
	for i := 0; i < 3; i++ {
		id = e.newSession(kycreview.KindUser)
	}
	for i := 0; i < 3; i++ {
		if res := e.do("POST", "/v3/sessions/"+id+"/reviews/", `{"new_status":"In Review"}`, e.key(), jsonType); res.status != 201 {
			t.Fatalf("review: %d %s", res.status, res.body)
		}
	}
	for _, c := range []struct {
		path       string
		next, prev *string
	}{
		{"/v3/sessions/?limit=1", ptr(public + "/v3/sessions/?limit=1&offset=1"), nil},
		{"/v3/sessions/?limit=1&offset=1", ptr(public + "/v3/sessions/?limit=1&offset=2"), ptr(public + "/v3/sessions/?limit=1")},
		{"/v3/sessions/" + id + "/reviews/?limit=1", ptr(public + "/v3/sessions/" + id + "/reviews/?limit=1&offset=1"), nil},
		{"/v3/sessions/" + id + "/reviews/?limit=1&offset=2", nil, ptr(public + "/v3/sessions/" + id + "/reviews/?limit=1&offset=1")},
	} {
		res := e.do("GET", c.path, "", e.key())
		if res.status != 200 {
			t.Fatalf("GET %s: %d %s", c.path, res.status, res.body)
		}
		var page struct{ Next, Previous *string }
		if err := json.Unmarshal([]byte(res.body), &page); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.next, page.Next); diff != "" {
			t.Errorf("GET %s: next (-want +got):\n%s", c.path, diff)
		}
		if diff := cmp.Diff(c.prev, page.Previous); diff != "" {
			t.Errorf("GET %s: previous (-want +got):\n%s", c.path, diff)
		}
	}
}

// TestDeleteSession: a soft delete answers 204 with no body; the session is
// then a 404 on every endpoint, and its feed rows and events stay.
func TestDeleteSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.newSession(kycreview.KindUser)
	keep := e.newSession(kycreview.KindUser)
	if _, err := e.client.CreateReview(ctx, id, client.ReviewRequest{NewStatus: "In Review", Comment: ptr("before delete")}); err != nil {
		t.Fatal(err)
	}
	res := e.do("DELETE", "/v3/session/"+id+"/delete/", "", e.key())
	expect(t, res, 204, "")
	before := e.writeCounts()

	sys := "x-api-key: " + e.systemKey()
	for _, c := range []struct {
		method, path, body string
		headers            []string
	}{
		{"GET", "/v3/session/" + id + "/decision/", "", []string{e.key()}},
		{"GET", "/v3/sessions/" + id + "/reviews/", "", []string{e.key()}},
		{"POST", "/v3/sessions/" + id + "/reviews/", `{"new_status":"Approved"}`, []string{e.key(), jsonType}},
		{"PATCH", "/v3/session/" + id + "/update-status/", `{"new_status":"Approved"}`, []string{e.key(), jsonType}},
		{"PATCH", "/v3/session/" + id + "/update-status/", `{"new_status":"In Progress"}`, []string{sys, jsonType}},
		{"DELETE", "/v3/session/" + id + "/delete/", "", []string{e.key()}},
	} {
		expectAt(t, c.method+" "+c.path, e.do(c.method, c.path, c.body, c.headers...), 404, detailSessionNotFound)
	}
	e.sameWrites(t, before)
	if got := e.listSessions(t, "session_kind=all"); !cmp.Equal(got.IDs, []string{keep}) {
		t.Errorf("list after delete: %v, want only %s", got.IDs, keep)
	}
	// The audit trail is kept.
	if n := e.count(`SELECT count(*) FROM activities a JOIN sessions s ON s.pk = a.session_pk WHERE s.id = ? AND a.comment = 'before delete'`, id); n != 1 {
		t.Errorf("feed rows of the deleted session = %d, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM webhook_outbox o JOIN sessions s ON s.pk = o.session_pk WHERE s.id = ?`, id); n != 1 {
		t.Errorf("outbox rows of the deleted session = %d, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM sessions WHERE id = ? AND deleted_at IS NOT NULL`, id); n != 1 {
		t.Errorf("the deleted session's row is gone or not marked deleted")
	}
	// The other session is untouched.
	if _, err := e.client.Decision(ctx, keep); err != nil {
		t.Errorf("the other session after a delete: %v", err)
	}

	// KYB sessions are deleted the same way.
	bid := e.newSession(kycreview.KindBusiness)
	expect(t, e.do("DELETE", "/v3/session/"+bid+"/delete", "", e.key()), 204, "")
	expect(t, e.do("GET", "/v3/session/"+bid+"/decision/", "", e.key()), 404, detailSessionNotFound)
}

// feedHead returns the newest feed row of a KYC session with its id and
// time normalised.
func (e *env) feedHead(t *testing.T, id string) string {
	t.Helper()
	res := e.do("GET", "/v3/sessions/"+id+"/reviews/?limit=1", "", e.key())
	var page struct{ Results []json.RawMessage }
	if err := json.Unmarshal([]byte(res.body), &page); err != nil || len(page.Results) != 1 {
		t.Fatalf("feed: %d %s", res.status, res.body)
	}
	return normalise(string(page.Results[0]))
}

// feedRow is the feed entry a status change writes, normalised.
func feedRow(actorType, actorDisplay string, prev, next kycreview.Status, comment string) string {
	return `{"uuid":"00000000-0000-4000-8000-000000000000","activity_type":"STATUS_UPDATED","actor_display":"` + actorDisplay +
		`","actor_email":null,"actor_type":"` + actorType + `","new_status":"` + string(next) + `","previous_status":"` + string(prev) +
		`","comment":` + comment + `,"mentioned_emails":[],"previous_value":{"status":"` + string(prev) + `"},"new_value":{"status":"` +
		string(next) + `"},"changed_fields":["status"],"metadata":null,"created_at":"2026-01-01T00:00:00.000000Z"}`
}

// TestUpdateStatusNotUpdatable: a client key may only decide a session that
// is ready for a decision; the current status is checked before the body.
func TestUpdateStatusNotUpdatable(t *testing.T) {
	e := newEnv(t)
	bodies := []struct{ contentType, body string }{
		{"application/json", `{"new_status":"Approved"}`},
		{"application/json", `{"new_status":"Nope"}`},
		{"application/json", `{}`},
		{"application/json", `[1]`},
		{"application/json", `{`},
		{"text/plain", `{"new_status":"Approved"}`},
	}
	for _, status := range []kycreview.Status{kycreview.StatusNotStarted, kycreview.StatusInProgress, kycreview.StatusAwaitingUser, kycreview.StatusExpired} {
		for _, kind := range []kycreview.Kind{kycreview.KindUser, kycreview.KindBusiness} {
			id := e.newSession(kind)
			if status != kycreview.StatusNotStarted {
				e.moveTo(id, status)
			}
			before := e.writeCounts()
			want := `{"detail":"Only sessions with status Approved, Declined, In Review, Kyc Expired, Abandoned, Resubmitted can be updated. Current status: ` + string(status) + `"}`
			for _, b := range bodies {
				res := e.do("PATCH", "/v3/session/"+id+"/update-status/", b.body, e.key(), "Content-Type: "+b.contentType)
				expectAt(t, fmt.Sprintf("%s %s session, body %s", status, kind, b.body), res, 400, want)
			}
			e.sameWrites(t, before)
		}
	}
}

// TestUpdateStatusClient: from a decidable status a client key sets
// Approved, Declined or Resubmitted; each change is a feed row as API Client
// and a status.updated event; the same status again and other statuses are
// refused without writing (SPEC §4).
func TestUpdateStatusClient(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	e.moveTo(id, kycreview.StatusInReview)
	patch := func(body string) response {
		return e.do("PATCH", "/v3/session/"+id+"/update-status/", body, e.key(), jsonType)
	}
	events := func() int {
		return e.count(`SELECT count(*) FROM webhook_outbox o JOIN sessions s ON s.pk = o.session_pk WHERE s.id = ? AND o.event_type = 'status.updated'`, id)
	}
	okBody := `{"session_id":"` + id + `"}`

	steps := []struct {
		body       string
		prev, next kycreview.Status
		comment    string
	}{
		{`{"new_status":"Approved","comment":"Looks fine."}`, kycreview.StatusInReview, kycreview.StatusApproved, `"Looks fine."`},
		{`{"new_status":"Resubmitted"}`, kycreview.StatusApproved, kycreview.StatusResubmitted, `null`},
		{`{"new_status":"Declined","comment":null,"extra":1}`, kycreview.StatusResubmitted, kycreview.StatusDeclined, `null`},
	}
	for i, s := range steps {
		rows, evs := e.count(`SELECT count(*) FROM activities`), events()
		expectAt(t, s.body, patch(s.body), 200, okBody)
		if diff := cmp.Diff(feedRow("API_KEY", "API Client", s.prev, s.next, s.comment), e.feedHead(t, id)); diff != "" {
			t.Errorf("step %d feed row (-want +got):\n%s", i, diff)
		}
		if n := e.count(`SELECT count(*) FROM activities`); n != rows+1 {
			t.Errorf("step %d: activities %d, want %d", i, n, rows+1)
		}
		if n := events(); n != evs+1 {
			t.Errorf("step %d: status.updated events %d, want %d", i, n, evs+1)
		}
	}

	// Now Declined. Refusals write nothing.
	before := e.writeCounts()
	for _, c := range []struct{ body, want string }{
		{`{"new_status":"Declined"}`, `["The new status is the same as the current status."]`},
		{`{"new_status":"Declined","comment":"again"}`, `["The new status is the same as the current status."]`},
		{`{"new_status":"In Progress"}`, `{"new_status":["\"In Progress\" is not a valid choice."]}`},
		{`{"new_status":"In Review"}`, `{"new_status":["\"In Review\" is not a valid choice."]}`},
		{`{"new_status":"Not Started"}`, `{"new_status":["\"Not Started\" is not a valid choice."]}`},
		{`{"new_status":"Abandoned"}`, `{"new_status":["\"Abandoned\" is not a valid choice."]}`},
		{`{"new_status":"approved"}`, `{"new_status":["\"approved\" is not a valid choice."]}`},
		{`{"new_status":null}`, `{"new_status":["This field may not be null."]}`},
		{`{}`, `{"new_status":["This field is required."]}`},
		{`{"new_status":"Approved","comment":true}`, `{"comment":["Not a valid string."]}`},
		{`{"new_status":"Approved","comment":"a\u0000b"}`, `{"comment":["Null characters are not allowed."]}`},
		{`[1,2]`, `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
	} {
		expectAt(t, c.body, patch(c.body), 400, c.want)
	}
	e.sameWrites(t, before)

	// Abandoned and Kyc Expired sessions may be decided too, and KYB
	// sessions like KYC ones.
	for _, c := range []struct {
		kind kycreview.Kind
		from kycreview.Status
	}{
		{kycreview.KindUser, kycreview.StatusAbandoned},
		{kycreview.KindUser, kycreview.StatusKycExpired},
		{kycreview.KindBusiness, kycreview.StatusInReview},
		{kycreview.KindBusiness, kycreview.StatusKycExpired},
	} {
		sid := e.newSession(c.kind)
		e.moveTo(sid, c.from)
		res := e.do("PATCH", "/v3/session/"+sid+"/update-status", `{"new_status":"Approved"}`, e.key(), jsonType)
		expectAt(t, fmt.Sprintf("%s %s → Approved", c.kind, c.from), res, 200, `{"session_id":"`+sid+`"}`)
		if n := e.count(`SELECT count(*) FROM activities a JOIN sessions s ON s.pk = a.session_pk
			WHERE s.id = ? AND s.status = 'Approved' AND a.actor_type = 'API_KEY' AND a.actor_display = 'API Client'
			AND a.previous_status = ? AND a.new_status = 'Approved'`, sid, string(c.from)); n != 1 {
			t.Errorf("%s %s → Approved: no matching feed row", c.kind, c.from)
		}
		if n := e.count(`SELECT count(*) FROM webhook_outbox o JOIN sessions s ON s.pk = o.session_pk WHERE s.id = ?`, sid); n != 2 {
			t.Errorf("%s %s → Approved: %d events, want 2 (the move and the decision)", c.kind, c.from, n)
		}
	}
}

// TestUpdateStatusSystem: a system key moves a session to any status from
// any status; its rows are SYSTEM / "System".
func TestUpdateStatusSystem(t *testing.T) {
	e := newEnv(t)
	sys := "x-api-key: " + e.systemKey()
	id := e.newSession(kycreview.KindUser)
	path := "/v3/session/" + id + "/update-status/"
	chain := []kycreview.Status{
		kycreview.StatusInProgress, kycreview.StatusInReview, kycreview.StatusNotStarted, kycreview.StatusAwaitingUser,
		kycreview.StatusExpired, kycreview.StatusKycExpired, kycreview.StatusAbandoned, kycreview.StatusResubmitted,
		kycreview.StatusApproved, kycreview.StatusDeclined, kycreview.StatusInProgress,
	}
	prev := kycreview.StatusNotStarted
	for _, next := range chain {
		res := e.do("PATCH", path, `{"new_status":"`+string(next)+`"}`, sys, jsonType)
		expectAt(t, fmt.Sprintf("system %s → %s", prev, next), res, 200, `{"session_id":"`+id+`"}`)
		if diff := cmp.Diff(feedRow("SYSTEM", "System", prev, next, "null"), e.feedHead(t, id)); diff != "" {
			t.Errorf("%s → %s feed row (-want +got):\n%s", prev, next, diff)
		}
		prev = next
	}
	if n := e.count(`SELECT count(*) FROM activities WHERE actor_type = 'SYSTEM' AND actor_display = 'System' AND actor_email IS NULL`); n != len(chain) {
		t.Errorf("system rows = %d, want %d", n, len(chain))
	}
	if n := e.count(`SELECT count(*) FROM webhook_outbox WHERE event_type = 'status.updated'`); n != len(chain) {
		t.Errorf("status.updated events = %d, want %d", n, len(chain))
	}

	// Not a status at all is still refused.
	before := e.writeCounts()
	expectAt(t, "system Bogus", e.do("PATCH", path, `{"new_status":"Bogus"}`, sys, jsonType), 400, `{"new_status":["\"Bogus\" is not a valid choice."]}`)
	e.sameWrites(t, before)

	// KYB sessions too.
	bid := e.newSession(kycreview.KindBusiness)
	expectAt(t, "system KYB", e.do("PATCH", "/v3/session/"+bid+"/update-status/", `{"new_status":"In Progress"}`, sys, jsonType), 200, `{"session_id":"`+bid+`"}`)
}
