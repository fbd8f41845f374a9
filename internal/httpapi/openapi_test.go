package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// loadOpenAPI parses and validates the embedded document, examples
// included, as kin-openapi checks an OpenAPI 3.0 document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument())
	if err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x (kin-openapi validates 3.0 fully)", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIServed: GET /openapi.json, with or without the slash and with
// no key, answers the embedded document byte for byte; HEAD answers its
// headers.
func TestOpenAPIServed(t *testing.T) {
	loadOpenAPI(t)
	s := New(nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, path := range []string{"/openapi.json", "/openapi.json/"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: %d, Content-Type %q", method, path, rec.Code, rec.Header().Get("Content-Type"))
			}
			// (A recorder keeps a HEAD answer's body; net/http drops it.)
			if !bytes.Equal(rec.Body.Bytes(), openAPIDocument) {
				t.Errorf("%s %s: the body is not the embedded openapi.json (%d bytes, want %d)", method, path, rec.Body.Len(), len(openAPIDocument))
			}
		}
	}
	// The exported copy cannot change what is served.
	b := OpenAPIDocument()
	b[0] = 'x'
	if openAPIDocument[0] == 'x' {
		t.Error("OpenAPIDocument returns the served bytes themselves")
	}
}

// servedElsewhere are paths the document describes that the route table
// does not serve, with where they are served instead.
var servedElsewhere = map[string]string{
	"/metrics": "the metrics handler, mounted beside the API by serve",
}

// TestOpenAPICoversRoutes: every path of the route table is in the
// document, once (in the spelling with or without its trailing slash), with
// exactly the methods it serves (plus HEAD where it serves GET, and
// OPTIONS) and the security it has; and every documented path is served. A
// new route without documentation fails here.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	s := &Server{}
	served := map[string]bool{}
	s.routeTable(func(path string, res resource) {
		withSlash, without := doc.Paths.Value(path+"/"), doc.Paths.Value(path)
		docPath := path
		item := without
		switch {
		case withSlash != nil && without != nil:
			t.Errorf("%s: documented both with and without the trailing slash; list one", path)
			return
		case withSlash != nil:
			docPath, item = path+"/", withSlash
		case without == nil:
			t.Errorf("%s (%s): served but not in openapi.json", path, res.name)
			return
		}
		served[docPath] = true

		var want []string
		for m := range res.methods {
			want = append(want, m)
		}
		if res.methods[http.MethodGet] != nil {
			want = append(want, http.MethodHead)
		}
		want = append(want, http.MethodOptions)
		sort.Strings(want)
		var got []string
		for m := range item.Operations() {
			got = append(got, m)
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: documented methods %v, served %v", docPath, got, want)
		}

		for m, op := range item.Operations() {
			switch {
			case op.Security == nil:
				t.Errorf("%s %s: no security requirement (use [] for none)", m, docPath)
			case res.auth && (len(*op.Security) != 1 || (*op.Security)[0]["ApiKeyAuth"] == nil):
				t.Errorf("%s %s: authenticated, but security is %v", m, docPath, *op.Security)
			case !res.auth && len(*op.Security) != 0:
				t.Errorf("%s %s: unauthenticated, but security is %v", m, docPath, *op.Security)
			}
		}
	})
	for path := range doc.Paths.Map() {
		if !served[path] && servedElsewhere[path] == "" {
			t.Errorf("%s: in openapi.json but not in the route table", path)
		}
	}
}

// TestOpenAPIConventions checks what every operation must declare, so that
// a new one cannot forget the answers every request can get: 500 always;
// with a key, 403, 429 and 503; with a path id, 404; on POST and PATCH the
// Idempotency-Key header with its 409 and 422; and X-Request-Id on every
// response.
func TestOpenAPIConventions(t *testing.T) {
	doc := loadOpenAPI(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			codes := func(cs ...string) {
				for _, c := range cs {
					if op.Responses.Value(c) == nil {
						t.Errorf("%s: no %s response", where, c)
					}
				}
			}
			codes("500")
			if op.Security != nil && len(*op.Security) > 0 {
				codes("403", "429", "503")
			}
			if strings.Contains(path, "{") {
				codes("404") // a missing id, or a ".", ".." or empty segment
			}
			if method == http.MethodPost || method == http.MethodPatch {
				codes("409", "422")
				if p := op.Parameters.GetByInAndName("header", "Idempotency-Key"); p == nil || p.Required {
					t.Errorf("%s: no optional Idempotency-Key header parameter", where)
				}
			}
			for code, r := range op.Responses.Map() {
				if r.Value.Headers["X-Request-Id"] == nil {
					t.Errorf("%s %s: no X-Request-Id header", where, code)
				}
			}
		}
	}
}
