package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Time limits on the processes kycbench starts, so that a run always ends
// by itself.
const (
	buildTimeout   = 5 * time.Minute
	startTimeout   = time.Minute
	stopTimeout    = 20 * time.Second // kycreview drains for up to 15 s
	healthInterval = 50 * time.Millisecond
)

// process is a server kycbench started and must stop: kycreview serve or
// the ceiling.
type process struct {
	name string
	cmd  *exec.Cmd
	base string        // http://127.0.0.1:port
	done chan struct{} // closed once the process has exited
	err  error         // its exit error, once done is closed
	out  *tail         // the end of its stdout and stderr, for error messages
}

// startProcess runs argv with env, expecting it to serve HTTP on addr, and
// waits until it answers GET /system/healthcheck with 200.
func startProcess(ctx context.Context, name string, argv, env []string, addr string) (*process, error) {
	p := &process{name: name, base: "http://" + addr, done: make(chan struct{}), out: &tail{max: 4096}}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	if err := p.waitHealthy(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// pid is the process id, for /proc.
func (p *process) pid() int { return p.cmd.Process.Pid }

// waitHealthy polls the health check until it answers 200, the process
// exits, or startTimeout passes.
func (p *process) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	tick := time.NewTicker(healthInterval)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/system/healthcheck", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v): %s", p.name, p.err, p.out.String())
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %s/system/healthcheck within %s: %s", p.name, p.base, startTimeout, p.out.String())
		case <-tick.C:
		}
	}
}

// alive reports an error if the server kycbench started has exited; a
// --target (nil) is taken to be alive.
func (p *process) alive() error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return fmt.Errorf("%s exited during the run (%v): %s", p.name, p.err, p.out.String())
	default:
		return nil
	}
}

// stop asks the process to shut down (SIGTERM, on which both servers drain)
// and kills it if it has not exited within stopTimeout.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// freeAddr returns a loopback address with a port nobody listens on. The
// port is released before the server binds it; if another process takes it
// meanwhile, the server fails to start and says so.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// buildServer builds the kycreview command into dir, once per run, so that
// what is measured is the compiled server and not `go run`.
func buildServer(ctx context.Context, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run kycbench from inside the kycreview module: go env GOMOD names no go.mod")
	}
	bin := filepath.Join(dir, "kycreview")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kycreview")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/kycreview: %w\n%s", err, out)
	}
	return bin, nil
}

// startServer starts `kycreview serve` on the database dbURL, with extra
// flags after the address and the database.
func startServer(ctx context.Context, bin, dbURL string, extra ...string) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	argv := append([]string{bin, "serve", "--addr", addr, "--db", dbURL}, extra...)
	return startProcess(ctx, "kycreview", argv, serverEnv(os.Environ()), addr)
}

// serverEnv is env without inherited KYCREVIEW_* settings, which would make
// runs differ by whoever ran them, with request logging off (one log line
// per request would dominate what is measured) and the per-key rate limits
// off: the suite drives one API key at thousands of requests a second, and
// measures what the server can do, not the policy that throttles a client.
// They are set in the environment rather than as flags so that a server
// built before the limits existed still starts.
func serverEnv(env []string) []string {
	out := make([]string, 0, len(env)+4)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "KYCREVIEW_") {
			out = append(out, kv)
		}
	}
	out = append(out, "KYCREVIEW_LOG_LEVEL=error", "KYCREVIEW_LOG_FORMAT=json",
		"KYCREVIEW_RATE_LIMIT_GET=0", "KYCREVIEW_RATE_LIMIT_WRITE=0")
	// KYCBENCH_SERVER_PPROF lets whoever profiles a run reach the server's
	// pprof endpoint; it is the one setting passed on, and off by default.
	if addr := os.Getenv("KYCBENCH_SERVER_PPROF"); addr != "" {
		out = append(out, "KYCREVIEW_PPROF_ADDR="+addr)
	}
	return out
}

// tail is an io.Writer that keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(bytes.TrimSpace(t.buf))
	if s == "" {
		return "(no output)"
	}
	return s
}
