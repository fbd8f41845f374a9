package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/kycreview/kycreview"
)

// DRF LimitOffsetPagination settings, as Didit runs them.
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// page is a parsed limit/offset request.
type page struct {
	limit, offset int
}

// parsePage reads limit and offset as DRF's LimitOffsetPagination does: the
// last value of each wins; a limit that is not a positive integer falls back
// to the default and one above the maximum is cut to it; an offset that is
// not a non-negative integer is 0. Nothing here is ever an error.
func parsePage(params []queryParam) page {
	p := page{limit: defaultLimit}
	if v, ok := lastValue(params, "limit"); ok {
		if n, ok := parsePyInt(v); ok && n > 0 {
			p.limit = int(min(n, maxLimit))
		}
	}
	if v, ok := lastValue(params, "offset"); ok {
		if n, ok := parsePyInt(v); ok && n >= 0 {
			p.offset = int(n)
		}
	}
	return p
}

// parseOrdering reads the ordering parameter as DRF's OrderingFilter does:
// comma-separated terms, each stripped and optionally prefixed by one '-';
// terms naming no orderable field are dropped silently, and if none is left
// the default applies. A field named again is dropped too: it cannot change
// an order its first mention already decided, and keeping it would let a
// query string grow the ORDER BY without bound.
func parseOrdering(params []queryParam, fields []string, def []kycreview.OrderTerm) []kycreview.OrderTerm {
	v, _ := lastValue(params, "ordering")
	var out []kycreview.OrderTerm
	for _, term := range strings.Split(v, ",") {
		term = strings.TrimFunc(term, isPySpace)
		desc := strings.HasPrefix(term, "-")
		name := strings.TrimPrefix(term, "-")
		if slices.Contains(fields, name) && !slices.ContainsFunc(out, func(t kycreview.OrderTerm) bool { return t.Field == name }) {
			out = append(out, kycreview.OrderTerm{Field: name, Desc: desc})
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

// pageLinks returns DRF's next and previous URLs for a page of count rows,
// or nil at either end. base is the request's absolute URL without its
// query; params is the request's query.
func pageLinks(base string, params []queryParam, p page, count int) (next, prev *string) {
	limit := strconv.Itoa(p.limit)
	if p.offset+p.limit < count {
		q := withParam(withParam(params, "limit", limit, false), "offset", strconv.Itoa(p.offset+p.limit), false)
		s := base + "?" + encodeQuery(q)
		next = &s
	}
	if p.offset > 0 {
		q := withParam(params, "limit", limit, false)
		if p.offset-p.limit <= 0 {
			q = withParam(q, "offset", "", true)
		} else {
			q = withParam(q, "offset", strconv.Itoa(p.offset-p.limit), false)
		}
		s := base + "?" + encodeQuery(q)
		prev = &s
	}
	return next, prev
}

// requestBase is the request's absolute URL without its query, as Django's
// build_absolute_uri sees it. Behind a proxy the scheme and host are the
// configured public URL's (which may add a path prefix) or, when the operator
// trusts the proxy, its X-Forwarded-Proto and X-Forwarded-Host.
func (s *Server) requestBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/") + r.URL.EscapedPath()
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.cfg.TrustForwardedHeaders {
		if p := strings.ToLower(forwardedValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			scheme = p
		}
		if h := forwardedValue(r.Header.Get("X-Forwarded-Host")); h != "" && validHost(h) {
			host = h
		}
	}
	return scheme + "://" + host + r.URL.EscapedPath()
}

// forwardedValue is the first (client-most) value of a comma-separated
// forwarding header, as Django reads it.
func forwardedValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// validHost refuses forwarded hosts that could smuggle a path, query or
// credentials into the links.
func validHost(h string) bool {
	return !strings.ContainsAny(h, "/?#@\\ \t") && len(h) <= 255
}
