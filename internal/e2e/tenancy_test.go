package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/httpapi"
)

// The cross-tenant matrix (issue 9, item 6): every endpoint and method of
// the route table, called with application B's key on application A's
// resources, gets the contract's answer (SPEC §2: another application's
// session is "Session not found.", exactly like one that does not exist;
// docs/webhooks-api.md: the same for destinations and deliveries), the same
// answer an id that exists nowhere gets, and writes nothing.

// tenants is two applications, each with sessions, a destination and a
// delivery.
type tenants struct {
	e *env
	// A is the env's own application.
	aUser, aBusiness, aDest, aDelivery, aDestURL, aVendor string
	aWorkflow                                             string
	// B is the other tenant.
	bKey, bAppID, bUser, bDest, bDelivery string
}

func newTenants(t *testing.T, e *env) *tenants {
	t.Helper()
	ctx := context.Background()
	ts := &tenants{e: e, aDestURL: hookURL + "/acme", aVendor: "acme-customer-1"}
	ts.aWorkflow = e.app.Workflows[kycreview.KindUser].ID
	ts.aDest = e.createDestination(e.key(), `{"label":"A","url":"`+ts.aDestURL+`","subscribed_events":["status.updated"]}`).UUID
	res := e.createSessionRaw(`{"workflow_id":"` + ts.aWorkflow + `","vendor_data":"` + ts.aVendor + `","metadata":{"secret":"acme"}}`)
	if res.status != 201 {
		t.Fatalf("create A's session: %d %s", res.status, res.body)
	}
	ts.aUser = jsonString(t, jsonObject(t, res.body)["session_id"])
	e.moveTo(ts.aUser, kycreview.StatusInReview)
	e.review(ts.aUser, "Approved")
	ts.aBusiness = e.newSession(kycreview.KindBusiness)
	e.moveTo(ts.aBusiness, kycreview.StatusInReview)
	ds := e.deliveries(ts.aDest, "")
	if len(ds) == 0 {
		t.Fatal("A has no delivery")
	}
	ts.aDelivery = ds[0].UUID

	other, err := e.svc.CreateApplication(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	ts.bKey, ts.bAppID = "x-api-key: "+other.Token, other.Application.ID
	ts.bDest = e.createDestination(ts.bKey, `{"label":"B","url":"`+hookURL+`/other","subscribed_events":["status.updated"]}`).UUID
	res = e.do("POST", "/v3/session/", `{"workflow_id":"`+other.Workflows[kycreview.KindUser].ID+`","vendor_data":"`+ts.aVendor+`"}`, ts.bKey, jsonType)
	if res.status != 201 {
		t.Fatalf("create B's session: %d %s", res.status, res.body)
	}
	ts.bUser = jsonString(t, jsonObject(t, res.body)["session_id"])
	if res := e.do("POST", "/v3/sessions/"+ts.bUser+"/reviews/", `{"new_status":"Declined"}`, ts.bKey, jsonType); res.status != 201 {
		t.Fatalf("B's review: %d %s", res.status, res.body)
	}
	res = e.do("GET", destinationsPath+ts.bDest+"/deliveries/", "", ts.bKey)
	var page deliveryPage
	if err := json.Unmarshal([]byte(res.body), &page); err != nil || len(page.Results) == 0 {
		t.Fatalf("B's deliveries: %d %s", res.status, res.body)
	}
	ts.bDelivery = page.Results[0].UUID
	return ts
}

func jsonString(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("not a string: %s", raw)
	}
	return s
}

// aViews is everything A's key can read about A's resources: the contract
// says another tenant changes none of it.
func (ts *tenants) aViews(t *testing.T) map[string]string {
	t.Helper()
	e := ts.e
	out := map[string]string{}
	for _, p := range []string{
		"/v3/sessions/" + ts.aUser + "/reviews/?ordering=created_at",
		"/v3/sessions/" + ts.aUser + "/reviews/proof/",
		"/v3/session/" + ts.aUser + "/decision/",
		"/v3/session/" + ts.aBusiness + "/decision/",
		"/v3/sessions/?session_kind=all",
		destinationsPath,
		destinationsPath + ts.aDest + "/",
		destinationsPath + ts.aDest + "/deliveries/",
	} {
		res := e.do("GET", p, "", e.key())
		if res.status != 200 {
			t.Fatalf("A reads %s: %d %s", p, res.status, res.body)
		}
		// A proof is signed now: its time is the only field that moves.
		out[p] = proofTimeRE.ReplaceAllString(res.body, `"time":"…"`)
	}
	return out
}

