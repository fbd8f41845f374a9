package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/httpapi"
)

// Every answer any end-to-end test gets is checked against the OpenAPI
// document the service serves (internal/httpapi/openapi.json): the env's
// server runs behind contractChecker, which validates each request/response
// pair with kin-openapi once the handler is done, and fails the test at its
// end for each answer the document does not describe. A path or method the
// document does not list may only get the catch-all answers (404 "Not
// found.", 405 with the documented Allow header), so an endpoint added
// without documentation fails here. Requests are validated too, but only
// reported (with -v): tests send bad requests on purpose.
//
// The feed's answers are also checked against Didit's published document
// (testdata/didit-openapi-subset.json), the API this one must stay
// wire-compatible with.

// feedPath is the feed's path in both documents.
const feedPath = "/v3/sessions/{session_id}/reviews/"

// contract is the parsed documents, shared by every env.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
	// didit is Didit's feed GET operation, checked with diditOpts.
	didit     *routers.Route
	diditOpts *openapi3filter.Options
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.json: router: %w", err)
	}

	// Didit's document fails kin-openapi's validation only on examples of
	// operations this service does not copy (dates such as "2024-03-05" in a
	// date-time field of the decision's AML example), so it is validated
	// with examples left out, and only its feed operation is used.
	b, err := os.ReadFile(filepath.Join("testdata", "didit-openapi-subset.json"))
	if err != nil {
		return nil, err
	}
	didit, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("Didit's document: %w", err)
	}
	if err := didit.Validate(ctx, openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("Didit's document: %w", err)
	}
	item := didit.Paths.Value(feedPath)
	if item == nil || item.Get == nil || item.Get.Responses.Status(http.StatusOK) == nil {
		return nil, fmt.Errorf("Didit's document has no GET %s with a 200 answer", feedPath)
	}

	formats := []openapi3.SchemaValidationOption{
		openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
		openapi3.WithStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail)),
		openapi3.WithStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
			if u, err := url.Parse(s); err != nil || !u.IsAbs() || u.Host == "" {
				return fmt.Errorf("%q is not an absolute URL", s)
			}
			return nil
		})),
	}
	return &contract{
		doc:    doc,
		router: router,
		opts: &openapi3filter.Options{
			IncludeResponseStatus:   true, // an answer whose status is not documented is a mismatch
			MultiError:              true,
			AuthenticationFunc:      keyPresent,
			SchemaValidationOptions: formats,
		},
		didit:     &routers.Route{Spec: didit, Path: feedPath, PathItem: item, Method: http.MethodGet, Operation: item.Get},
		diditOpts: &openapi3filter.Options{MultiError: true, AuthenticationFunc: keyPresent, SchemaValidationOptions: formats},
	}, nil
})

// keyPresent passes a request's security check when it carries the
// scheme's header; whether the key is good is the server's business.
func keyPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme.In == "header" && in.RequestValidationInput.Request.Header.Get(in.SecurityScheme.Name) != "" {
		return nil
	}
	return fmt.Errorf("no %s header", in.SecurityScheme.Name)
}

// contractChecker wraps a test server's handler and checks every answer.
type contractChecker struct {
	t    testing.TB
	c    *contract
	next http.Handler

	mu         sync.Mutex
	checked    int
	failures   []string
	badReqs    int
	badReqLogs []string
}

// checkContract returns h wrapped in a contractChecker for e's test, which
// reports what it found when the test ends. Benchmarks are left unchecked:
// validation would be most of what they measure.
func (e *env) checkContract(h http.Handler) http.Handler {
	if _, bench := e.t.(*testing.B); bench {
		return h
	}
	c, err := loadContract()
	if err != nil {
		e.t.Fatalf("load the OpenAPI documents: %v", err)
	}
	k := &contractChecker{t: e.t, c: c, next: h}
	// Registered before the server is, so it runs after the server has
	// closed and every handler has returned.
	e.t.Cleanup(k.report)
	return k
}

// report fails the test for each answer that broke the contract, and logs
// the requests the document would have refused.
func (k *contractChecker) report() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, f := range k.failures {
		k.t.Errorf("answer does not match the OpenAPI document (internal/httpapi/openapi.json):\n%s", f)
	}
	if k.badReqs > 0 {
		k.t.Logf("contract: %d of %d requests did not match the document (expected where a test sends bad input); first ones:\n%s",
			k.badReqs, k.checked, strings.Join(k.badReqLogs, "\n"))
	}
}

func (k *contractChecker) fail(format string, args ...any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failures = append(k.failures, fmt.Sprintf(format, args...))
}

