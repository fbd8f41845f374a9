package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/console"
	"github.com/kycreview/kycreview/internal/postgres"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

const password = "correct horse battery"

// fixture is a console over a real database: application Acme with
// members Ana and Bob and one session in review, and application Other
// with member Carol and a session of its own.
type fixture struct {
	svc        *service.Service
	srv        *httptest.Server
	key        kycreview.APIKey // Acme's client key
	otherKey   kycreview.APIKey
	ana, bob   kycreview.ConsoleUser
	carol      kycreview.ConsoleUser
	session    kycreview.Session // Acme's, In Review
	other      kycreview.Session // Other's, In Review
	appName    string
	otherName  string
	consoleCfg console.Config
}

// backend opens a fresh store.
type backend struct {
	name string
	open func(t *testing.T) service.Store
}

func sqliteBackend() backend {
	return backend{"sqlite", func(t *testing.T) service.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kycreview.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}
}

func postgresBackend() backend {
	return backend{"postgres", func(t *testing.T) service.Store {
		u := pgtest.URL(t)
		db, err := postgres.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}
}

// eachBackend runs fn on SQLite and on PostgreSQL (skipped, outside CI,
// when no server is configured).
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range []backend{sqliteBackend(), postgresBackend()} {
		t.Run(b.name, func(t *testing.T) {
			if b.name == "postgres" {
				pgtest.Require(t)
			}
			fn(t, b)
		})
	}
}

func newFixture(t *testing.T, b backend, cfg console.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	svc := service.New(b.open(t), time.Now)
	f := &fixture{svc: svc, consoleCfg: cfg}
	mkApp := func(name string, users ...[2]string) (kycreview.APIKey, kycreview.Session, []kycreview.ConsoleUser) {
		app, err := svc.CreateApplication(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		key, err := svc.Authenticate(ctx, app.Token)
		if err != nil {
			t.Fatal(err)
		}
		var us []kycreview.ConsoleUser
		for _, u := range users {
			cu, err := svc.CreateUser(ctx, service.UserInput{Email: u[0], FullName: u[1], Password: password, AppID: app.Application.ID})
			if err != nil {
				t.Fatal(err)
			}
			us = append(us, cu)
		}
		vd := name + "-customer-1"
		sess, err := svc.CreateSession(ctx, key, service.SessionInput{
			WorkflowID: app.Workflows[kycreview.KindUser].ID, VendorData: &vd, Metadata: []byte(`{"country":"PT"}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		inReview := kycreview.StatusInReview
		if _, err := svc.Review(ctx, key, sess.ID, kycreview.Change{NewStatus: &inReview}, nil); err != nil {
			t.Fatal(err)
		}
		return key, sess, us
	}
	var us []kycreview.ConsoleUser
	f.key, f.session, us = mkApp("Acme Bank", [2]string{"ana@example.com", "Ana Lead"}, [2]string{"bob@example.com", "Bob Builder"})
	f.ana, f.bob = us[0], us[1]
	f.otherKey, f.other, us = mkApp("Other Corp", [2]string{"carol@example.com", "Carol Other"})
	f.carol = us[0]
	f.appName, f.otherName = "Acme Bank", "Other Corp"

	h, err := console.New(svc, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see them.
type browser struct {
	t *testing.T
	f *fixture
	c *http.Client
	h http.Header // extra headers on every request
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, f: f, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, h: http.Header{}}
}

type page struct {
	code int
	body string
	resp *http.Response
}

func (b *browser) do(method, path string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.f.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.h {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{code: resp.StatusCode, body: string(raw), resp: resp}
}

func (b *browser) get(path string) page { return b.do(http.MethodGet, path, nil) }

func (b *browser) post(path string, form url.Values) page { return b.do(http.MethodPost, path, form) }

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form on p.
func (b *browser) csrf(p page) string {
	b.t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no csrf field on the page:\n%s", p.body)
	}
	return m[1]
}

// signIn signs in as email and returns the CSRF token of the queue page.
func (b *browser) signIn(email string) string {
	b.t.Helper()
	p := b.post("/console/signin", url.Values{"csrf": {b.csrf(b.get("/console/signin"))}, "email": {email}, "password": {password}})
	if p.code != http.StatusSeeOther || p.resp.Header.Get("Location") != "/console/" {
		b.t.Fatalf("sign in as %s: %d %s\n%s", email, p.code, p.resp.Header.Get("Location"), p.body)
	}
	q := b.get("/console/")
	if q.code != http.StatusOK {
		b.t.Fatalf("queue after sign-in: %d", q.code)
	}
	return b.csrf(q)
}

func serviceInput(workflowID string) service.SessionInput {
	return service.SessionInput{WorkflowID: workflowID}
}