var proofTimeRE = regexp.MustCompile(`"time":"[^"]*"`)

// variant is one way to fill a route's wildcards.
type variant struct {
	name string
	ids  map[string]string // wildcard → value
}

// crossCase is what B gets for one method of one route.
type crossCase struct {
	query string // appended to the path
	body  string // a JSON request body, if any
	// variants fill the wildcards (nil: A's user session, destination and
	// delivery).
	variants []variant
	status   int
	want     string                             // the exact body, unless check is set
	check    func(t *testing.T, res response)   // for answers that are B's own data
	ownWrite func(t *testing.T, added []string) // the request may add B's rows: check them
}

// crossTable is the matrix's rows, by "METHOD pattern". A route or method
// added to the API without a row here fails TestCrossTenantMatrix.
func (ts *tenants) crossTable() map[string]crossCase {
	aIDs := map[string]string{"session_id": ts.aUser, "destination_uuid": ts.aDest, "delivery_uuid": ts.aDelivery}
	aBusiness := map[string]string{"session_id": ts.aBusiness}
	sessionVariants := []variant{{"A's user session", aIDs}, {"A's business session", aBusiness}}
	review := `{"new_status":"Declined","comment":"B was here"}`
	return map[string]crossCase{
		"GET /v3/sessions/{session_id}/reviews":        {query: "?ordering=created_at", variants: sessionVariants, status: 404, want: detailSessionNotFound},
		"POST /v3/sessions/{session_id}/reviews":       {body: review, variants: sessionVariants, status: 404, want: detailSessionNotFound},
		"GET /v3/sessions/{session_id}/reviews/proof":  {variants: sessionVariants, status: 404, want: detailSessionNotFound},
		"GET /v3/session/{session_id}/decision":        {variants: sessionVariants, status: 404, want: detailSessionNotFound},
		"DELETE /v3/session/{session_id}/delete":       {variants: sessionVariants, status: 404, want: detailSessionNotFound},
		"PATCH /v3/session/{session_id}/update-status": {body: `{"new_status":"Declined"}`, variants: sessionVariants, status: 404, want: detailSessionNotFound},
		// A's workflow is not B's: the field error an unknown id gets.
		"POST /v3/session": {body: `{"workflow_id":"` + ts.aWorkflow + `"}`, status: 400,
			want: `{"workflow_id":["Invalid pk \"` + ts.aWorkflow + `\" - object does not exist."]}`},
		// B's list never holds A's sessions, whatever the filter.
		"GET /v3/sessions": {query: "?session_kind=all&vendor_data=" + ts.aVendor, status: 200, check: func(t *testing.T, res response) {
			ids := regexp.MustCompile(`"session_id":"([^"]+)"`).FindAllStringSubmatch(res.body, -1)
			if len(ids) != 1 || ids[0][1] != ts.bUser || !strings.HasPrefix(res.body, `{"count":1,`) {
				t.Errorf("B's session list: %s", res.body)
			}
		}},
		"GET /v3/webhook/destinations": {status: 200, check: func(t *testing.T, res response) {
			var list []destinationView
			if err := json.Unmarshal([]byte(res.body), &list); err != nil || len(list) != 1 || list[0].UUID != ts.bDest {
				t.Errorf("B's destination list: %s", res.body)
			}
		}},
		// B may use the URL A uses (URLs are unique per application): a
		// destination of B's own, nothing of A's.
		"POST /v3/webhook/destinations": {body: `{"label":"B2","url":"` + ts.aDestURL + `"}`, status: 201,
			check: func(t *testing.T, res response) {
				d := decodeDestination(t, res.body)
				if d.URL != ts.aDestURL || d.UUID == ts.aDest {
					t.Errorf("B's new destination: %s", res.body)
				}
				// Deleted again (softly: the row stays, marked), so the next
				// run of this row may use the URL.
				if res := ts.e.do("DELETE", destinationsPath+d.UUID+"/", "", ts.bKey); res.status != 204 {
					t.Errorf("B deletes its new destination: %d %s", res.status, res.body)
				}
			},
			ownWrite: func(t *testing.T, added []string) {
				if len(added) != 1 || !strings.Contains(added[0], ts.bAppID) {
					t.Errorf("B's create added %q, want one row of B's", added)
				}
			}},
		"GET /v3/webhook/destinations/{destination_uuid}":            {status: 404, want: detailDestNotFound},
		"PATCH /v3/webhook/destinations/{destination_uuid}":          {body: `{"label":"pwned","url":"` + hookURL + `/pwned"}`, status: 404, want: detailDestNotFound},
		"DELETE /v3/webhook/destinations/{destination_uuid}":         {status: 404, want: detailDestNotFound},
		"GET /v3/webhook/destinations/{destination_uuid}/deliveries": {status: 404, want: detailDestNotFound},
		"POST /v3/webhook/destinations/{destination_uuid}/deliveries/{delivery_uuid}/resend": {status: 404, want: detailDestNotFound,
			variants: []variant{{"A's destination and delivery", aIDs}}},
		// Unauthenticated, tenant-free; they must not name any tenant's data.
		"GET /system/healthcheck": {status: 200, check: ts.noTenantData},
		"GET /system/status":      {status: 200, check: ts.noTenantData},
		"GET /openapi.json":       {status: 200, check: ts.noTenantData},
	}
}