// maxCapture bounds how much of a request body is kept for validation.
const maxCapture = 8 << 20

func (k *contractChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The body is copied as the handler reads it, so the handler sees the
	// request exactly as it was sent (streamed, with its size limit).
	var reqBody bytes.Buffer
	r.Body = &teeBody{ReadCloser: r.Body, buf: &reqBody}
	rec := &captureWriter{ResponseWriter: w}
	k.next.ServeHTTP(rec, r)
	rec.finish()
	if rec.status == 499 && r.Context().Err() != nil {
		// The client had gone (a test that gives up on purpose): no answer
		// reached anyone, and 499 only names that in the log and metrics.
		return
	}
	k.check(r, reqBody.Bytes(), rec)
}

// teeBody copies what is read from a request body, up to maxCapture bytes.
type teeBody struct {
	io.ReadCloser
	buf *bytes.Buffer
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := maxCapture - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(n, room)])
	}
	return n, err
}

// captureWriter records the status, the headers as sent and the body.
type captureWriter struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status, c.header = code, c.ResponseWriter.Header().Clone()
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

func (c *captureWriter) finish() {
	if c.status == 0 {
		c.status, c.header = http.StatusOK, c.ResponseWriter.Header().Clone()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// check validates one request/response pair.
func (k *contractChecker) check(r *http.Request, reqBody []byte, res *captureWriter) {
	k.mu.Lock()
	k.checked++
	k.mu.Unlock()
	where := fmt.Sprintf("%s %s → %d", r.Method, r.URL.RequestURI(), res.status)
	route, params, err := k.findRoute(r)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		// Only the catch-all answer may come from a path the document does
		// not list: anything else is an endpoint nobody documented.
		if verr := k.validateWith(r, res, "", map[int]string{http.StatusNotFound: "PathNotFound"}); verr != nil {
			k.fail("%s\n  the path is not in the document, and the answer is not the catch-all 404 {\"detail\":\"Not found.\"}: "+
				"document the endpoint\n  %v\n  body: %.500s", where, verr, res.body.Bytes())
		}
		return
	case errors.Is(err, routers.ErrMethodNotAllowed):
		k.checkUnlistedMethod(r, res, where)
		return
	case err != nil:
		k.fail("%s\n  cannot route the request in the document: %v", where, err)
		return
	}

	reqInput := &openapi3filter.RequestValidationInput{
		Request:    cloneWithBody(r, r.Method, reqBody),
		PathParams: params,
		Route:      route,
		Options:    k.c.opts,
	}
	if err := openapi3filter.ValidateRequest(context.Background(), reqInput); err != nil {
		k.mu.Lock()
		k.badReqs++
		if len(k.badReqLogs) < 5 {
			k.badReqLogs = append(k.badReqLogs, fmt.Sprintf("  %s: %.300s", where, oneLine(err)))
		}
		k.mu.Unlock()
	}

	respInput := reqInput
	if r.Method == http.MethodHead {
		// kin-openapi skips HEAD answers; a HEAD answer is the GET answer
		// without its body (which net/http drops after the handler), so
		// it is checked as the GET answer, and its status must be listed
		// under HEAD too.
		if route.Operation.Responses.Status(res.status) == nil {
			k.fail("%s\n  status %d is not documented for HEAD %s", where, res.status, route.Path)
		}
		get := *route
		get.Method, get.Operation = http.MethodGet, route.PathItem.Get
		respInput = &openapi3filter.RequestValidationInput{
			Request: cloneWithBody(r, http.MethodGet, reqBody), PathParams: params, Route: &get, Options: k.c.opts,
		}
	}
	if err := k.validateResponse(respInput, res, k.c.opts); err != nil {
		k.fail("%s (%s %s)\n  %v\n  body: %.500s", where, route.Method, route.Path, err, res.body.Bytes())
	}
	if r.Method == http.MethodOptions && res.status == http.StatusOK {
		if got, want := res.header.Get("Allow"), allowFor(route.PathItem); got != want {
			k.fail("%s\n  Allow %q, but the document lists %q for %s", where, got, want, route.Path)
		}
	}

	if route.Path == feedPath && r.Method == http.MethodGet {
		didit := &openapi3filter.RequestValidationInput{
			Request: cloneWithBody(r, r.Method, reqBody), PathParams: params, Route: k.c.didit, Options: k.c.diditOpts,
		}
		if err := k.validateResponse(didit, res, k.c.diditOpts); err != nil {
			k.fail("%s\n  the feed's answer does not match Didit's published document (testdata/didit-openapi-subset.json, GET %s):\n  %v\n  body: %.500s",
				where, feedPath, err, res.body.Bytes())
		}
	}
}

// checkUnlistedMethod checks the answer to a method the document does not
// list on a path it does: the 405 with an Allow header naming exactly the
// documented methods, or, on an authenticated path, an answer given before
// the method is looked at (a refused key, the rate limit, a failure); and
// the 404 of a path with a "." or ".." segment.
func (k *contractChecker) checkUnlistedMethod(r *http.Request, res *captureWriter, where string) {
	item, path := k.pathItem(r)
	allowed := map[int]string{http.StatusMethodNotAllowed: "MethodNotAllowed", http.StatusNotFound: "PathNotFound"}
	authenticated := false
	for _, op := range item.Operations() {
		authenticated = authenticated || (op.Security != nil && len(*op.Security) > 0)
	}
	if authenticated {
		allowed[http.StatusForbidden] = "Forbidden"
		allowed[http.StatusTooManyRequests] = "TooManyRequests"
		allowed[http.StatusInternalServerError] = "InternalError"
		allowed[http.StatusServiceUnavailable] = "ServiceUnavailable"
	}
	if err := k.validateWith(r, res, path, allowed); err != nil {
		k.fail("%s\n  %s is not documented for %s, and the answer is not one the document allows for it: %v\n  body: %.500s",
			where, r.Method, path, err, res.body.Bytes())
		return
	}
	if res.status == http.StatusMethodNotAllowed {
		if got, want := res.header.Get("Allow"), allowFor(item); got != want {
			k.fail("%s\n  Allow %q, but the document lists %q for %s: document the methods served", where, got, want, path)
		}
	}
}

// validateWith validates res as the answer of an operation that has just
// the given statuses, each answered as components.responses names it.
func (k *contractChecker) validateWith(r *http.Request, res *captureWriter, path string, statuses map[int]string) error {
	var opts []openapi3.NewResponsesOption
	for status, name := range statuses {
		ref := k.c.doc.Components.Responses[name]
		if ref == nil {
			return fmt.Errorf("components.responses.%s is missing", name)
		}
		opts = append(opts, openapi3.WithStatus(status, ref))
	}
	op := &openapi3.Operation{Responses: openapi3.NewResponses(opts...)}
	route := &routers.Route{Spec: k.c.doc, Path: path, PathItem: &openapi3.PathItem{}, Method: r.Method, Operation: op}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet // as in check: kin-openapi skips HEAD
	}
	in := &openapi3filter.RequestValidationInput{Request: cloneWithBody(r, method, nil), Route: route, Options: k.c.opts}
	return k.validateResponse(in, res, k.c.opts)
}

