package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestServeMountsConsole: serve answers /console/ with the console (sign-in
// included) and everything else with the API, as before.
func TestServeMountsConsole(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "console.db")
	appID := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)["application_id"].(string)
	cmd := exec.Command(os.Args[0], "users", "create", "--email", "ana@example.com", "--name", "Ana Lead", "--app", appID,
		"--password-stdin", "--db", db)
	cmd.Env = append(os.Environ(), "KYCREVIEW_TEST_AS_MAIN=1")
	cmd.Stdin = strings.NewReader("correct horse battery\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("users create: %v\n%s", err, out)
	}
	p := startServer(t, db, "--console-secure-cookies", "never")
	base := "http://" + p.addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := get("/console/static/console.css")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, ".card") {
		t.Fatalf("stylesheet: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = get("/console/")
	if resp.Request.URL.Path != "/console/signin" || !strings.Contains(body, `<label for="password">`) {
		t.Fatalf("signed out, /console/ ends at %s", resp.Request.URL)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)[1]
	r, err := c.PostForm(base+"/console/signin", url.Values{"csrf": {csrf}, "email": {"ana@example.com"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || r.Request.URL.Path != "/console/" || !strings.Contains(string(b), "Ana Lead") {
		t.Fatalf("after sign-in: %d at %s", r.StatusCode, r.Request.URL)
	}
	// The API is untouched.
	resp, body = get("/system/healthcheck")
	if resp.StatusCode != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("healthcheck: %d %s", resp.StatusCode, body)
	}
	resp, body = get("/v3/sessions/")
	if resp.StatusCode != 403 || !strings.Contains(body, "permission") {
		t.Fatalf("API without a key: %d %s", resp.StatusCode, body)
	}
}

func TestConsoleConfigErrors(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "x.db")
	for _, args := range [][]string{
		{"serve", "--db", db, "--console-secure-cookies", "sometimes"},
		{"serve", "--db", db, "--console-session-ttl", "1s"},
	} {
		if _, err := cli(t, nil, args...); err == nil || !strings.Contains(err.Error(), "console") {
			t.Errorf("%v: %v", args, err)
		}
	}
	if _, err := cli(t, map[string]string{"KYCREVIEW_CONSOLE_SESSION_TTL": "soon"}, "serve", "--db", db); err == nil {
		t.Error("a bad KYCREVIEW_CONSOLE_SESSION_TTL was accepted")
	}
}
