package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kycreview/kycreview/client"
)

// TestMain lets the test binary act as the kycreview command, so tests can
// run real server processes and kill them without a separate build step.
func TestMain(m *testing.M) {
	if os.Getenv("KYCREVIEW_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// cli runs one command in-process and returns its stdout.
func cli(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return stdout.String(), err
}

// mustJSON runs a command that must succeed and decodes its one JSON object.
func mustJSON(t *testing.T, env map[string]string, args ...string) map[string]any {
	t.Helper()
	out, err := cli(t, env, args...)
	if err != nil {
		t.Fatalf("kycreview %s: %v", strings.Join(args, " "), err)
	}
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("kycreview %s printed %q: %v", strings.Join(args, " "), out, err)
	}
	if dec.More() {
		t.Fatalf("kycreview %s printed more than one JSON value: %q", strings.Join(args, " "), out)
	}
	return v
}

// process is a kycreview serve process started from the test binary.
type process struct {
	cmd  *exec.Cmd
	addr string
	done chan error
	log  *serverLog // what it wrote on stderr: complete once done has a value
}

// serverLog collects a server's stderr, one line at a time.
type serverLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *serverLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// Lines returns the lines so far.
func (l *serverLog) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// startServer runs `kycreview serve` on a free port over the database and
// waits until it listens.
func startServer(t *testing.T, db string, extra ...string) *process {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KYCREVIEW_TEST_AS_MAIN=1", "KYCREVIEW_LOG_FORMAT=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1), log: &serverLog{}}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.log.add(sc.Text())
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				ready <- line.Addr
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case p.addr = <-ready:
	case err := <-p.done:
		t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start listening within 30s")
	}
	return p
}

// TestRestartKeepsData writes through one server process, kills it with
// SIGKILL (no chance to flush anything), starts another on the same file
// and checks that every acknowledged write is there.
func TestRestartKeepsData(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "kycreview.db")
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)
	ctx := context.Background()

	p := startServer(t, db)
	c := client.New("http://"+p.addr, app["api_key"].(string))
	workflow := app["workflows"].(map[string]any)["user"].(string)
	var ids []string
	for i := 0; i < 3; i++ {
		s, err := c.CreateSession(ctx, client.CreateSessionRequest{WorkflowID: workflow})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.SessionID)
		for _, st := range []string{"In Review", "Approved"} {
			if _, err := c.CreateReview(ctx, s.SessionID, client.ReviewRequest{NewStatus: st}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done

	p2 := startServer(t, db)
	c = client.New("http://"+p2.addr, app["api_key"].(string))
	for _, id := range ids {
		d, err := c.Decision(ctx, id)
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		if d.Status != "Approved" || len(d.Reviews) != 2 {
			t.Errorf("session %s after restart: status %q, %d reviews", id, d.Status, len(d.Reviews))
		}
	}
	page, err := c.ListSessions(ctx, client.ListSessionsParams{})
	if err != nil || page.Count != 3 {
		t.Errorf("sessions after restart: %+v, %v", page, err)
	}

	// A polite stop (SIGTERM) drains and exits cleanly.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p2.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("server did not stop within 20s of SIGTERM")
	}
}

// TestServeDemo: --demo on an empty database seeds an application whose key
// works and whose sessions have feed history; a second start mints a new
// key for the same demo application.
func TestServeDemo(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "kycreview.db")
	ctx := context.Background()
	key, session := runDemo(t, db)

	p := startServer(t, db)
	c := client.New("http://"+p.addr, key)
	page, err := c.Feed(ctx, session, client.FeedParams{Ordering: "created_at"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Count < 2 || *page.Results[len(page.Results)-1].NewStatus != "In Review" {
		t.Errorf("demo session feed: %+v", page)
	}
	sessions, err := c.ListSessions(ctx, client.ListSessionsParams{SessionKind: "all"})
	if err != nil || sessions.Count < 4 {
		t.Fatalf("demo sessions: %+v %v", sessions, err)
	}
	statuses := map[string]bool{}
	for _, s := range sessions.Results {
		statuses[s.Status] = true
	}
	if len(statuses) < 3 {
		t.Errorf("demo sessions cover only %v", statuses)
	}

	// The README's walk-through approves the session in review. Started
	// again, --demo still hands out a new key that works, and a session.
	if _, err := c.CreateReview(ctx, session, client.ReviewRequest{NewStatus: "Approved"}); err != nil {
		t.Fatal(err)
	}
	key2, session2 := runDemo(t, db)
	if key2 == key {
		t.Error("the second start printed the same key")
	}
	if _, err := client.New("http://"+p.addr, key2).Feed(ctx, session2, client.FeedParams{}); err != nil {
		t.Errorf("the second start's key and session: %v", err)
	}
}

// runDemo runs serve --demo in-process until it has printed its key and
// session, then stops it.
func runDemo(t *testing.T, db string) (key, session string) {
	t.Helper()
	var stdout syncWriter
	runCtx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- run(runCtx, []string{"serve", "--demo", "--addr", "127.0.0.1:0", "--db", db},
			func(string) string { return "" }, &stdout, io.Discard)
	}()
	key, session = waitDemo(t, &stdout, errc)
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("serve --demo: %v", err)
	}
	return key, session
}

// syncWriter is a buffer a goroutine writes while the test reads it.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitDemo(t *testing.T, out *syncWriter, errc chan error) (key, session string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			t.Fatalf("serve --demo stopped early: %v\n%s", err, out.String())
		default:
		}
		text := out.String()
		if i := strings.Index(text, "List the application's sessions"); i >= 0 {
			for _, line := range strings.Split(text, "\n") {
				f := strings.Fields(line)
				if len(f) >= 3 && f[0] == "API" && f[1] == "key:" {
					key = f[2]
				}
				if len(f) >= 2 && f[0] == "Session:" {
					session = f[1]
				}
			}
			if key != "" && session != "" {
				return key, session
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("demo output never complete: %q", out.String())
	return "", ""
}
