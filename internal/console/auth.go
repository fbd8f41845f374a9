package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// Cookie names. The sign-in cookie names a row of console_sessions; the
// pre-sign-in cookie carries the double-submit CSRF token of the sign-in
// form, which is shown before there is a sign-in to tie a token to.
const (
	sessionCookie = "kycreview_console"
	preCookie     = "kycreview_console_pre"
	csrfField     = "csrf"
)

// msgBadCredentials is the one message for a failed sign-in, whatever
// failed, so the page reveals nothing about which accounts exist.
const msgBadCredentials = "Invalid email or password."

// msgTooMany is shown while sign-ins are refused for too many failures. It
// is shown for unknown addresses too: the limit is per address typed, not
// per account found.
const msgTooMany = "Too many failed sign-ins. Wait a few minutes and try again."

// secure reports whether cookies set in answer to r must be Secure.
func (h *Handler) secure(r *http.Request) bool {
	switch h.cfg.CookieSecure {
	case CookieSecureAlways:
		return true
	case CookieSecureNever:
		return false
	}
	if r.TLS != nil {
		return true
	}
	return h.cfg.TrustForwardedHeaders && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.secure(r),
	})
}

// clientAddr is the address sign-in failures are counted against: the peer,
// or with trusted proxy headers the address the proxy saw (the last entry
// of X-Forwarded-For, the one entry a client cannot forge).
func (h *Handler) clientAddr(r *http.Request) string {
	if h.cfg.TrustForwardedHeaders {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if a := strings.TrimSpace(parts[len(parts)-1]); a != "" {
				return a
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokensEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// localNext returns next if it is a path inside the console (so the
// sign-in page cannot be made to redirect elsewhere), else the queue.
func localNext(next string) string {
	if strings.HasPrefix(next, Prefix) && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return Prefix
}

// auth runs next for a signed-in user; on a POST it first checks the
// form's CSRF token against the sign-in's. A request without a sign-in is
// sent to the sign-in page (GET) or refused (POST).
func (h *Handler) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var token string
		if c, err := r.Cookie(sessionCookie); err == nil {
			token = c.Value
		}
		u, cs, err := h.svc.ConsoleAuth(r.Context(), token)
		if errors.Is(err, service.ErrConsoleSignedOut) {
			if r.Method != http.MethodGet {
				h.errorPage(w, r, http.StatusForbidden, "Your sign-in has ended. Sign in again.")
				return
			}
			http.Redirect(w, r, "/console/signin?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		} else if err != nil {
			h.fail(w, r, err)
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				h.badForm(w, r, err)
				return
			}
			if !tokensEqual(r.PostForm.Get(csrfField), cs.CSRF) {
				h.errorPage(w, r, http.StatusForbidden, "The form has expired or did not come from this console. Reload the page and try again.")
				return
			}
		}
		ctx := context.WithValue(r.Context(), userKey{}, signedIn{User: u, Session: cs, Token: token})
		w.Header().Set("Cache-Control", "no-store")
		next(w, r.WithContext(ctx))
	}
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if _, _, err := h.svc.ConsoleAuth(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, localNext(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
	}
	h.renderSignIn(w, r, http.StatusOK, "", "")
}

// renderSignIn shows the sign-in form with a fresh double-submit token.
func (h *Handler) renderSignIn(w http.ResponseWriter, r *http.Request, code int, email, msg string) {
	tok := newToken()
	h.setCookie(w, r, preCookie, tok, 3600)
	w.Header().Set("Cache-Control", "no-store")
	next := r.FormValue("next")
	h.render(w, r, code, "signin", map[string]any{
		"Title": "Sign in", "CSRF": tok, "Email": email, "Error": msg, "Next": localNext(next),
	})
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.badForm(w, r, err)
		return
	}
	c, err := r.Cookie(preCookie)
	if err != nil || !tokensEqual(r.PostForm.Get(csrfField), c.Value) {
		h.errorPage(w, r, http.StatusForbidden, "The form has expired or did not come from this console. Reload the page and try again.")
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	account, addr := "account:"+strings.ToLower(email), "addr:"+h.clientAddr(r)
	if h.fails.blocked(account, h.cfg.AccountFailures) || h.fails.blocked(addr, h.cfg.AddressFailures) {
		h.renderSignIn(w, r, http.StatusTooManyRequests, email, msgTooMany)
		return
	}
	token, _, err := h.svc.ConsoleSignIn(r.Context(), email, r.PostForm.Get("password"), h.cfg.SessionTTL)
	if kycreview.ErrorCode(err) == kycreview.EFORBIDDEN {
		h.fails.fail(account, addr)
		h.renderSignIn(w, r, http.StatusForbidden, email, msgBadCredentials)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	h.fails.reset(account)
	h.setCookie(w, r, preCookie, "", -1)
	h.setCookie(w, r, sessionCookie, token, int(h.cfg.SessionTTL.Seconds()))
	http.Redirect(w, r, localNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.ConsoleSignOut(r.Context(), current(r.Context()).Token); err != nil {
		h.fail(w, r, err)
		return
	}
	h.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}