func (k *contractChecker) validateResponse(in *openapi3filter.RequestValidationInput, res *captureWriter, opts *openapi3filter.Options) error {
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 res.status,
		Header:                 res.header,
		Options:                opts,
	}
	out.SetBodyBytes(res.body.Bytes())
	return openapi3filter.ValidateResponse(context.Background(), out)
}

// findRoute finds r's operation in the document. The document lists each
// path in one spelling, with or without its trailing slash, and the server
// answers both, so the other spelling is tried too.
func (k *contractChecker) findRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	route, params, err := k.c.router.FindRoute(r)
	if !errors.Is(err, routers.ErrPathNotFound) {
		return route, params, err
	}
	if alt := toggleSlash(r); alt != nil {
		if route, params, altErr := k.c.router.FindRoute(alt); !errors.Is(altErr, routers.ErrPathNotFound) {
			return route, params, altErr
		}
	}
	return nil, nil, err
}

// pathItem returns the document's path item r's path matches (in either
// spelling), and its template.
func (k *contractChecker) pathItem(r *http.Request) (*openapi3.PathItem, string) {
	for _, req := range []*http.Request{r, toggleSlash(r)} {
		if req == nil {
			continue
		}
		// Any documented method finds the path's route.
		probe := req.Clone(context.Background())
		for _, m := range []string{http.MethodOptions, http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
			probe.Method = m
			if route, _, err := k.c.router.FindRoute(probe); err == nil {
				return route.PathItem, route.Path
			}
		}
	}
	return &openapi3.PathItem{}, ""
}

