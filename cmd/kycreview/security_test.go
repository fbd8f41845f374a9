package main

import (
	"bufio"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kycreview/kycreview/internal/httpapi"
)

// allRequests is one request per method of every route of the API's route
// table (HEAD and OPTIONS too), wildcards filled with ids that exist
// nowhere: authentication comes before any lookup.
func allRequests(t *testing.T) [][2]string {
	t.Helper()
	routes := httpapi.New(nil, httpapi.Config{}, slog.New(slog.DiscardHandler)).Routes()
	wildcard := regexp.MustCompile(`\{[a-z_]+\}`)
	var out [][2]string
	for _, r := range routes {
		if !r.Auth {
			continue
		}
		path := wildcard.ReplaceAllString(r.Pattern, errUnknown) + "/"
		methods := append(slices.Clone(r.Methods), "OPTIONS")
		if slices.Contains(r.Methods, "GET") {
			methods = append(methods, "HEAD")
		}
		for _, m := range methods {
			out = append(out, [2]string{m, path})
		}
	}
	if len(out) < 15 {
		t.Fatalf("only %d requests from the route table", len(out))
	}
	return out
}

// statusWith sends method path with key to addr and returns the status.
func statusWith(t *testing.T, addr, method, path, key string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRevokedKeyAcrossProcesses pins what `kycreview keys revoke` does to
// running servers, which cache authenticated keys for --key-cache-ttl:
//
//   - with --key-cache-ttl 0 the key is refused by the very next request;
//   - with the default (1s) every request that starts 1s after the revoke
//     command has returned is refused, on every endpoint;
//   - within the TTL a server that used the key just before may still let
//     it in: with --key-cache-ttl 1m (the most serve allows) it does.
//
// (A key revoked through the server's own Service is refused at once,
// whatever the TTL: TestRefusedKeysEveryEndpoint in internal/e2e.)
func TestRevokedKeyAcrossProcesses(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "revoke.db")
	appID := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)["application_id"].(string)
	created := mustJSON(t, nil, "keys", "create", "--app", appID, "--db", db)
	keyID, key := created["key_id"].(string), created["api_key"].(string)

	uncached := startServer(t, db, "--key-cache-ttl", "0", "--webhook-dispatch=false")
	byDefault := startServer(t, db, "--webhook-dispatch=false")
	longTTL := startServer(t, db, "--key-cache-ttl", "1m", "--webhook-dispatch=false")
	for _, p := range []*process{uncached, byDefault, longTTL} {
		if st := statusWith(t, p.addr, "GET", "/v3/sessions/", key); st != 200 {
			t.Fatalf("the key before revocation: %d", st)
		}
	}
	mustJSON(t, nil, "keys", "revoke", "--key", keyID, "--db", db)
	revoked := time.Now()

	if st := statusWith(t, uncached.addr, "GET", "/v3/sessions/", key); st != 403 {
		t.Errorf("--key-cache-ttl 0, right after the revocation: %d, want 403", st)
	}
	if st := statusWith(t, longTTL.addr, "GET", "/v3/sessions/", key); st != 200 {
		t.Errorf("--key-cache-ttl 1m, right after the revocation: %d; the cache's trade-off has changed: update docs/operations.md", st)
	}
	time.Sleep(time.Until(revoked.Add(time.Second + 50*time.Millisecond)))
	for _, r := range allRequests(t) {
		for _, p := range []*process{uncached, byDefault} {
			if st := statusWith(t, p.addr, r[0], r[1], key); st != 403 {
				t.Errorf("%s %s a TTL after the revocation: %d, want 403", r[0], r[1], st)
			}
		}
	}
}

