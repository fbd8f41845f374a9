package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// TestRefusedKeysEveryEndpoint: a revoked key (client or system role), a
// missing key and a forged one get SPEC §2's 403 on every method of every
// authenticated route, before anything else is looked at (a body over the
// size limit included), and write nothing. The service here caches keys
// for a minute, the longest serve allows: a key revoked through the same
// Service (as here) is refused by the very next request all the same. (A
// key revoked by another process, `kycreview keys revoke` or another
// replica, is refused within --key-cache-ttl: see TestKeyCacheRevocation in
// internal/service and TestRevokedKeyAcrossProcesses in cmd/kycreview.)
func TestRefusedKeysEveryEndpoint(t *testing.T) {
	e := newEnv(t, withServiceOptions(service.WithKeyCache(time.Minute)))
	ts := newTenants(t, e)
	ctx := context.Background()
	keys := map[string]string{}
	for _, role := range []kycreview.Role{kycreview.RoleClient, kycreview.RoleSystem} {
		id, token, err := e.svc.CreateAPIKey(ctx, e.app.Application.ID, role)
		if err != nil {
			t.Fatal(err)
		}
		// In use, and so cached, before it is revoked.
		if res := e.do("GET", "/v3/sessions/"+ts.aUser+"/reviews/", "", "x-api-key: "+token); res.status != 200 {
			t.Fatalf("%s key before revocation: %d %s", role, res.status, res.body)
		}
		if err := e.svc.RevokeAPIKey(ctx, id); err != nil {
			t.Fatal(err)
		}
		keys["revoked "+string(role)+" key"] = "x-api-key: " + token
	}
	forged := []byte(e.token)
	forged[len(forged)-1] ^= 1
	keys["forged key"] = "x-api-key: " + string(forged)
	keys["empty key"] = "x-api-key: "
	keys["no key"] = ""

	ids := map[string]string{"session_id": ts.aUser, "destination_uuid": ts.aDest, "delivery_uuid": ts.aDelivery}
	huge := `{"new_status":"Approved","comment":"` + strings.Repeat("x", 2<<20) + `"}`
	before := e.dump()
	checked := 0
	for _, route := range apiRoutes(e) {
		path := fill(t, route.Pattern, ids) + "/"
		methods := append(slices.Clone(route.Methods), "OPTIONS", "PUT")
		if slices.Contains(route.Methods, http.MethodGet) {
			methods = append(methods, "HEAD")
		}
		for name, key := range keys {
			var headers []string
			if key != "" {
				headers = append(headers, key)
			}
			for _, method := range methods {
				what := name + ": " + method + " " + path
				res := e.do(method, path, "", headers...)
				if !route.Auth {
					if want := map[bool]int{true: 405, false: 200}[method == "PUT"]; res.status != want {
						t.Errorf("%s: %d %s, want %d (no auth)", what, res.status, res.body, want)
					}
					continue
				}
				checked++
				if method == "HEAD" {
					if res.status != 403 || res.body != "" {
						t.Errorf("%s: %d %q, want 403 without a body", what, res.status, res.body)
					}
					continue
				}
				expectAt(t, what, res, 403, detailForbidden)
				if method == http.MethodPost || method == http.MethodPatch {
					expectAt(t, what+" with a 2 MiB body", e.do(method, path, huge, append(headers, jsonType)...), 403, detailForbidden)
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d refused requests checked", checked)
	}
	e.sameDB(t, "requests with refused keys", before)
	// Revoking a key leaves the application's other keys working.
	if res := e.do("GET", "/v3/sessions/"+ts.aUser+"/reviews/", "", e.key()); res.status != 200 {
		t.Errorf("the application's own key after another was revoked: %d %s", res.status, res.body)
	}
}
