package httpapi

import (
	_ "embed"
	"net/http"
	"slices"
)

// openAPIDocument is the API's OpenAPI 3.0 document. It is written by hand,
// next to the handlers it describes; the end-to-end tests check every
// answer they get against it, and openapi_test.go checks that it lists
// every route of the route table, so it cannot silently fall behind.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI 3.0 document GET /openapi.json
// serves, byte for byte.
func OpenAPIDocument() []byte { return slices.Clone(openAPIDocument) }

// getOpenAPI serves GET /openapi.json: no auth, like the healthcheck, so
// that tools can read the contract before they hold a key.
func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
	return nil
}