// TestServePathTraversal: paths built to climb out of /console/static/ or
// an API route, encoded every which way, never get a file that is not one
// of the console's embedded static files, never a directory listing or a
// template's source, never a 500; a redirect (Go's ServeMux cleans paths
// with "..") stays on this server.
func TestServePathTraversal(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "traversal.db")
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)
	p := startServer(t, db, "--webhook-dispatch=false")
	key := app["api_key"].(string)

	static := map[string]string{} // served path → content
	err := fs.WalkDir(os.DirFS("../../internal/console/static"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join("../../internal/console/static", path))
		static["/console/static/"+path] = string(b)
		return err
	})
	if err != nil || len(static) == 0 {
		t.Fatalf("the static files: %v", err)
	}
	secrets := []string{
		"root:x:0:0",             // /etc/passwd
		"{{define",               // a template's source
		"{{template",             // ditto
		"package ",               // Go source
		`<a href="console.css">`, // a directory listing
		"-----BEGIN",             // a key
		"modernc.org",            // go.mod
		"[Unit]",                 // deploy/kycreview.service
		"CREATE TABLE",           // a migration
		"kyc_" + key[4:8],        // the key itself
	}
	targets := []string{
		"/console/static/../../etc/passwd",
		"/console/static/../../../../../../etc/passwd",
		"/console/static/%2e%2e/%2e%2e/etc/passwd",
		"/console/static/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
		"/console/static/..%2f..%2f..%2fetc%2fpasswd",
		"/console/static/..%5c..%5c..%5cetc%5cpasswd",
		`/console/static/..\..\..\etc\passwd`,
		"/console/static/%252e%252e/%252e%252e/etc/passwd",
		"/console/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", // overlong UTF-8 dots
		"/console/static/console.css%00../../etc/passwd",
		"/console/static/%00",
		"/console/static/../templates/layout.html",
		"/console/static/%2e%2e/templates/layout.html",
		"/console/static/..%2ftemplates%2fsession.html",
		"/console/static/../console.go",
		"/console/static/../../../go.mod",
		"/console/static/../../../deploy/kycreview.service",
		"/console/static/../../sqlite/migrations/0001_init.sql",
		"/console/static/",
		"/console/static/.",
		"/console/static/./",
		"/console/static//etc/passwd",
		"/console/static/%2fetc%2fpasswd",
		"/console/static/file:///etc/passwd",
		"/console/..%2f..%2fetc%2fpasswd",
		"/console/%2e%2e/%2e%2e/etc/passwd",
		"/console/../../etc/passwd",
		"/console//evil.example.com/%2e%2e",
		"/console/static/console.css/..%2f..%2f..%2fetc%2fpasswd",
		"/console/static/console.css/",
		"/console/static/console.css%2f",
		"/console/static/console.css.",
		"/console/static/CONSOLE.CSS",
		"http://evil.example.com/console/static/../../etc/passwd",
		"/v3/../etc/passwd",
		"/v3/sessions/..%2f..%2f..%2fetc%2fpasswd/reviews/",
		"/v3/sessions/%2e%2e/reviews/",
		"/v3/sessions/" + errUnknown + "/reviews/../../../../etc/passwd",
		"/v3/sessions/" + errUnknown + "%2f..%2f..%2fetc%2fpasswd/reviews/",
		`/v3/sessions/..\..\etc\passwd/reviews/`,
		"/v3/sessions/%00/reviews/",
		"/system/healthcheck/../../etc/passwd",
		"/system/healthcheck/%2e%2e/%2e%2e/etc/passwd",
		"/etc/passwd",
		"/../../etc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
		"//etc/passwd",
		"/static/console.css",
		"/static/../../etc/passwd",
	}
	for _, target := range targets {
		for _, withKey := range []bool{false, true} {
			head := "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close"
			if withKey {
				head += "\r\nx-api-key: " + key
			}
			status, location, body := rawGet(t, p.addr, head)
			what := target
			switch {
			case status >= 500:
				t.Errorf("%s: %d", what, status)
			case status == 200:
				if content, ok := static[target]; !ok || body != content {
					t.Errorf("%s: 200, and it is not an embedded static file:\n%.300s", what, body)
				}
			case status >= 300 && status < 400:
				if !strings.HasPrefix(location, "/") || strings.HasPrefix(location, "//") || strings.HasPrefix(location, "/\\") {
					t.Errorf("%s: redirected off the server, to %q", what, location)
				}
			}
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("%s: the answer holds %q:\n%.300s", what, s, body)
				}
			}
			// The API's paths answer in its shape: 404, or 403 without a
			// key where the path names a resource (auth comes first).
			if strings.HasPrefix(target, "/v3/") || strings.HasPrefix(target, "/system/") {
				forbidden := !withKey && status == 403 && body == `{"detail":"You do not have permission to perform this action."}`
				if !forbidden && (status != 404 || !strings.HasPrefix(body, `{"detail":"`)) {
					t.Errorf("%s (key: %v): %d %.200s, want the API's JSON 404", what, withKey, status, body)
				}
			}
		}
	}
	// The controls: the real files are served.
	for path, content := range static {
		if status, _, body := rawGet(t, p.addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close"); status != 200 || body != content {
			t.Errorf("%s: %d", path, status)
		}
	}
}

// rawGet sends head as is (no client cleans its path) and returns the
// answer's status, Location and body.
func rawGet(t *testing.T, addr, head string) (int, string, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, head+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%.80s: %v", head, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%.80s: %v", head, err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}
