package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/kycreview/kycreview/internal/notify/smtptest"
)

// logged is a `kycreview serve` process whose whole log is kept.
type logged struct {
	cmd         *exec.Cmd
	addr        string // the API's listener
	metricsAddr string // --metrics-addr's listener, if any
	done        chan error
	mu          sync.Mutex
	log         bytes.Buffer
}

// startLogged runs `kycreview serve` on a free port with JSON logs at debug
// level and the extra environment, keeping everything it logs.
func startLogged(t *testing.T, db string, env []string, extra ...string) *logged {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "KYCREVIEW_TEST_AS_MAIN=1", "KYCREVIEW_LOG_FORMAT=json", "KYCREVIEW_LOG_LEVEL=debug"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &logged{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		listening := false
		for sc.Scan() {
			p.mu.Lock()
			p.log.Write(sc.Bytes())
			p.log.WriteByte('\n')
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				switch line.Msg {
				case "metrics listening":
					p.metricsAddr = line.Addr
				case "listening":
					p.addr = line.Addr
					if !listening {
						listening = true
						close(ready)
					}
				}
			}
			p.mu.Unlock()
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("server exited before listening: %v\n%s", err, p.logs())
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start listening within 30s")
	}
	return p
}

// stop shuts the server down as an operator would (SIGTERM) and waits.
func (p *logged) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop within 30s")
	}
}