func (ts *tenants) noTenantData(t *testing.T, res response) {
	t.Helper()
	for _, id := range []string{ts.aUser, ts.aBusiness, ts.aDest, ts.aDelivery, ts.aVendor, ts.bUser, ts.bDest, ts.bAppID, ts.e.app.Application.ID} {
		if strings.Contains(res.body, id) {
			t.Errorf("a tenant's id %s in %s", id, res.body)
		}
	}
}

// fill replaces a pattern's wildcards.
func fill(t *testing.T, pattern string, ids map[string]string) string {
	t.Helper()
	return regexp.MustCompile(`\{([a-z_]+)\}`).ReplaceAllStringFunc(pattern, func(w string) string {
		name := w[1 : len(w)-1]
		v, ok := ids[name]
		if !ok {
			t.Fatalf("%s: no value for the wildcard {%s}: give the matrix one", pattern, name)
		}
		return v
	})
}

// unknownIDs are ids that exist nowhere, for every wildcard.
var unknownIDs = map[string]string{
	"session_id": errUnknownID, "destination_uuid": "0d7b3c1e-9a2f-4e6b-8c5d-1f2e3d4c5b6a", "delivery_uuid": "7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a098",
}

// apiRoutes is the API's route table, from the router itself.
func apiRoutes(e *env) []httpapi.Route {
	return httpapi.New(e.svc, e.cfg, slog.New(slog.NewTextHandler(io.Discard, nil))).Routes()
}

