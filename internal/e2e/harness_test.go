package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for raw checks
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/client"
	"github.com/kycreview/kycreview/internal/httpapi"
	"github.com/kycreview/kycreview/internal/postgres"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// env is one running kycreview: a fresh database, the service, the API on a
// loopback port, and one application with a client key.
type env struct {
	t       testing.TB
	store   service.Store
	backend string // "sqlite" (the default) or "postgres"
	dbURL   string // the raw connection's data source
	svc     *service.Service
	srv     *httptest.Server
	url     string
	app     service.NewApplication
	token   string
	client  *client.Client
	cfg     httpapi.Config
	svcOpts []service.Option
	rawConn *sql.DB
	now     func() time.Time // the service's clock; time.Now unless set
}

type envOption func(*env)

// withTrustedProxy makes links follow X-Forwarded-Proto and -Host.
func withTrustedProxy() envOption { return func(e *env) { e.cfg.TrustForwardedHeaders = true } }

// withPublicURL runs the API behind a configured public URL.
func withPublicURL(u string) envOption { return func(e *env) { e.cfg.PublicURL = u } }

// withServiceOptions configures the service, e.g. its webhook rules.
func withServiceOptions(opts ...service.Option) envOption {
	return func(e *env) { e.svcOpts = append(e.svcOpts, opts...) }
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, backend: os.Getenv("KYCREVIEW_E2E_BACKEND")}
	for _, o := range opts {
		o(e)
	}
	db := e.openStore(ctx)
	e.store = db
	if e.now == nil {
		e.now = time.Now
	}
	e.svc = service.New(db, e.now, e.svcOpts...)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	e.srv = httptest.NewServer(e.checkContract(httpapi.New(e.svc, e.cfg, logger)))
	e.url = e.srv.URL
	t.Cleanup(func() {
		e.srv.Close()
		if e.rawConn != nil {
			e.rawConn.Close()
		}
		db.Close()
	})
	var err error
	e.app, err = e.svc.CreateApplication(ctx, "Acme")
	if err != nil {
		t.Fatalf("create application: %v", err)
	}
	e.token = e.app.Token
	e.client = client.New(e.url, e.token)
	return e
}

// testWriter sends server logs to the test log in -v runs.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newSession creates a session of the given kind through the API.
func (e *env) newSession(kind kycreview.Kind) string {
	e.t.Helper()
	s, err := e.client.CreateSession(context.Background(), client.CreateSessionRequest{WorkflowID: e.app.Workflows[kind].ID})
	if err != nil {
		e.t.Fatalf("create session: %v", err)
	}
	return s.SessionID
}

// systemKey creates a key with the system role.
func (e *env) systemKey() string {
	e.t.Helper()
	_, token, err := e.svc.CreateAPIKey(context.Background(), e.app.Application.ID, kycreview.RoleSystem)
	if err != nil {
		e.t.Fatalf("create system key: %v", err)
	}
	return token
}

// moveTo takes a session to status with a system key, as a pipeline would.
func (e *env) moveTo(id string, status kycreview.Status) {
	e.t.Helper()
	c := client.New(e.url, e.systemKey())
	if err := c.UpdateStatus(context.Background(), id, client.UpdateStatusRequest{NewStatus: string(status)}); err != nil {
		e.t.Fatalf("move %s to %s: %v", id, status, err)
	}
}

// response is a raw HTTP answer.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a raw request. headers are "Name: value" strings; an API key
// header is not added unless given.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// key is the header carrying the env's client key.
func (e *env) key() string { return "x-api-key: " + e.token }

const jsonType = "Content-Type: application/json"

// expect checks a response's status and exact body.
func expect(t *testing.T, got response, status int, body string) {
	t.Helper()
	if got.status != status || got.body != body {
		t.Errorf("got %d %s\nwant %d %s", got.status, got.body, status, body)
	}
	if body != "" && got.header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got.header.Get("Content-Type"))
	}
}

// openStore opens a fresh database of the selected backend. The e2e suite
// runs on SQLite by default; KYCREVIEW_E2E_BACKEND=postgres runs it on a
// fresh PostgreSQL database per test (see internal/postgres/pgtest).
func (e *env) openStore(ctx context.Context) service.Store {
	e.t.Helper()
	switch e.backend {
	case "", "sqlite":
		e.backend = "sqlite"
		path := filepath.Join(e.t.TempDir(), "kycreview.db")
		e.dbURL = "file:" + path + "?_pragma=busy_timeout(10000)"
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			e.t.Fatalf("open SQLite: %v", err)
		}
		return db
	case "postgres":
		e.dbURL = pgtest.URL(e.t)
		db, err := postgres.Open(ctx, e.dbURL)
		if err != nil {
			e.t.Fatalf("open PostgreSQL: %v", err)
		}
		return db
	}
	e.t.Fatalf("KYCREVIEW_E2E_BACKEND=%q: want sqlite or postgres", e.backend)
	return nil
}

// raw returns a database/sql connection to the env's database that
// bypasses the service, to see exactly what was written.
func (e *env) raw() *sql.DB {
	e.t.Helper()
	if e.rawConn == nil {
		driver := map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[e.backend]
		db, err := sql.Open(driver, e.dbURL)
		if err != nil {
			e.t.Fatalf("open raw connection: %v", err)
		}
		e.rawConn = db
	}
	return e.rawConn
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, … when needed.
func (e *env) rebind(query string) string {
	if e.backend != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// count runs a COUNT query on the database directly.
func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.raw().QueryRow(e.rebind(query), args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// exec runs a statement on the database directly.
func (e *env) exec(query string) {
	e.t.Helper()
	if _, err := e.raw().Exec(query); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

// breakInserts makes every insert into table fail, as a full disk or a lost
// connection would, in the middle of a transaction.
func (e *env) breakInserts(table string) {
	e.t.Helper()
	if e.backend == "postgres" {
		e.exec(`CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`)
		e.exec(`CREATE TRIGGER fail_insert BEFORE INSERT ON ` + table + ` FOR EACH ROW EXECUTE FUNCTION fail_insert()`)
		return
	}
	e.exec(`CREATE TRIGGER fail_insert BEFORE INSERT ON ` + table + ` BEGIN SELECT RAISE(ABORT, 'disk full'); END`)
}

// mendInserts undoes breakInserts.
func (e *env) mendInserts(table string) {
	e.t.Helper()
	if e.backend == "postgres" {
		e.exec(`DROP TRIGGER fail_insert ON ` + table)
		e.exec(`DROP FUNCTION fail_insert()`)
		return
	}
	e.exec(`DROP TRIGGER fail_insert`)
}

func ptr[T any](v T) *T { return &v }