func (p *logged) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// call makes one HTTP request and returns the status, headers and body.
func call(t *testing.T, c *http.Client, method, url, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// eventually polls cond every 20 ms for up to 15 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLogsHoldNoSecrets runs a realistic day through a real `kycreview
// serve` logging at debug level — API keys, sessions, reviews with a
// comment and a mention, a status change, a webhook destination (its
// secret, and a token in its URL) delivered to after a failure, a mention
// email sent over SMTP with a password and refused for now, a
// console sign-in and review, a wrong password, a bad key — and checks
// that none of the secrets or the comments appears anywhere in the log,
// while the log does record every request with its request id. The same
// process's /metrics then shows what happened.
func TestLogsHoldNoSecrets(t *testing.T) {
	const (
		smtpPassword    = "smtp-Pa55word-Quokka-7731"
		consolePassword = "console-Pa55phrase-Narwhal-2208"
		wrongPassword   = "wrong-Pa55phrase-Axolotl-5519"
		badKey          = "kyc_BadKeySecretPartPangolin0123456789abcdefghi"
		reviewComment   = "Zebra-violet-comment-8841 please re-check @ana@example.com"
		patchComment    = "Marmot-amber-comment-3307 declined after the call"
		consoleComment  = "Ibex-cobalt-comment-6690 looked at the documents"
		hookToken       = "Hook-query-token-Okapi-4412"
	)
	db := "sqlite:" + filepath.Join(t.TempDir(), "secrets.db")
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)
	appID, apiKey := app["application_id"].(string), app["api_key"].(string)
	workflow := app["workflows"].(map[string]any)["user"].(string)
	sysKey := mustJSON(t, nil, "keys", "create", "--app", appID, "--role", "system", "--db", db)["api_key"].(string)
	cmd := exec.Command(os.Args[0], "users", "create", "--email", "ana@example.com", "--name", "Ana Lead", "--app", appID,
		"--password-stdin", "--db", db)
	cmd.Env = append(os.Environ(), "KYCREVIEW_TEST_AS_MAIN=1")
	cmd.Stdin = strings.NewReader(consolePassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("users create: %v\n%s", err, out)
	}

	// An SMTP server that wants a password and refuses the first message
	// for now; a webhook receiver that fails the first delivery.
	var smtpMu sync.Mutex
	refused := false
	mail := smtptest.Start(t, smtptest.Options{Username: "kyc", Password: smtpPassword, OnData: func(smtptest.Message) error {
		smtpMu.Lock()
		defer smtpMu.Unlock()
		if !refused {
			refused = true
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	}})
	var hookMu sync.Mutex
	hooks := 0
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hookMu.Lock()
		defer hookMu.Unlock()
		hooks++
		if hooks == 1 {
			http.Error(w, "not now", http.StatusServiceUnavailable)
		}
	}))
	defer receiver.Close()

	p := startLogged(t, db, []string{"KYCREVIEW_SMTP_PASSWORD=" + smtpPassword},
		"--smtp-host", mail.Host, "--smtp-port", strconv.Itoa(mail.Port), "--smtp-tls", "none", "--smtp-username", "kyc",
		"--smtp-from", "kyc@example.com", "--smtp-timeout", "2s", "--console-secure-cookies", "never",
		"--webhook-allow-http", "--webhook-allow", "127.0.0.1", "--webhook-retries", "50ms")
	base := "http://" + p.addr
	key, jsonType := "x-api-key: "+apiKey, "Content-Type: application/json"

	// The API.
	status, _, body := call(t, nil, "POST", base+"/v3/webhook/destinations/",
		`{"label":"ops","url":"`+receiver.URL+`/hook?token=`+hookToken+`","subscribed_events":["status.updated"]}`, key, jsonType)
	if status != 201 {
		t.Fatalf("create destination: %d %s", status, body)
	}
	var dest struct {
		Secret string `json:"secret_shared_key"`
	}
	if err := json.Unmarshal([]byte(body), &dest); err != nil || len(dest.Secret) < 32 {
		t.Fatalf("destination %s: %v", body, err)
	}
	status, _, body = call(t, nil, "POST", base+"/v3/session/", `{"workflow_id":"`+workflow+`","vendor_data":"user-1"}`, key, jsonType)
	var sess struct {
		ID string `json:"session_id"`
	}
	if err := json.Unmarshal([]byte(body), &sess); status != 201 || err != nil {
		t.Fatalf("create session: %d %s", status, body)
	}
	reviews := base + "/v3/sessions/" + sess.ID + "/reviews/"
	if status, _, body = call(t, nil, "POST", reviews, `{"new_status":"Approved","comment":"`+reviewComment+`"}`, key, jsonType); status != 201 {
		t.Fatalf("review: %d %s", status, body)
	}
	if status, _, body = call(t, nil, "PATCH", base+"/v3/session/"+sess.ID+"/update-status/",
		`{"new_status":"Declined","comment":"`+patchComment+`"}`, "x-api-key: "+sysKey, jsonType); status != 200 {
		t.Fatalf("update status: %d %s", status, body)
	}
	if status, _, _ = call(t, nil, "GET", reviews+"?limit=5", "", key); status != 200 {
		t.Fatalf("feed: %d", status)
	}
	if status, _, _ = call(t, nil, "GET", reviews, "", "x-api-key: "+badKey); status != 403 {
		t.Fatalf("bad key: %d", status)
	}
	if status, _, _ = call(t, nil, "POST", reviews, `{"new_status":"Approved","comment":"`+reviewComment+`"}`,
		"x-api-key: "+badKey, jsonType); status != 403 {
		t.Fatalf("bad key: %d", status)
	}

	// The console: a wrong password, then the right one, then a review.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	_, _, page := call(t, browser, "GET", base+"/console/signin", "")
	csrf := csrfRE.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	form := "Content-Type: application/x-www-form-urlencoded"
	signIn := func(password string) string {
		_, _, page := call(t, browser, "POST", base+"/console/signin",
			url.Values{"csrf": {csrf[1]}, "email": {"ana@example.com"}, "password": {password}}.Encode(), form)
		return page
	}
	if page = signIn(wrongPassword); strings.Contains(page, "Ana Lead") {
		t.Fatal("signed in with a wrong password")
	}
	secrets := []string{csrf[1]}
	if csrf = csrfRE.FindStringSubmatch(page); csrf == nil {
		t.Fatalf("no CSRF token after a failed sign-in:\n%s", page)
	}
	if page := signIn(consolePassword); !strings.Contains(page, "Ana Lead") {
		t.Fatalf("not signed in:\n%s", page)
	}
	_, _, page = call(t, browser, "GET", base+"/console/sessions/"+sess.ID, "")
	csrf = csrfRE.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no CSRF token on the session page:\n%s", page)
	}
	if status, _, page = call(t, browser, "POST", base+"/console/sessions/"+sess.ID+"/review",
		url.Values{"csrf": {csrf[1]}, "comment": {consoleComment}, "action": {"In Review"}}.Encode(), form); status != 200 {
		t.Fatalf("console review: %d\n%s", status, page)
	}
	for _, u := range []string{base + "/console/", base + "/console/signin"} {
		pu, _ := url.Parse(u)
		for _, c := range jar.Cookies(pu) {
			secrets = append(secrets, c.Value)
		}
	}
	if len(secrets) == 0 {
		t.Fatal("no console cookies to look for")
	}
	secrets = append(secrets, csrf[1])

	// The workers: the webhook is delivered on its second attempt (three
	// status changes: three events); the mention email, sent with the SMTP
	// password, is refused for now (its retry is 30 s away).
	eventually(t, "webhook deliveries", func() bool { hookMu.Lock(); defer hookMu.Unlock(); return hooks >= 4 })
	eventually(t, "the refused email", func() bool { return strings.Contains(p.logs(), "notification send failed; will retry") })
	status, _, metrics := call(t, nil, "GET", base+"/metrics", "")
	if status != 200 {
		t.Fatalf("metrics: %d", status)
	}
	p.stop(t)
	logs := p.logs()

	secrets = append(secrets, smtpPassword, consolePassword, wrongPassword, badKey, badKey[4:], apiKey, apiKey[4:], apiKey[len(apiKey)-16:],
		sysKey, sysKey[4:], dest.Secret, dest.Secret[len(dest.Secret)-16:], hookToken,
		"Zebra-violet", "Marmot-amber", "Ibex-cobalt", "re-check", "after the call")
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds %q", s)
		}
	}
	if m := regexp.MustCompile(`kyc_[A-Za-z0-9_-]{6,}`).FindString(logs); m != "" {
		t.Errorf("the log holds an API key: %q", m)
	}

	// The log is not empty for want of logging: each request has its line
	// with a request id, the debug level was on, and the failures were
	// logged (without their secrets).
	requests, withID := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l["msg"] == "request" {
			requests++
			if id, _ := l["request_id"].(string); id != "" {
				withID++
			}
		}
	}
	if requests < 13 || withID != requests {
		t.Errorf("%d request lines, %d with a request id; want at least 13, all with one", requests, withID)
	}
	for _, want := range []string{`"path":"/console/signin"`, `"notification send failed; will retry"`, `"path":"/console/sessions/` + sess.ID + `/review"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log has no %s", want)
		}
	}

	t.Run("metrics", func(t *testing.T) {
		for series, want := range map[string]string{
			`kycreview_webhook_attempts_total{result="success"}`:                                               "3",
			`kycreview_webhook_attempts_total{result="http_error"}`:                                            "1",
			`kycreview_notification_sends_total{result="retry"}`:                                               "1",
			`kycreview_http_requests_total{code="403",method="GET",route="/v3/sessions/{session_id}/reviews"}`: "1",
			`kycreview_http_requests_total{code="403",method="POST",route="/console/signin"}`:                  "1",
			`kycreview_http_requests_total{code="303",method="POST",route="/console/signin"}`:                  "1",
			`kycreview_http_requests_total{code="200",method="GET",route="/console/sessions/{id}"}`:            "2",
			`kycreview_http_requests_total{code="303",method="POST",route="/console/sessions/{id}/review"}`:    "1",
		} {
			if got := metricValue(metrics, series); got != want {
				t.Errorf("%s = %q, want %s", series, got, want)
			}
		}
		if strings.Contains(metrics, sess.ID) {
			t.Error("a session id is in a label")
		}
	})
}

// metricValue returns one series' value in a scrape, or "".
func metricValue(text, series string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestMetricsFlags: --metrics=false makes /metrics the API's 404;
// --metrics-addr moves it to a listener of its own (and off the API's).
func TestMetricsFlags(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "flags.db")
	off := startLogged(t, db, nil, "--metrics=false")
	status, h, body := call(t, nil, "GET", "http://"+off.addr+"/metrics", "")
	if status != 404 || body != `{"detail":"Not found."}` || h.Get("X-Request-Id") == "" {
		t.Errorf("--metrics=false: %d %s", status, body)
	}
	off.stop(t)

	own := startLogged(t, db, []string{"KYCREVIEW_METRICS_ADDR=127.0.0.1:0"})
	if own.metricsAddr == "" {
		t.Fatalf("no metrics listener in the log:\n%s", own.logs())
	}
	if status, _, body := call(t, nil, "GET", "http://"+own.addr+"/metrics", ""); status != 404 {
		t.Errorf("the API's /metrics with --metrics-addr: %d %s", status, body)
	}
	status, _, body = call(t, nil, "GET", "http://"+own.metricsAddr+"/metrics", "")
	if status != 200 || metricValue(body, "kycreview_backlog_up") != "1" {
		t.Errorf("--metrics-addr /metrics: %d\n%s", status, body)
	}
	own.stop(t)

	for _, args := range [][]string{
		{"serve", "--db", db, "--metrics=false", "--metrics-addr", "127.0.0.1:0"},
		{"serve", "--db", db, "--metrics-addr", "nowhere"},
	} {
		if _, err := cli(t, nil, args...); err == nil || !strings.Contains(err.Error(), "metrics") {
			t.Errorf("%v: %v", args, err)
		}
	}
	if _, err := cli(t, map[string]string{"KYCREVIEW_METRICS": "perhaps"}, "serve", "--db", db); err == nil {
		t.Error("a bad KYCREVIEW_METRICS was accepted")
	}
}
