package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/webhook"
)

// The webhook destination endpoints (issue 5, acceptance 1; SPEC §5 and
// Didit's OpenAPI): create, list, get, update and delete, DRF's validation
// errors, the (application, url) uniqueness, tenant isolation and the SSRF
// check at save time.

const (
	destinationsPath      = "/v3/webhook/destinations/"
	hookURL               = "https://hooks.example.com/kyc"
	detailDestNotFound    = `{"detail":"Webhook destination not found."}`
	detailDeliveryMissing = `{"detail":"Webhook delivery not found."}`
)

// destinationKeys are the fields of a destination's detail (create, get,
// update), and listKeys those of a list row, sorted: Didit's, then
// kycreview's health fields.
var (
	destinationKeys = []string{"created_at", "disabled_at", "disabled_reason", "enabled", "failing_since", "label",
		"secret_shared_key", "subscribed_events", "updated_at", "url", "uuid", "webhook_version"}
	listKeys = []string{"created_at", "disabled_at", "disabled_reason", "enabled", "failing_since", "label",
		"subscribed_events", "subscribed_events_count", "updated_at", "url", "uuid", "webhook_version"}
	secretRE = regexp.MustCompile(`"secret_shared_key":"[A-Za-z0-9_-]{43}"`)
)

// destinationView is a destination body, decoded.
type destinationView struct {
	UUID                  string   `json:"uuid"`
	Label                 string   `json:"label"`
	URL                   string   `json:"url"`
	Enabled               bool     `json:"enabled"`
	WebhookVersion        string   `json:"webhook_version"`
	SecretSharedKey       *string  `json:"secret_shared_key"`
	SubscribedEvents      []string `json:"subscribed_events"`
	SubscribedEventsCount *int     `json:"subscribed_events_count"`
	CreatedAt             string   `json:"created_at"`
	UpdatedAt             string   `json:"updated_at"`
	DisabledReason        *string  `json:"disabled_reason"`
	DisabledAt            *string  `json:"disabled_at"`
	FailingSince          *string  `json:"failing_since"`
}

func decodeDestination(t *testing.T, body string) destinationView {
	t.Helper()
	var d destinationView
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("not a destination: %v: %s", err, body)
	}
	return d
}

// createDestination posts body to the destinations endpoint with key and
// returns the created destination.
func (e *env) createDestination(key, body string) destinationView {
	e.t.Helper()
	res := e.do("POST", destinationsPath, body, key, jsonType)
	if res.status != 201 {
		e.t.Fatalf("create destination %s: %d %s", body, res.status, res.body)
	}
	var d destinationView
	if err := json.Unmarshal([]byte(res.body), &d); err != nil {
		e.t.Fatalf("create destination: %v: %s", err, res.body)
	}
	return d
}

// otherApp creates a second application and returns its key header.
func (e *env) otherApp() string {
	e.t.Helper()
	other, err := e.svc.CreateApplication(context.Background(), "Other")
	if err != nil {
		e.t.Fatalf("create application: %v", err)
	}
	return "x-api-key: " + other.Token
}

func (e *env) destinationRows() int {
	e.t.Helper()
	return e.count(`SELECT count(*) FROM webhook_destinations`)
}