// toggleSlash returns r with its path's trailing slash added or removed.
func toggleSlash(r *http.Request) *http.Request {
	p := r.URL.Path
	if p == "/" || p == "" {
		return nil
	}
	alt := r.Clone(context.Background())
	u := *r.URL
	if strings.HasSuffix(p, "/") {
		u.Path, u.RawPath = strings.TrimSuffix(p, "/"), strings.TrimSuffix(u.RawPath, "/")
	} else {
		u.Path = p + "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	alt.URL = &u
	return alt
}

// allowFor is the Allow header the server sends for a path serving the
// item's methods: the methods sorted, then HEAD where GET is served, then
// OPTIONS.
func allowFor(item *openapi3.PathItem) string {
	var methods []string
	for m := range item.Operations() {
		if m != http.MethodHead && m != http.MethodOptions {
			methods = append(methods, m)
		}
	}
	sort.Strings(methods)
	if item.Get != nil {
		methods = append(methods, http.MethodHead)
	}
	return strings.Join(append(methods, http.MethodOptions), ", ")
}

// cloneWithBody returns a copy of r with the given method and body, for a
// validator to read.
func cloneWithBody(r *http.Request, method string, body []byte) *http.Request {
	c := r.Clone(context.Background())
	c.Method = method
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	return c
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// TestOpenAPIDocument: the service serves its document at /openapi.json
// without a key, byte for byte the one every answer here is checked
// against.
func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/openapi.json", "/openapi.json/"} {
		res := e.do("GET", p, "")
		if res.status != http.StatusOK || res.body != string(httpapi.OpenAPIDocument()) {
			t.Errorf("GET %s: %d, %d bytes; want 200 and openapi.json", p, res.status, len(res.body))
		}
		if ct := res.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
	}
}

// TestContractWalk sends every operation the document lists a request it
// must succeed with, and every listed path a method it does not serve, so
// that each operation's success answer (and each path's 405) is checked
// against the document at least once, whatever the other tests cover.
func TestContractWalk(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	user := func() string { return e.newSession(kycreview.KindUser) }
	inReview := func() string {
		id := user()
		e.review(id, "In Review")
		return id
	}
	dests := 0
	dest := func() string {
		dests++
		return e.createDestination(e.key(), fmt.Sprintf(`{"label":"walk","url":"%s/%d","subscribed_events":["status.updated"]}`, hookURL, dests)).UUID
	}
	destID := dest()
	sessionID := inReview() // queues a delivery to destID
	deliveries := e.deliveries(destID, "")
	if len(deliveries) != 1 {
		t.Fatalf("deliveries after a review: %+v", deliveries)
	}
	wf := e.app.Workflows[kycreview.KindUser].ID

	for _, path := range c.doc.Paths.InMatchingOrder() {
		if path == "/metrics" {
			continue // served beside the API, not by httpapi.Server
		}
		item := c.doc.Paths.Value(path)
		methods := make([]string, 0, len(item.Operations()))
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, method := range methods {
			op := item.GetOperation(method)
			want := 0
			for code := range op.Responses.Map() {
				if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 300 && (want == 0 || n < want) {
					want = n
				}
			}
			// Destructive operations get resources of their own.
			sid, did, body := sessionID, destID, ""
			switch op.OperationID {
			case "create_session_review":
				body = `{"new_status":"Approved","comment":"walk"}`
			case "create_session":
				body = `{"workflow_id":"` + wf + `","vendor_data":"walk","metadata":{"a":[1]}}`
			case "delete_session":
				sid = user()
			case "update_session_status":
				sid, body = inReview(), `{"new_status":"Declined"}`
			case "create_webhook_destination":
				body = `{"label":"walk 2","url":"https://hooks.example.com/walk"}`
			case "update_webhook_destination":
				body = `{"enabled":false}`
			case "delete_webhook_destination":
				did = dest()
			}
			concrete := strings.NewReplacer("{session_id}", sid, "{destination_uuid}", did,
				"{delivery_uuid}", deliveries[0].UUID).Replace(path)
			headers := []string{e.key()}
			if body != "" {
				headers = append(headers, jsonType)
			}
			if res := e.do(method, concrete, body, headers...); res.status != want {
				t.Errorf("%s %s (%s): %d %.300s, want %d", method, concrete, op.OperationID, res.status, res.body, want)
			}
		}
		concrete := strings.NewReplacer("{session_id}", sessionID, "{destination_uuid}", destID,
			"{delivery_uuid}", deliveries[0].UUID).Replace(path)
		if res := e.do("PUT", concrete, "", e.key()); res.status != http.StatusMethodNotAllowed {
			t.Errorf("PUT %s: %d %.300s, want 405", concrete, res.status, res.body)
		}
	}
}
