package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kycreview/kycreview/client"
)

// The HTTP server's limits, against a real `kycreview serve` process
// (issue 9, item 6): oversized headers and bodies, slow clients. The
// production values are checked in TestServerLimitDefaults; the slow-client
// tests run serve with short timeouts set by its flags, so that they stay
// fast and also show the flags reach the server.

// served is a serve process over a fresh database with one application.
type served struct {
	*process
	db, key, workflow string
	client            *client.Client
}

func startServed(t *testing.T, flags ...string) *served {
	t.Helper()
	db := "sqlite:" + filepath.Join(t.TempDir(), "limits.db")
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)
	p := startServer(t, db, append([]string{"--webhook-dispatch=false"}, flags...)...)
	s := &served{process: p, db: db, key: app["api_key"].(string),
		workflow: app["workflows"].(map[string]any)["user"].(string)}
	s.client = client.New("http://"+p.addr, s.key)
	return s
}

func (s *served) session(t *testing.T, metadata string) string {
	t.Helper()
	body := `{"workflow_id":"` + s.workflow + `"`
	if metadata != "" {
		body += `,"metadata":` + metadata
	}
	body += "}"
	resp, got := s.request(t, "POST", "/v3/session/", body)
	if resp.StatusCode != 201 {
		t.Fatalf("create session: %d %.200s", resp.StatusCode, got)
	}
	_, rest, _ := strings.Cut(got, `"session_id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}

// request sends one request with the application's key through Go's client.
func (s *served) request(t *testing.T, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", s.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp, string(b)
}

// feedCount is how many rows session id's feed has.
func (s *served) feedCount(t *testing.T, id string) int {
	t.Helper()
	resp, body := s.request(t, "GET", "/v3/sessions/"+id+"/reviews/?limit=1", "")
	var n int
	if resp.StatusCode != 200 {
		t.Fatalf("feed: %d %s", resp.StatusCode, body)
	}
	if _, err := fmt.Sscanf(body, `{"count":%d,`, &n); err != nil {
		t.Fatalf("feed: %v: %.200s", err, body)
	}
	return n
}

// raw sends head (a request line and headers, without the blank line that
// ends them) and body on a new connection, as is, and reads the answer.
func (s *served) raw(t *testing.T, head, body string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	// The server may answer and close before it has read everything: the
	// write's error is not the test's concern, the answer is.
	go func() { _, _ = io.WriteString(conn, head+"\r\n\r\n"+body) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%.60s: no answer: %v", head, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// endless sends head and then a chunked body that never ends, 64 KiB a
// chunk, until the server stops taking it or 1 GiB has gone. It returns the
// answer and how many body bytes were written.
func (s *served) endless(t *testing.T, head string) (*http.Response, string, int64) {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	sent := make(chan int64, 1)
	go func() {
		var n int64
		defer func() { sent <- n }()
		if _, err := io.WriteString(conn, head+"\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
			return
		}
		chunk := []byte(fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat(" ", 64<<10)))
		for n < 1<<30 {
			if _, err := conn.Write(chunk); err != nil {
				return
			}
			n += 64 << 10
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%.60s: no answer: %v", head, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), <-sent
}

// TestServerLimitDefaults: serve's HTTP server has production timeouts and
// a header cap by default, each settable by flag and environment, none of
// them off.
func TestServerLimitDefaults(t *testing.T) {
	cfg := defaultConfig()
	srv := &http.Server{}
	cfg.applyServerLimits(srv)
	if srv.ReadHeaderTimeout != 10*time.Second || srv.ReadTimeout != 30*time.Second || srv.WriteTimeout != 60*time.Second ||
		srv.IdleTimeout != 120*time.Second || srv.MaxHeaderBytes != 64<<10 {
		t.Errorf("defaults: read header %s, read %s, write %s, idle %s, header bytes %d",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
	if err := cfg.validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}

	parse := func(env map[string]string, args ...string) (config, error) {
		cfg := defaultConfig()
		if err := cfg.fromEnv(func(k string) string { return env[k] }); err != nil {
			return cfg, err
		}
		fs := newFlags("serve", &cfg)
		serverFlags(fs, &cfg)
		if err := parseFlags(fs, args); err != nil {
			return cfg, err
		}
		return cfg, cfg.validate()
	}
	cfg, err := parse(map[string]string{"KYCREVIEW_READ_HEADER_TIMEOUT": "2s", "KYCREVIEW_READ_TIMEOUT": "20s",
		"KYCREVIEW_WRITE_TIMEOUT": "40s", "KYCREVIEW_IDLE_TIMEOUT": "90s", "KYCREVIEW_MAX_HEADER_BYTES": "32768"},
		"--write-timeout", "45s", "--max-header-bytes", "16384")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ReadHeaderTimeout != 2*time.Second || cfg.ReadTimeout != 20*time.Second || cfg.WriteTimeout != 45*time.Second ||
		cfg.IdleTimeout != 90*time.Second || cfg.MaxHeaderBytes != 16384 {
		t.Errorf("environment, then flags: %+v", cfg)
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--read-header-timeout", "0"}, "read header timeout"},
		{nil, []string{"--read-timeout", "-1s"}, "read timeout"},
		{nil, []string{"--write-timeout", "0s"}, "write timeout"},
		{nil, []string{"--idle-timeout", "2h"}, "idle timeout"},
		{nil, []string{"--read-header-timeout", "40s"}, "must not be longer than the read timeout"},
		{nil, []string{"--max-header-bytes", "100"}, "max header bytes"},
		{nil, []string{"--max-header-bytes", "0"}, "max header bytes"},
		{map[string]string{"KYCREVIEW_WRITE_TIMEOUT": "soon"}, nil, "KYCREVIEW_WRITE_TIMEOUT"},
		{map[string]string{"KYCREVIEW_MAX_HEADER_BYTES": "64k"}, nil, "KYCREVIEW_MAX_HEADER_BYTES"},
	} {
		_, err := parse(c.env, c.args...)
		var u *usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v, want a usage error about %q", c.env, c.args, err, c.want)
		}
	}
}

// TestServeOversizedRequests: with serve's production limits, a body over
// 1 MiB is 413 in the API's shape (whatever its Content-Length says, and
// chunked without end, cut off after the limit rather than read to its
// end), a header block over the cap is 431, and long URLs and many query
// parameters within it are answered normally.
func TestServeOversizedRequests(t *testing.T) {
	s := startServed(t)
	id := s.session(t, "")
	review := "POST /v3/sessions/" + id + "/reviews/ HTTP/1.1\r\nHost: x\r\nx-api-key: " + s.key + "\r\nContent-Type: application/json"
	tooLarge := `{"detail":"Request body is larger than the limit of 1048576 bytes."}`
	pad := func(n int) string {
		b := `{"new_status":"In Review","comment":"x"}`
		return b + strings.Repeat(" ", n-len(b))
	}

	// Exactly the limit is taken; one byte more is not, and writes nothing.
	if resp, body := s.raw(t, review+fmt.Sprintf("\r\nContent-Length: %d", 1<<20), pad(1<<20)); resp.StatusCode != 201 {
		t.Fatalf("a body of exactly 1 MiB: %d %s", resp.StatusCode, body)
	}
	rows := s.feedCount(t, id)
	resp, body := s.raw(t, review+fmt.Sprintf("\r\nContent-Length: %d", 1<<20+1), pad(1<<20+1))
	if resp.StatusCode != 413 || body != tooLarge || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("1 MiB + 1: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// A Content-Length of 1 GiB is answered once the limit is passed.
	resp, body = s.raw(t, review+"\r\nContent-Length: 1073741824", pad(2<<20))
	if resp.StatusCode != 413 || body != tooLarge {
		t.Errorf("Content-Length 1 GiB: %d %s", resp.StatusCode, body)
	}
	// A chunked body without end: 413, and the server stops reading it.
	resp, body, sent := s.endless(t, review)
	t.Logf("an endless body: %d KiB written before the server closed", sent>>10)
	if resp.StatusCode != 413 || body != tooLarge {
		t.Errorf("an endless chunked body: %d %s", resp.StatusCode, body)
	}
	if sent >= 64<<20 {
		t.Errorf("the server took %d MiB of an endless body before refusing it", sent>>20)
	}
	// Endpoints that read no body are not held by one either.
	for _, head := range []string{
		"DELETE /v3/session/" + errUnknown + "/delete/ HTTP/1.1\r\nHost: x\r\nx-api-key: " + s.key,
		"POST /v3/sessions/" + id + "/reviews/ HTTP/1.1\r\nHost: x\r\nx-api-key: kyc_nope",
		"POST /console/signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded",
	} {
		resp, _, sent := s.endless(t, head)
		if resp.StatusCode != 404 && resp.StatusCode != 403 && resp.StatusCode != 413 {
			t.Errorf("%.40s with an endless body: %d", head, resp.StatusCode)
		}
		if sent >= 64<<20 {
			t.Errorf("%.40s: the server took %d MiB of an endless body", head, sent>>20)
		}
	}
	if n := s.feedCount(t, id); n != rows {
		t.Errorf("refused bodies wrote %d feed rows", n-rows)
	}

	// Headers: just under the cap is served, over it 431.
	header := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "\r\nX-Filler-%d: %s", i, strings.Repeat("a", 1000))
		}
		return b.String()
	}
	if resp, body := s.raw(t, "GET /system/healthcheck/ HTTP/1.1\r\nHost: x"+header(60), ""); resp.StatusCode != 200 {
		t.Errorf("60 KB of headers: %d %s", resp.StatusCode, body)
	}
	if resp, _ := s.raw(t, "GET /system/healthcheck/ HTTP/1.1\r\nHost: x"+header(100), ""); resp.StatusCode != 431 {
		t.Errorf("100 KB of headers: %d, want 431", resp.StatusCode)
	}
	// Many small headers.
	var many strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&many, "\r\nX-%d: 1", i)
	}
	if resp, _ := s.raw(t, "GET /system/healthcheck/ HTTP/1.1\r\nHost: x"+many.String(), ""); resp.StatusCode != 200 {
		t.Errorf("3000 headers: %d", resp.StatusCode)
	}
	// A long URL is a path like another; past the cap it is 431 too (Go
	// counts the request line with the headers).
	if resp, body := s.raw(t, "GET /v3/"+strings.Repeat("a", 60000)+" HTTP/1.1\r\nHost: x", ""); resp.StatusCode != 404 || body != `{"detail":"Not found."}` {
		t.Errorf("a 60 KB path: %d %.100s", resp.StatusCode, body)
	}
	if resp, _ := s.raw(t, "GET /v3/"+strings.Repeat("a", 100000)+" HTTP/1.1\r\nHost: x", ""); resp.StatusCode != 431 {
		t.Errorf("a 100 KB path: %d, want 431", resp.StatusCode)
	}
	// Thousands of query parameters: parsed, the last limit wins, and
	// every other parameter is kept in the links.
	q := strings.Repeat("x=1&", 5000) + strings.Repeat("limit=7&", 1000) + "limit=1"
	s.session(t, "")
	resp, body = s.request(t, "GET", "/v3/sessions/?"+q, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, `{"count":2,`) || !strings.Contains(body, "limit=1&offset=1&x=1&x=1") {
		t.Errorf("6001 query parameters: %d %.300s", resp.StatusCode, body)
	}
}

const errUnknown = "5d2c1a3e-0b7f-4c8e-9a61-2f4e8d9b7c10"

// TestServeSlowClients: the timeouts end what a slow or stuck client holds.
// serve runs with short timeouts (its flags) so the test is quick; the
// production values are TestServerLimitDefaults'.
func TestServeSlowClients(t *testing.T) {
	const (
		headerTimeout = 500 * time.Millisecond
		readTimeout   = time.Second
		writeTimeout  = 3 * time.Second
		idleTimeout   = time.Second
	)
	s := startServed(t, "--read-header-timeout", headerTimeout.String(), "--read-timeout", readTimeout.String(),
		"--write-timeout", writeTimeout.String(), "--idle-timeout", idleTimeout.String(),
		"--webhook-allow", "203.0.113.0/24") // destinations without DNS
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	// closedByServer waits (up to a bound far above every timeout) for the
	// server to close conn, reading whatever it sends first.
	closedByServer := func(what string, conn net.Conn) string {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		got, err := io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the server kept the connection open", what)
		}
		return string(got)
	}
	// drip writes s a byte at a time, until done or the server closes.
	drip := func(conn net.Conn, s string, every time.Duration) <-chan int {
		n := make(chan int, 1)
		go func() {
			i := 0
			defer func() { n <- i }()
			for ; i < len(s); i++ {
				if _, err := conn.Write([]byte{s[i]}); err != nil {
					return
				}
				time.Sleep(every)
			}
		}()
		return n
	}

	t.Run("slowloris headers", func(t *testing.T) {
		conn := dial()
		head := "GET /system/healthcheck/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n"
		written := drip(conn, head, 50*time.Millisecond) // 10 s to send it all
		got := closedByServer("slowloris", conn)
		if n := <-written; n >= len(head) {
			t.Errorf("the client sent its whole head (%d bytes): not cut off", n)
		}
		// Go closes it silently, or after a plain 400 once part of the
		// head has come: never an answer to the request itself.
		if got != "" && !strings.HasPrefix(got, "HTTP/1.1 400 Bad Request\r\n") {
			t.Errorf("the server answered a request it never fully got: %q", got)
		}
	})
	t.Run("silent connection", func(t *testing.T) {
		if got := closedByServer("silent", dial()); got != "" {
			t.Errorf("answer to nothing: %q", got)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		id := s.session(t, "")
		resp, dest := s.request(t, "POST", "/v3/webhook/destinations/", `{"label":"x","url":"https://203.0.113.7/slow"}`)
		if resp.StatusCode != 201 {
			t.Fatalf("create destination: %d %s", resp.StatusCode, dest)
		}
		destID := dest[strings.Index(dest, `"uuid":"`)+8:][:36]
		read := func() map[string]string {
			out := map[string]string{}
			for _, p := range []string{"/v3/sessions/" + id + "/reviews/", "/v3/session/" + id + "/decision/", "/v3/webhook/destinations/" + destID + "/"} {
				_, out[p] = s.request(t, "GET", p, "")
			}
			return out
		}
		before := read()
		// Every handler that reads a body: the ones that look the session or
		// destination up after reading it too.
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/v3/sessions/" + id + "/reviews/", `{"new_status":"Approved","comment":"` + strings.Repeat("s", 200) + `"}`},
			{"PATCH", "/v3/session/" + id + "/update-status/", `{"new_status":"Approved","comment":"` + strings.Repeat("s", 200) + `"}`},
			{"PATCH", "/v3/webhook/destinations/" + destID + "/", `{"label":"` + strings.Repeat("s", 200) + `"}`},
			{"POST", "/v3/session/", `{"workflow_id":"` + s.workflow + `","vendor_data":"` + strings.Repeat("s", 200) + `"}`},
			{"POST", "/v3/webhook/destinations/", `{"label":"y","url":"https://203.0.113.7/` + strings.Repeat("s", 200) + `"}`},
		} {
			what := c.method + " " + c.path
			conn := dial()
			head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", c.method, c.path, s.key, len(c.body))
			if _, err := io.WriteString(conn, head); err != nil {
				t.Fatal(err)
			}
			written := drip(conn, c.body, 50*time.Millisecond) // over 10 s to send it all
			got := closedByServer(what, conn)
			if n := <-written; n >= len(c.body) {
				t.Errorf("%s: the client sent its whole body (%d bytes): not cut off", what, n)
			}
			// The API's answer, not an internal error: the failed read
			// cancelled the request's context, and no lookup may run on it.
			if !strings.HasPrefix(got, "HTTP/1.1 400 ") || !strings.HasSuffix(got, "\r\n\r\n"+`{"detail":"Could not read the request body."}`) {
				t.Errorf("%s: answer to a slow body: %q", what, got)
			}
		}
		if after := read(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("cut-off requests changed things:\nbefore %v\nafter  %v", before, after)
		}
		if resp, body := s.request(t, "GET", "/v3/sessions/?session_kind=all", ""); !strings.HasPrefix(body, `{"count":1,`) {
			t.Errorf("a cut-off create made a session: %d %s", resp.StatusCode, body)
		}
		if _, body := s.request(t, "GET", "/v3/webhook/destinations/", ""); strings.Count(body, `"uuid"`) != 1 {
			t.Errorf("a cut-off create made a destination: %s", body)
		}
	})
	t.Run("client that never reads", func(t *testing.T) {
		// About 14 MB of sessions, far more than the sockets' buffers.
		meta := `{"blob":"` + strings.Repeat("m", 900<<10) + `"}`
		for range 16 {
			s.session(t, meta)
		}
		_, full := s.request(t, "GET", "/v3/sessions/?limit=16", "")
		if len(full) < 14<<20 {
			t.Fatalf("the page is only %d bytes", len(full))
		}
		conn := dial()
		if _, err := io.WriteString(conn, "GET /v3/sessions/?limit=16 HTTP/1.1\r\nHost: x\r\nx-api-key: "+s.key+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(writeTimeout + time.Second) // not reading
		// Reading now, the answer stops short: the server gave up on it
		// when its write timed out, and closed the connection.
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer head: %v", err)
		}
		got, err := io.ReadAll(resp.Body)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server still holds the connection")
		}
		if err == nil || len(got) >= len(full) {
			t.Errorf("the whole answer arrived (%d of %d bytes, err %v): the write never timed out", len(got), len(full), err)
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		conn := dial()
		if _, err := io.WriteString(conn, "GET /system/healthcheck/ HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("first request: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("an idle keep-alive connection: %v, want the server to close it", err)
		}
	})
	// Through all of it, the server served everyone else.
	if resp, body := s.request(t, "GET", "/system/healthcheck/", ""); resp.StatusCode != 200 {
		t.Errorf("healthcheck after: %d %s", resp.StatusCode, body)
	}
}