// TestCrossTenantMatrix: B's key on A's resources, for every route and
// method of the route table, with and without the trailing slash; HEAD,
// OPTIONS and an unsupported method too. Each answer is the contract's,
// byte for byte, and the one an id that exists nowhere gets (so A's ids
// cannot be probed); the database is unchanged after each request (apart
// from B's own new rows where B creates something), and everything A reads
// is unchanged at the end.
func TestCrossTenantMatrix(t *testing.T) {
	e := newEnv(t)
	ts := newTenants(t, e)
	table := ts.crossTable()
	aBefore := ts.aViews(t)

	seen := map[string]bool{}
	for _, route := range apiRoutes(e) {
		for _, method := range route.Methods {
			key := method + " " + route.Pattern
			seen[key] = true
			c, ok := table[key]
			if !ok {
				t.Errorf("%s has no row in the cross-tenant matrix: add one with the contract's answer", key)
				continue
			}
			variants := c.variants
			if variants == nil {
				variants = []variant{{"A's", map[string]string{"session_id": ts.aUser, "destination_uuid": ts.aDest, "delivery_uuid": ts.aDelivery}}}
			}
			for _, v := range variants {
				for _, slash := range []string{"/", ""} {
					path := fill(t, route.Pattern, v.ids) + slash + c.query
					what := key + " " + v.name + " (" + path + ")"
					before := e.dump()
					var headers []string
					if route.Auth {
						headers = append(headers, ts.bKey)
					}
					if c.body != "" {
						headers = append(headers, jsonType)
					}
					res := e.do(method, path, c.body, headers...)
					if c.check != nil {
						if res.status != c.status {
							t.Errorf("%s: %d %s, want %d", what, res.status, res.body, c.status)
						}
						c.check(t, res)
					} else {
						expectAt(t, what, res, c.status, c.want)
					}
					if c.ownWrite != nil {
						added, removed := before.diff(e.dump())
						var rows []string
						for _, r := range added {
							rows = append(rows, r...)
						}
						c.ownWrite(t, rows)
						if len(removed) > 0 {
							t.Errorf("%s: changed %q", what, removed)
						}
						continue
					}
					e.sameDB(t, what, before)
					if !strings.Contains(route.Pattern, "{") {
						continue
					}
					// The same answer as for ids that exist nowhere.
					unknown := e.do(method, fill(t, route.Pattern, unknownIDs)+slash+c.query, c.body, headers...)
					if unknown.status != res.status || unknown.body != res.body {
						t.Errorf("%s: %d %s, but an unknown id gets %d %s", what, res.status, res.body, unknown.status, unknown.body)
					}
				}
			}
			if !slices.Contains(route.Methods, http.MethodGet) || !route.Auth {
				continue
			}
			// HEAD is GET without the body.
			path := fill(t, route.Pattern, map[string]string{"session_id": ts.aUser, "destination_uuid": ts.aDest, "delivery_uuid": ts.aDelivery}) + "/"
			if res := e.do("HEAD", path, "", ts.bKey); method == http.MethodGet && (res.status != c.status || res.body != "") {
				t.Errorf("HEAD %s: %d %q, want %d and no body", path, res.status, res.body, c.status)
			}
		}
	}
	// Every route answers OPTIONS and refuses PUT the same way for A's ids
	// as for unknown ones.
	for _, route := range apiRoutes(e) {
		a := fill(t, route.Pattern, map[string]string{"session_id": ts.aUser, "destination_uuid": ts.aDest, "delivery_uuid": ts.aDelivery}) + "/"
		u := fill(t, route.Pattern, unknownIDs) + "/"
		for _, method := range []string{"OPTIONS", "PUT"} {
			before := e.dump()
			ra, ru := e.do(method, a, "", ts.bKey), e.do(method, u, "", ts.bKey)
			if ra.status != ru.status || ra.body != ru.body || ra.header.Get("Allow") != ru.header.Get("Allow") {
				t.Errorf("%s %s: %d %s, unknown ids %d %s", method, a, ra.status, ra.body, ru.status, ru.body)
			}
			if method == "PUT" {
				expectAt(t, "PUT "+a, ra, 405, `{"detail":"Method \"PUT\" not allowed."}`)
			} else if ra.status != 200 || !strings.Contains(ra.body, `"name":"`+route.Name+`"`) {
				t.Errorf("OPTIONS %s: %d %s", a, ra.status, ra.body)
			}
			e.sameDB(t, method+" "+a, before)
		}
	}
	for key := range table {
		if !seen[key] {
			t.Errorf("the matrix has a row for %s, which the route table does not serve", key)
		}
	}

	// Their own destination does not reach A's delivery either.
	before := e.dump()
	expectAt(t, "resend of A's delivery through B's destination",
		e.do("POST", destinationsPath+ts.bDest+"/deliveries/"+ts.aDelivery+"/resend/", "", ts.bKey), 404, detailDeliveryMissing)
	e.sameDB(t, "resend through B's destination", before)
	// And A's key does not reach B's (the matrix is symmetric).
	expectAt(t, "A's key on B's session", e.do("GET", "/v3/sessions/"+ts.bUser+"/reviews/", "", e.key()), 404, detailSessionNotFound)
	expectAt(t, "A's key on B's destination", e.do("GET", destinationsPath+ts.bDest+"/", "", e.key()), 404, detailDestNotFound)

	// Everything A sees is as it was.
	for p, body := range ts.aViews(t) {
		if aBefore[p] != body {
			t.Errorf("A's %s changed:\nbefore %s\nafter  %s", p, aBefore[p], body)
		}
	}
}

// TestMatrixCoversRouter: the matrix's route list is the router's: every
// pattern Routes lists is served (not the catch-all 404), so a route table
// and a router that drift apart fail here.
func TestMatrixCoversRouter(t *testing.T) {
	e := newEnv(t)
	routes := apiRoutes(e)
	if len(routes) < 12 {
		t.Fatalf("Routes lists %d routes", len(routes))
	}
	for _, r := range routes {
		path := fill(t, r.Pattern, unknownIDs) + "/"
		res := e.do("OPTIONS", path, "", e.key())
		if res.status != 200 || !strings.Contains(res.body, `"name":"`+r.Name+`"`) {
			t.Errorf("OPTIONS %s: %d %s, want the resource %q", path, res.status, res.body, r.Name)
		}
		allow := strings.Split(res.header.Get("Allow"), ", ")
		for _, m := range r.Methods {
			if !slices.Contains(allow, m) {
				t.Errorf("%s: Allow %q lacks %s", path, allow, m)
			}
		}
	}
}
