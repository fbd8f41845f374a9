// Package console is the reviewers' web console (issue 7): server-rendered
// pages (html/template) over the service layer, for console users who sign
// in with email and password. Every page and form works without
// JavaScript; a small embedded script only adds @mention suggestions.
//
// Security model, in short: a sign-in is a row in the database
// (console_sessions) named by a random token in an HttpOnly, SameSite=Lax
// cookie, so signing out or disabling a user ends it at once on every
// replica. Every POST carries the sign-in's synchronizer CSRF token (the
// sign-in form, made before there is a sign-in, a double-submit token).
// Failed sign-ins are limited per account and per client address.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/obs"
	"github.com/kycreview/kycreview/internal/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// CookieSecure says when the console's cookies get the Secure attribute.
type CookieSecure string

// The cookie modes: Auto marks cookies Secure when the request came over
// HTTPS (r.TLS, or X-Forwarded-Proto: https from a trusted proxy).
const (
	CookieSecureAuto   CookieSecure = "auto"
	CookieSecureAlways CookieSecure = "always"
	CookieSecureNever  CookieSecure = "never"
)

// Config is the console's configuration.
type Config struct {
	// CookieSecure is when cookies are marked Secure; empty means Auto.
	CookieSecure CookieSecure
	// TrustForwardedHeaders trusts X-Forwarded-Proto (for Secure) and
	// X-Forwarded-For (for the per-address sign-in limit) from a proxy.
	TrustForwardedHeaders bool
	// SessionTTL is how long a sign-in lasts; 0 means 12 hours.
	SessionTTL time.Duration
	// AccountFailures and AddressFailures are the failed sign-ins allowed
	// per account and per client address within FailureWindow before
	// further attempts are refused; 0 means 5, 50 and 15 minutes.
	AccountFailures int
	AddressFailures int
	FailureWindow   time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observer, when set, is told of every request, labelled by the
	// route pattern that served it (never the path).
	Observer obs.HTTPObserver
}

// Handler serves the console.
type Handler struct {
	svc     *service.Service
	cfg     Config
	log     *slog.Logger
	pages   map[string]*template.Template
	mux     *http.ServeMux
	handler http.Handler // mux behind obs.Middleware
	fails   *failureLimiter
}

// New returns the console's handler, to be mounted at Prefix.
func New(svc *service.Service, cfg Config, log *slog.Logger) (*Handler, error) {
	if cfg.CookieSecure == "" {
		cfg.CookieSecure = CookieSecureAuto
	}
	switch cfg.CookieSecure {
	case CookieSecureAuto, CookieSecureAlways, CookieSecureNever:
	default:
		return nil, errors.New("console: cookie secure mode must be auto, always or never")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.AccountFailures <= 0 {
		cfg.AccountFailures = 5
	}
	if cfg.AddressFailures <= 0 {
		cfg.AddressFailures = 50
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log = obs.Logger(log) // every line logged while serving gets its request id
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &Handler{svc: svc, cfg: cfg, log: log, pages: pages, mux: http.NewServeMux(),
		fails: newFailureLimiter(cfg.FailureWindow, cfg.Now)}
	h.routes()
	h.handler = obs.Middleware{Log: log, Observer: cfg.Observer, Recovered: func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, http.StatusInternalServerError, "Internal error.")
	}}.Wrap(http.HandlerFunc(h.serve))
	return h, nil
}

func (h *Handler) routes() {
	// Each route names itself for the metrics by its pattern (without the
	// method); the catch-all 404 stays obs.Unmatched.
	handle := func(pattern string, hd http.Handler) {
		route := strings.TrimSuffix(pattern[strings.IndexByte(pattern, ' ')+1:], "{$}")
		h.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			obs.SetRoute(r.Context(), route)
			hd.ServeHTTP(w, r)
		}))
	}
	static, _ := fs.Sub(staticFS, "static") // cannot fail: the directory is embedded
	handle("GET /console/static/", h.staticFiles(static))
	handle("GET /console/signin", http.HandlerFunc(h.signInPage))
	handle("POST /console/signin", http.HandlerFunc(h.signIn))
	handle("POST /console/signout", h.auth(h.signOut))
	handle("GET /console/{$}", h.auth(h.queue))
	handle("GET /console/sessions/{id}", h.auth(h.session))
	handle("POST /console/sessions/{id}/review", h.auth(h.review))
	handle("GET /console/notifications", h.auth(h.notifications))
	handle("POST /console/notifications/read", h.auth(h.markAllRead))
	h.mux.HandleFunc("/console/", h.notFound)
	handle("GET /console", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
	}))
}

// ServeHTTP serves a console request behind obs.Middleware: with a
// request id, logged, observed, and with a panic turned into a 500 page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.handler.ServeHTTP(w, r)
}

// serve serves a console request, with the headers every page gets.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	h.mux.ServeHTTP(w, r)
}

// maxFormBytes caps a console request's body. The largest honest form is a
// review with a comment at its 10000-character limit: form-encoding turns
// each UTF-8 byte of it into "%XX", so a comment of four-byte characters is
// about 120 KB.
const maxFormBytes = 256 << 10

// badForm answers a form that r.ParseForm could not read: 413 when it is
// over maxFormBytes, else 400.
func (h *Handler) badForm(w http.ResponseWriter, r *http.Request, err error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		h.errorPage(w, r, http.StatusRequestEntityTooLarge, "The form is too large.")
		return
	}
	h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
}

// staticFiles serves the embedded files under /console/static/ and nothing
// else: a name that is not one of them (a directory, which the file server
// would list, or a name with "..", a backslash or a NUL, which fs.FS refuses
// or does not hold) gets the console's 404 page.
func (h *Handler) staticFiles(files fs.FS) http.Handler {
	server := http.StripPrefix("/console/static/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/console/static/")
		if st, err := fs.Stat(files, name); err != nil || st.IsDir() {
			h.notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		server.ServeHTTP(w, r)
	})
}

// userKey is the context key of the signed-in user.
type userKey struct{}

// signedIn is the signed-in user and their sign-in, in a request's context.
type signedIn struct {
	User    kycreview.ConsoleUser
	Session service.ConsoleSession
	Token   string
}

func current(ctx context.Context) signedIn {
	s, _ := ctx.Value(userKey{}).(signedIn)
	return s
}

// fail answers an error from the service: not found and forbidden as their
// pages, anything else logged once and shown as Internal error.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch kycreview.ErrorCode(err) {
	case kycreview.ENOTFOUND:
		h.notFound(w, r)
	case kycreview.EFORBIDDEN:
		h.errorPage(w, r, http.StatusForbidden, "You may not do that.")
	default:
		h.log.ErrorContext(r.Context(), "console", "method", r.Method, "path", r.URL.Path, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, "Internal error.")
	}
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, http.StatusNotFound, "Page not found.")
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	h.render(w, r, code, "error", map[string]any{"Title": http.StatusText(code), "Message": msg})
}