// TestDestinationLifecycle: create (201 with the secret), get, list (a bare
// array without secrets, oldest first, as Didit's), update (PATCH: only the
// fields sent; events replaced; the secret kept), pause, delete (204, soft)
// and 404 after.
func TestDestinationLifecycle(t *testing.T) {
	e := newEnv(t)
	res := e.do("POST", destinationsPath,
		`{"label":" Production ","url":"https://hooks.example.com/kyc","webhook_version":"v3","subscribed_events":["status.updated","data.updated","status.updated"]}`,
		e.key(), jsonType)
	expect(t, res, 201, res.body)
	if res.status != 201 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	if diff := cmp.Diff(destinationKeys, objectKeys(jsonObject(t, res.body))); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if !secretRE.MatchString(res.body) {
		t.Errorf("no 43-character URL-safe secret_shared_key in %s", res.body)
	}
	golden(t, "webhook_destination_201.json", normalise(secretRE.ReplaceAllString(res.body, `"secret_shared_key":"SECRET"`)))
	created := decodeDestination(t, res.body)
	if !lowerUUIDRE.MatchString(`"` + created.UUID + `"`) {
		t.Errorf("uuid %q", created.UUID)
	}
	if !drfDateTimeRE.MatchString(`"`+created.CreatedAt+`"`) || created.UpdatedAt != created.CreatedAt {
		t.Errorf("created_at %q, updated_at %q", created.CreatedAt, created.UpdatedAt)
	}
	path := destinationsPath + created.UUID + "/"

	// GET answers what POST did; the id is matched in either case.
	expect(t, e.do("GET", path, "", e.key()), 200, res.body)
	expect(t, e.do("GET", destinationsPath+strings.ToUpper(created.UUID)+"/", "", e.key()), 200, res.body)

	// Omitted events subscribe to nothing; enabled=false is a pause.
	staging := e.createDestination(e.key(), `{"label":"Staging","url":"https://hooks.example.com/staging","enabled":false}`)
	if staging.Enabled || staging.DisabledReason == nil || *staging.DisabledReason != "paused" ||
		staging.SubscribedEvents == nil || len(staging.SubscribedEvents) != 0 {
		t.Errorf("paused destination: %s", show(staging))
	}

	list := e.do("GET", destinationsPath, "", e.key())
	expect(t, list, 200, list.body)
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(list.body), &rows); err != nil {
		t.Fatalf("list is not an array: %v: %s", err, list.body)
	}
	if len(rows) != 2 {
		t.Fatalf("list has %d rows: %s", len(rows), list.body)
	}
	for i, want := range []struct {
		id     string
		events int
	}{{created.UUID, 2}, {staging.UUID, 0}} {
		if diff := cmp.Diff(listKeys, objectKeys(rows[i])); diff != "" {
			t.Errorf("row %d keys (-want +got):\n%s", i, diff)
		}
		if string(rows[i]["uuid"]) != `"`+want.id+`"` || string(rows[i]["subscribed_events_count"]) != itoa(want.events) {
			t.Errorf("row %d: %s, want uuid %s with %d events", i, list.body, want.id, want.events)
		}
	}

	// PATCH changes what it names and nothing else.
	res = e.do("PATCH", path, `{"label":"Production v2","subscribed_events":["status.updated"]}`, e.key(), jsonType)
	expect(t, res, 200, res.body)
	patched := decodeDestination(t, res.body)
	want := created
	want.Label, want.SubscribedEvents, want.UpdatedAt = "Production v2", []string{"status.updated"}, patched.UpdatedAt
	if diff := cmp.Diff(want, patched); diff != "" {
		t.Errorf("after PATCH (-want +got):\n%s", diff)
	}
	expect(t, e.do("GET", path, "", e.key()), 200, res.body)
	if res := e.do("PATCH", path, `{}`, e.key(), jsonType); res.status != 200 || decodeDestination(t, res.body).Label != "Production v2" {
		t.Errorf("empty PATCH: %d %s", res.status, res.body)
	}

	// Pause and resume; DRF's boolean spellings are accepted.
	res = e.do("PATCH", path, `{"enabled":"off"}`, e.key(), jsonType)
	if d := decodeDestination(t, res.body); res.status != 200 || d.Enabled || d.DisabledReason == nil || *d.DisabledReason != "paused" {
		t.Errorf("pause: %d %s", res.status, res.body)
	}
	res = e.do("PATCH", path, `{"enabled":1}`, e.key(), jsonType)
	if d := decodeDestination(t, res.body); res.status != 200 || !d.Enabled || d.DisabledReason != nil {
		t.Errorf("resume: %d %s", res.status, res.body)
	}

	// DELETE is soft: 204, then 404 everywhere, and the row is kept.
	res = e.do("DELETE", path, "", e.key())
	if res.status != 204 || res.body != "" {
		t.Errorf("delete: %d %q", res.status, res.body)
	}
	expect(t, e.do("GET", path, "", e.key()), 404, detailDestNotFound)
	expect(t, e.do("PATCH", path, `{"label":"x"}`, e.key(), jsonType), 404, detailDestNotFound)
	expect(t, e.do("DELETE", path, "", e.key()), 404, detailDestNotFound)
	expect(t, e.do("GET", path+"deliveries/", "", e.key()), 404, detailDestNotFound)
	list = e.do("GET", destinationsPath, "", e.key())
	if rows = nil; json.Unmarshal([]byte(list.body), &rows) != nil || len(rows) != 1 || string(rows[0]["uuid"]) != `"`+staging.UUID+`"` {
		t.Errorf("list after delete: %s", list.body)
	}
	if n := e.count(`SELECT count(*) FROM webhook_destinations WHERE id = ? AND deleted_at IS NOT NULL`, created.UUID); n != 1 {
		t.Errorf("the deleted destination's row: %d, want 1 kept with deleted_at", n)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestDestinationValidation: every refused body gets DRF's shape and
// wording (Didit's own where it has one), and writes nothing.
func TestDestinationValidation(t *testing.T) {
	e := newEnv(t)
	existing := e.createDestination(e.key(), `{"label":"Prod","url":"`+hookURL+`","subscribed_events":["status.updated"]}`)
	path := destinationsPath + existing.UUID + "/"
	before := e.destinationRows()
	beforeBody := e.do("GET", path, "", e.key()).body

	valid := `"label":"L","url":"https://hooks.example.com/new"`
	cases := []struct {
		name, method, path, body, contentType string
		status                                int
		want                                  string
	}{
		{"empty object", "POST", destinationsPath, `{}`, jsonType, 400,
			`{"label":["This field is required."],"url":["This field is required."]}`},
		{"empty body", "POST", destinationsPath, ``, jsonType, 400,
			`{"label":["This field is required."],"url":["This field is required."]}`},
		{"missing url", "POST", destinationsPath, `{"label":"L"}`, jsonType, 400, `{"url":["This field is required."]}`},
		{"null url", "POST", destinationsPath, `{"label":"L","url":null}`, jsonType, 400, `{"url":["This field may not be null."]}`},
		{"blank label", "POST", destinationsPath, `{"label":"  ","url":"https://hooks.example.com/new"}`, jsonType, 400,
			`{"label":["This field may not be blank."]}`},
		{"label too long", "POST", destinationsPath, `{"label":"` + strings.Repeat("é", 256) + `","url":"https://hooks.example.com/new"}`, jsonType, 400,
			`{"label":["Ensure this field has no more than 255 characters."]}`},
		{"label not a string", "POST", destinationsPath, `{"label":{"a":1},"url":"https://hooks.example.com/new"}`, jsonType, 400,
			`{"label":["Not a valid string."]}`},
		{"NUL in label", "POST", destinationsPath, `{"label":"a\u0000b","url":"https://hooks.example.com/new"}`, jsonType, 400,
			`{"label":["Null characters are not allowed."]}`},
		{"http refused", "POST", destinationsPath, `{"label":"L","url":"http://hooks.example.com/new"}`, jsonType, 400,
			`{"url":["Enter a URL that uses https."]}`},
		{"not a URL", "POST", destinationsPath, `{"label":"L","url":"hooks.example.com/new"}`, jsonType, 400, `{"url":["Enter a valid URL."]}`},
		{"number as URL", "POST", destinationsPath, `{"label":"L","url":42}`, jsonType, 400, `{"url":["Enter a valid URL."]}`},
		{"credentials in URL", "POST", destinationsPath, `{"label":"L","url":"https://u:p@hooks.example.com/new"}`, jsonType, 400,
			`{"url":["Enter a URL without a username or password."]}`},
		{"URL too long", "POST", destinationsPath, `{"label":"L","url":"https://hooks.example.com/` + strings.Repeat("a", 200) + `"}`, jsonType, 400,
			`{"url":["Ensure this field has no more than 200 characters."]}`},
		{"empty events", "POST", destinationsPath, `{` + valid + `,"subscribed_events":[]}`, jsonType, 400,
			`{"subscribed_events":["At least one subscribed event is required."]}`},
		{"unknown events", "POST", destinationsPath, `{` + valid + `,"subscribed_events":["status.updated","foo.bar","*","foo.bar"]}`, jsonType, 400,
			`{"subscribed_events":["Unsupported webhook events: foo.bar, *"]}`},
		{"events as a string", "POST", destinationsPath, `{` + valid + `,"subscribed_events":"status.updated"}`, jsonType, 400,
			`{"subscribed_events":["Expected a list of items but got type \"str\"."]}`},
		{"events as an object", "POST", destinationsPath, `{` + valid + `,"subscribed_events":{"status.updated":true}}`, jsonType, 400,
			`{"subscribed_events":["Expected a list of items but got type \"dict\"."]}`},
		{"null events", "POST", destinationsPath, `{` + valid + `,"subscribed_events":null}`, jsonType, 400,
			`{"subscribed_events":["This field may not be null."]}`},
		{"bad event items, by index", "POST", destinationsPath, `{` + valid + `,"subscribed_events":["status.updated",null,true]}`, jsonType, 400,
			`{"subscribed_events":{"1":["This field may not be null."],"2":["Not a valid string."]}}`},
		{"a number is an unknown event", "POST", destinationsPath, `{` + valid + `,"subscribed_events":[1]}`, jsonType, 400,
			`{"subscribed_events":["Unsupported webhook events: 1"]}`},
		{"enabled not a boolean", "POST", destinationsPath, `{` + valid + `,"enabled":"sometimes"}`, jsonType, 400,
			`{"enabled":["Must be a valid boolean."]}`},
		{"null enabled", "POST", destinationsPath, `{` + valid + `,"enabled":null}`, jsonType, 400, `{"enabled":["This field may not be null."]}`},
		{"older webhook version", "POST", destinationsPath, `{` + valid + `,"webhook_version":"v2"}`, jsonType, 400,
			`{"webhook_version":["\"v2\" is not a valid choice."]}`},
		{"every problem at once", "POST", destinationsPath, `{"enabled":[],"subscribed_events":[],"webhook_version":true}`, jsonType, 400,
			`{"enabled":["Must be a valid boolean."],"label":["This field is required."],` +
				`"subscribed_events":["At least one subscribed event is required."],"url":["This field is required."],` +
				`"webhook_version":["\"True\" is not a valid choice."]}`},
		{"not an object", "POST", destinationsPath, `["` + hookURL + `"]`, jsonType, 400,
			`{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{"null body", "POST", destinationsPath, `null`, jsonType, 400, `{"non_field_errors":["No data provided"]}`},
		{"text body", "POST", destinationsPath, `{` + valid + `}`, "Content-Type: text/plain", 415,
			`{"detail":"Unsupported media type \"text/plain\" in request."}`},

		{"PATCH: empty events", "PATCH", path, `{"subscribed_events":[]}`, jsonType, 400,
			`{"subscribed_events":["At least one subscribed event is required."]}`},
		{"PATCH: null label", "PATCH", path, `{"label":null}`, jsonType, 400, `{"label":["This field may not be null."]}`},
		{"PATCH: http URL", "PATCH", path, `{"url":"http://hooks.example.com/kyc"}`, jsonType, 400, `{"url":["Enter a URL that uses https."]}`},
		{"PATCH: bad enabled", "PATCH", path, `{"enabled":2}`, jsonType, 400, `{"enabled":["Must be a valid boolean."]}`},
		{"PATCH: list body", "PATCH", path, `[]`, jsonType, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{"PATCH: text body", "PATCH", path, `{"label":"x"}`, "Content-Type: text/plain", 415,
			`{"detail":"Unsupported media type \"text/plain\" in request."}`},

		// The destination is looked up before the body is read, as DRF does.
		{"PATCH unknown destination with a bad body", "PATCH", destinationsPath + errUnknownID + "/", `{"subscribed_events":[]}`, jsonType, 404, detailDestNotFound},
		{"PATCH unknown destination with bad JSON", "PATCH", destinationsPath + errUnknownID + "/", `{`, jsonType, 404, detailDestNotFound},
		{"PATCH unknown destination", "PATCH", destinationsPath + errUnknownID + "/", `{"label":"x"}`, jsonType, 404, detailDestNotFound},
		{"GET unknown destination", "GET", destinationsPath + errUnknownID + "/", ``, "", 404, detailDestNotFound},
		{"DELETE unknown destination", "DELETE", destinationsPath + errUnknownID + "/", ``, "", 404, detailDestNotFound},
		{"GET malformed id", "GET", destinationsPath + "not-a-uuid/", ``, "", 404, detailDestNotFound},
		{"GET id with braces", "GET", destinationsPath + "{" + existing.UUID + "}/", ``, "", 404, detailDestNotFound},
		{"DELETE malformed id", "DELETE", destinationsPath + "123/", ``, "", 404, detailDestNotFound},
		{"PATCH malformed id", "PATCH", destinationsPath + "x/", `{"label":"x"}`, jsonType, 404, detailDestNotFound},
		{"log of malformed id", "GET", destinationsPath + "x/deliveries/", ``, "", 404, detailDestNotFound},
	}
	for _, c := range cases {
		headers := []string{e.key()}
		if c.contentType != "" {
			headers = append(headers, c.contentType)
		}
		expectAt(t, c.name, e.do(c.method, c.path, c.body, headers...), c.status, c.want)
	}
	for _, body := range []string{`{"label":`, `{"label":"L"} x`} {
		res := e.do("POST", destinationsPath, body, e.key(), jsonType)
		if res.status != 400 || !strings.HasPrefix(res.body, `{"detail":"JSON parse error - `) {
			t.Errorf("malformed JSON %s: %d %s", body, res.status, res.body)
		}
	}
	if after := e.destinationRows(); after != before {
		t.Errorf("refused requests wrote destinations: %d rows, want %d", after, before)
	}
	if got := e.do("GET", path, "", e.key()).body; got != beforeBody {
		t.Errorf("refused PATCHes changed the destination:\nbefore %s\nafter  %s", beforeBody, got)
	}
}

// TestDestinationURLUnique: one live destination per (application, url);
// the message is Didit's; another application may use the URL; a deleted
// destination frees it.
func TestDestinationURLUnique(t *testing.T) {
	e := newEnv(t)
	const taken = `{"url":["This webhook destination already exists for the application."]}`
	first := e.createDestination(e.key(), `{"label":"A","url":"`+hookURL+`"}`)
	before := e.destinationRows()

	expect(t, e.do("POST", destinationsPath, `{"label":"B","url":"`+hookURL+`"}`, e.key(), jsonType), 400, taken)
	// Compared after DRF's trimming.
	expect(t, e.do("POST", destinationsPath, `{"label":"B","url":" `+hookURL+`\n"}`, e.key(), jsonType), 400, taken)
	second := e.createDestination(e.key(), `{"label":"B","url":"`+hookURL+`/2"}`)
	expect(t, e.do("PATCH", destinationsPath+second.UUID+"/", `{"url":"`+hookURL+`"}`, e.key(), jsonType), 400, taken)
	// A destination may keep its own URL.
	if res := e.do("PATCH", destinationsPath+first.UUID+"/", `{"url":"`+hookURL+`","label":"A2"}`, e.key(), jsonType); res.status != 200 {
		t.Errorf("PATCH with its own URL: %d %s", res.status, res.body)
	}
	if n := e.destinationRows(); n != before+1 {
		t.Errorf("%d destination rows, want %d", n, before+1)
	}

	// Another application has its own URLs.
	e.createDestination(e.otherApp(), `{"label":"A","url":"`+hookURL+`"}`)

	// Deleting frees the URL, for a new destination and for a PATCH.
	if res := e.do("DELETE", destinationsPath+first.UUID+"/", "", e.key()); res.status != 204 {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	third := e.createDestination(e.key(), `{"label":"C","url":"`+hookURL+`"}`)
	if third.UUID == first.UUID || third.SecretSharedKey == nil || *third.SecretSharedKey == *first.SecretSharedKey {
		t.Errorf("the re-created destination reuses the deleted one's id or secret: %s", show(third))
	}
	if res := e.do("DELETE", destinationsPath+third.UUID+"/", "", e.key()); res.status != 204 {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	if res := e.do("PATCH", destinationsPath+second.UUID+"/", `{"url":"`+hookURL+`"}`, e.key(), jsonType); res.status != 200 {
		t.Errorf("PATCH to a freed URL: %d %s", res.status, res.body)
	}
}

// TestDestinationsOtherTenant: another application's destination, its log
// and its deliveries are the same 404 as ones that do not exist, and
// nothing about them changes.
func TestDestinationsOtherTenant(t *testing.T) {
	e := newEnv(t)
	mine := e.createDestination(e.key(), `{"label":"Mine","url":"`+hookURL+`","subscribed_events":["status.updated"]}`)
	e.review(e.newSession(kycreview.KindUser), "Approved")
	delivery := e.deliveries(mine.UUID, "")[0]
	path := destinationsPath + mine.UUID + "/"
	beforeBody := e.do("GET", path, "", e.key()).body

	other := e.otherApp()
	theirs := e.createDestination(other, `{"label":"Theirs","url":"`+hookURL+`/theirs","subscribed_events":["status.updated"]}`)
	expectAt(t, "GET", e.do("GET", path, "", other), 404, detailDestNotFound)
	expectAt(t, "PATCH", e.do("PATCH", path, `{"label":"pwned"}`, other, jsonType), 404, detailDestNotFound)
	expectAt(t, "PATCH with a bad body", e.do("PATCH", path, `{"subscribed_events":[]}`, other, jsonType), 404, detailDestNotFound)
	expectAt(t, "DELETE", e.do("DELETE", path, "", other), 404, detailDestNotFound)
	expectAt(t, "log", e.do("GET", path+"deliveries/", "", other), 404, detailDestNotFound)
	expectAt(t, "resend", e.do("POST", path+"deliveries/"+delivery.UUID+"/resend/", "", other), 404, detailDestNotFound)
	// Their own destination does not reach my delivery either.
	expectAt(t, "resend through their destination", e.do("POST", destinationsPath+theirs.UUID+"/deliveries/"+delivery.UUID+"/resend/", "", other),
		404, detailDeliveryMissing)
	// ... nor mine theirs.
	expectAt(t, "their destination with my key", e.do("GET", destinationsPath+theirs.UUID+"/", "", e.key()), 404, detailDestNotFound)

	list := e.do("GET", destinationsPath, "", other)
	if strings.Contains(list.body, mine.UUID) || !strings.Contains(list.body, theirs.UUID) {
		t.Errorf("their list: %s", list.body)
	}
	if got := e.do("GET", path, "", e.key()).body; got != beforeBody {
		t.Errorf("another application's requests changed the destination:\nbefore %s\nafter  %s", beforeBody, got)
	}
	// My review queued nothing for their destination.
	expectAt(t, "their log", e.do("GET", destinationsPath+theirs.UUID+"/deliveries/", "", other), 200,
		`{"count":0,"next":null,"previous":null,"results":[]}`)
}

// TestDestinationListPagination: the list is a bare array (Didit) unless a
// positive limit asks for DRF's page, with next and previous links built
// as the sessions list builds them.
func TestDestinationListPagination(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, e.createDestination(e.key(), `{"label":"D","url":"`+hookURL+`/`+itoa(i)+`"}`).UUID)
	}
	base := e.url + destinationsPath
	type page struct {
		Count    int               `json:"count"`
		Next     *string           `json:"next"`
		Previous *string           `json:"previous"`
		Results  []destinationView `json:"results"`
	}
	cases := []struct {
		query      string
		ids        []string
		next, prev string // "" for null
	}{
		{"?limit=2", ids[0:2], base + "?limit=2&offset=2", ""},
		{"?limit=2&offset=2", ids[2:4], base + "?limit=2&offset=4", base + "?limit=2"},
		{"?offset=4&limit=2&label=x", ids[4:5], "", base + "?label=x&limit=2&offset=2"},
		{"?limit=10&offset=9", nil, "", base + "?limit=10"},
		{"?limit=5000", ids, "", ""},
	}
	for _, c := range cases {
		res := e.do("GET", destinationsPath+c.query, "", e.key())
		var p page
		if err := json.Unmarshal([]byte(res.body), &p); err != nil || res.status != 200 {
			t.Errorf("%s: %d %s", c.query, res.status, res.body)
			continue
		}
		var got []string
		for _, d := range p.Results {
			got = append(got, d.UUID)
			if d.SecretSharedKey != nil {
				t.Errorf("%s: a list row shows the secret", c.query)
			}
		}
		if p.Count != 5 || !cmp.Equal(got, c.ids) || deref(p.Next) != c.next || deref(p.Previous) != c.prev {
			t.Errorf("%s: count %d ids %v next %q previous %q\nwant count 5 ids %v next %q previous %q",
				c.query, p.Count, got, deref(p.Next), deref(p.Previous), c.ids, c.next, c.prev)
		}
	}
	// Without a positive limit, DRF answers the whole list.
	for _, q := range []string{"", "?offset=2", "?limit=0", "?limit=abc"} {
		res := e.do("GET", destinationsPath+q, "", e.key())
		var rows []destinationView
		if err := json.Unmarshal([]byte(res.body), &rows); err != nil || len(rows) != 5 || rows[0].UUID != ids[0] || rows[4].UUID != ids[4] {
			t.Errorf("%q: %d %s", q, res.status, res.body)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestWebhookRoutes: the webhook paths behave as every other resource:
// auth first (before the method, the id and the body), both slash forms
// without a redirect, DRF's 405 with Allow, OPTIONS and HEAD.
func TestWebhookRoutes(t *testing.T) {
	e := newEnv(t)
	d := e.createDestination(e.key(), `{"label":"D","url":"`+hookURL+`","subscribed_events":["status.updated"]}`)
	e.review(e.newSession(kycreview.KindUser), "Approved")
	delivery := e.deliveries(d.UUID, "")[0]
	detail := destinationsPath + d.UUID + "/"
	log := detail + "deliveries/"
	resend := log + delivery.UUID + "/resend/"
	before := e.destinationRows()

	for _, r := range []struct{ method, path, body string }{
		{"GET", destinationsPath, ""}, {"POST", destinationsPath, `{"label":"x","url":"https://x.example.com/"}`},
		{"GET", detail, ""}, {"PATCH", detail, `{"label":"x"}`}, {"DELETE", detail, ""},
		{"GET", log, ""}, {"POST", resend, ""},
		{"PUT", detail, ""}, {"GET", resend, ""},
		{"GET", destinationsPath + errUnknownID + "/", ""}, {"GET", destinationsPath + "nope/deliveries/", ""},
		{"PATCH", detail, `{`}, {"POST", destinationsPath, `not json`},
		{"GET", strings.TrimSuffix(detail, "/"), ""}, {"OPTIONS", destinationsPath, ""},
	} {
		for _, headers := range [][]string{{jsonType}, {jsonType, "x-api-key: kyc_" + strings.Repeat("A", 43)}} {
			expectAt(t, r.method+" "+r.path, e.do(r.method, r.path, r.body, headers...), 403, detailForbidden)
		}
	}

	const (
		listAllow   = "GET, POST, HEAD, OPTIONS"
		detailAllow = "DELETE, GET, PATCH, HEAD, OPTIONS"
		logAllow    = "GET, HEAD, OPTIONS"
		resendAllow = "POST, OPTIONS"
	)
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", destinationsPath, listAllow}, {"DELETE", destinationsPath, listAllow}, {"PATCH", destinationsPath, listAllow},
		{"PUT", detail, detailAllow}, {"POST", detail, detailAllow},
		{"PUT", destinationsPath + errUnknownID + "/", detailAllow},
		{"POST", log, logAllow}, {"DELETE", log, logAllow},
		{"GET", resend, resendAllow}, {"PUT", resend, resendAllow},
	} {
		for _, p := range []string{c.path, strings.TrimSuffix(c.path, "/")} {
			res := e.do(c.method, p, "", e.key())
			expectAt(t, c.method+" "+p, res, 405, `{"detail":"Method \"`+c.method+`\" not allowed."}`)
			if got := res.header.Get("Allow"); got != c.allow {
				t.Errorf("%s %s: Allow %q, want %q", c.method, p, got, c.allow)
			}
		}
		res := e.do("OPTIONS", c.path, "", e.key())
		if res.status != 200 || res.header.Get("Allow") != c.allow || !strings.Contains(res.body, `"parses":["application/json"]`) {
			t.Errorf("OPTIONS %s: %d Allow %q %s", c.path, res.status, res.header.Get("Allow"), res.body)
		}
	}
	for _, p := range []string{destinationsPath, detail, log} {
		res := e.do("HEAD", p, "", e.key())
		if res.status != 200 || res.body != "" || res.header.Get("Content-Type") != "application/json" {
			t.Errorf("HEAD %s: %d %q", p, res.status, res.body)
		}
	}
	if n := e.destinationRows(); n != before {
		t.Fatalf("refused requests wrote: %d destinations, want %d", n, before)
	}

	// Both slash forms, never a redirect.
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", destinationsPath, "", 200},
		{"POST", destinationsPath, `{"label":"x","url":"https://hooks.example.com/noslash"}`, 201},
		{"GET", detail, "", 200},
		{"PATCH", detail, `{"label":"y"}`, 200},
		{"GET", log, "", 200},
		{"POST", resend, "", 202},
		{"GET", destinationsPath + errUnknownID + "/", "", 404},
	} {
		var bodies []string
		for _, p := range []string{c.path, strings.TrimSuffix(c.path, "/")} {
			body := c.body
			if c.method == "POST" && body != "" && p != c.path {
				body = strings.Replace(body, "noslash", "noslash2", 1)
			}
			res := e.do(c.method, p, body, e.key(), jsonType)
			noRedirect(t, c.method+" "+p, res)
			if res.status != c.status {
				t.Errorf("%s %s: %d %s, want %d", c.method, p, res.status, res.body, c.status)
			}
			bodies = append(bodies, res.body)
		}
		if c.method == "GET" && bodies[0] != bodies[1] {
			t.Errorf("%s %s: bodies differ with and without the slash:\n%s\n%s", c.method, c.path, bodies[0], bodies[1])
		}
	}
	res := e.do("DELETE", strings.TrimSuffix(detail, "/"), "", e.key())
	if res.status != 204 {
		t.Errorf("DELETE without slash: %d %s", res.status, res.body)
	}
}

// fixedResolver resolves the host names of a test, and no others.
type fixedResolver map[string][]netip.Addr

func (r fixedResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := r[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestDestinationSSRFGuard: with the server's guard plugged in, a URL whose
// host is or resolves to a loopback, private, link-local or metadata
// address is refused when saved (create and update), on the url field;
// the operator's allow list and http switch are how local development
// works.
func TestDestinationSSRFGuard(t *testing.T) {
	resolver := fixedResolver{
		"hooks.example.com":    {netip.MustParseAddr("93.184.216.34")},
		"internal.example.com": {netip.MustParseAddr("10.1.2.3")},
		"mixed.example.com":    {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
		"metadata.example.com": {netip.MustParseAddr("169.254.169.254")},
	}
	guard, err := webhook.NewGuard(nil, resolver)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withServiceOptions(service.WithWebhooks(service.WebhookConfig{CheckURL: guard.CheckURL})))
	ok := e.createDestination(e.key(), `{"label":"ok","url":"https://hooks.example.com/kyc"}`)
	before := e.destinationRows()
	for _, u := range []string{
		"https://127.0.0.1/x", "https://localhost/x", "https://[::1]/x", "https://10.0.0.1/x", "https://192.168.1.10:8443/x",
		"https://169.254.169.254/latest/meta-data/", "https://internal.example.com/x", "https://mixed.example.com/x",
		"https://metadata.example.com/x", "https://nowhere.example.com/x", "https://0.0.0.0/x", "https://[::ffff:127.0.0.1]/x",
	} {
		for _, req := range []struct{ method, path, body string }{
			{"POST", destinationsPath, `{"label":"x","url":"` + u + `"}`},
			{"PATCH", destinationsPath + ok.UUID + "/", `{"url":"` + u + `"}`},
		} {
			res := e.do(req.method, req.path, req.body, e.key(), jsonType)
			var body map[string][]string
			if res.status != 400 || json.Unmarshal([]byte(res.body), &body) != nil || len(body) != 1 || len(body["url"]) != 1 {
				t.Errorf("%s %s: %d %s, want 400 with one url message", req.method, u, res.status, res.body)
			}
			if strings.Contains(res.body, "127.0.0.1") || strings.Contains(res.body, "10.1.2.3") {
				t.Errorf("%s %s: the refusal names an address: %s", req.method, u, res.body)
			}
		}
	}
	if n := e.destinationRows(); n != before {
		t.Errorf("refused URLs were saved: %d rows, want %d", n, before)
	}
	expect(t, e.do("POST", destinationsPath, `{"label":"x","url":"http://hooks.example.com/x"}`, e.key(), jsonType), 400,
		`{"url":["Enter a URL that uses https."]}`)

	// The operator allows a local receiver, over http.
	local, err := webhook.NewGuard([]string{"127.0.0.1"}, resolver)
	if err != nil {
		t.Fatal(err)
	}
	dev := newEnv(t, withServiceOptions(service.WithWebhooks(service.WebhookConfig{AllowHTTP: true, CheckURL: local.CheckURL})))
	d := dev.createDestination(dev.key(), `{"label":"dev","url":"http://127.0.0.1:8081/hook"}`)
	if d.URL != "http://127.0.0.1:8081/hook" {
		t.Errorf("url %q", d.URL)
	}
	if res := dev.do("POST", destinationsPath, `{"label":"x","url":"http://10.0.0.1/x"}`, dev.key(), jsonType); res.status != 400 {
		t.Errorf("an address outside the allow list: %d %s", res.status, res.body)
	}
}

// show renders v as JSON for a failure message, pointers followed.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
