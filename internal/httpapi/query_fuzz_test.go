package httpapi

import (
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kycreview/kycreview"
)

// FuzzParseQuery: whatever the query string, parse_qsl, the page and the
// ordering never panic; limit stays in [1, maxLimit] and offset is not
// negative; ordering keeps only known fields, each once; and a query of
// valid UTF-8 survives DRF's re-encoding: encodeQuery's output parses back
// to the same pairs, grouped by key with the keys sorted.
// Run it longer with
// go test -run '^$' -fuzz '^FuzzParseQuery$' -fuzztime 30s ./internal/httpapi/
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"limit=10&offset=20",
		"limit=%EF%BC%91%EF%BC%90&offset=1_000",
		"ordering=-created_at,%20id,created_at,nope&ordering=id",
		"a=1&&b&=c&a=%ZZ+x&limit=-1&offset=+7",
		"q=%C3%28%E2%82&limit=99999999999999999999999",
		"ordering=';DROP TABLE activity;--&offset=0x10",
	} {
		f.Add(s)
	}
	fields := kycreview.FeedOrderFields()
	def := kycreview.DefaultFeedOrdering()
	f.Fuzz(func(t *testing.T, raw string) {
		params := parseQuery(raw)
		p := parsePage(params)
		if p.limit < 1 || p.limit > maxLimit || p.offset < 0 {
			t.Fatalf("parsePage(%q) = %+v", raw, p)
		}
		ord := parseOrdering(params, fields, def)
		seen := map[string]bool{}
		for _, o := range ord {
			if !slices.Contains(fields, o.Field) || seen[o.Field] {
				t.Fatalf("parseOrdering(%q) = %+v: unknown or repeated field %q", raw, ord, o.Field)
			}
			seen[o.Field] = true
		}
		if !utf8.ValidString(raw) {
			return
		}
		grouped := slices.Clone(params)
		sort.SliceStable(grouped, func(i, j int) bool { return grouped[i].key < grouped[j].key })
		enc := encodeQuery(params)
		back := parseQuery(enc)
		if len(grouped) == 0 && len(back) == 0 {
			return
		}
		if !reflect.DeepEqual(back, grouped) {
			t.Fatalf("parseQuery(%q) = %q; encoded %q; parsed back %q", raw, params, enc, back)
		}
	})
}

// FuzzParsePyInt: int() parsing never panics, stays within maxQueryInt, and
// agrees with strconv on plain ASCII decimal text.
func FuzzParsePyInt(f *testing.F) {
	for _, s := range []string{"0", "-12", " +7\t", "1_000", "1__0", "_1", "１２", "٣", "99999999999999999999", "0x10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parsePyInt(s)
		if !ok {
			if n != 0 {
				t.Fatalf("parsePyInt(%q) = %d, false", s, n)
			}
			return
		}
		if n > maxQueryInt || n < -maxQueryInt {
			t.Fatalf("parsePyInt(%q) = %d, beyond ±maxQueryInt", s, n)
		}
		if strings.ContainsFunc(s, func(r rune) bool { return r != '-' && r != '+' && (r < '0' || r > '9') }) {
			return
		}
		if want, err := strconv.ParseInt(s, 10, 64); err == nil && want <= maxQueryInt && want >= -maxQueryInt && want != n {
			t.Fatalf("parsePyInt(%q) = %d, strconv says %d", s, n, want)
		}
	})
}

// FuzzPageLinks: next and previous links parse as URLs on the request's
// scheme, host and path; they carry one limit, the page's, and at most one
// offset, both non-negative decimal integers, next's one page on and
// previous's one page back (absent at the start); the request's other
// parameters are kept; and each link exists exactly when it should.
// Run it longer with
// go test -run '^$' -fuzz '^FuzzPageLinks$' -fuzztime 30s ./internal/httpapi/
func FuzzPageLinks(f *testing.F) {
	f.Add("/v3/sessions/reviews/feed/", "limit=10&offset=20", 100)
	f.Add("/v3/sessions/reviews/feed/", "", 51)
	f.Add("/prefix/with space/é/", "offset=5&limit=10&a=1&a=2&b=%2B", 15)
	f.Add("/v3/session/", "limit=1000&offset=9223372036854775807", 3)
	f.Add("/x", "offset=15&limit=10&ordering=-created_at", 16)
	f.Add("/x", "limit=0&offset=-3&limit=abc", -1)
	f.Fuzz(func(t *testing.T, path, raw string, count int) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		escaped := (&url.URL{Path: path}).EscapedPath()
		base := "http://testserver" + escaped
		params := parseQuery(raw)
		p := parsePage(params)
		next, prev := pageLinks(base, params, p, count)
		if (next != nil) != (p.offset+p.limit < count) {
			t.Fatalf("page %+v of %d: next = %v", p, count, next)
		}
		if (prev != nil) != (p.offset > 0) {
			t.Fatalf("page %+v of %d: previous = %v", p, count, prev)
		}
		check := func(what, link string, wantOffset int) {
			u, err := url.Parse(link)
			if err != nil {
				t.Fatalf("%s link %q does not parse: %v", what, link, err)
			}
			if u.Scheme != "http" || u.Host != "testserver" || u.EscapedPath() != escaped || u.Fragment != "" {
				t.Fatalf("%s link %q: scheme/host/path changed from %q", what, link, base)
			}
			got := parseQuery(u.RawQuery)
			var limits, offsets []string
			var others, want []queryParam
			for _, q := range got {
				switch q.key {
				case "limit":
					limits = append(limits, q.value)
				case "offset":
					offsets = append(offsets, q.value)
				default:
					others = append(others, q)
				}
			}
			if len(limits) != 1 || limits[0] != strconv.Itoa(p.limit) {
				t.Fatalf("%s link %q: limit %q, want [%d]", what, link, limits, p.limit)
			}
			for _, v := range append(limits, offsets...) {
				if n, err := strconv.Atoi(v); err != nil || n < 0 || strconv.Itoa(n) != v {
					t.Fatalf("%s link %q: %q is not a non-negative integer", what, link, v)
				}
			}
			switch {
			case wantOffset < 0 && len(offsets) != 0:
				t.Fatalf("%s link %q: offset %q, want none", what, link, offsets)
			case wantOffset >= 0 && (len(offsets) != 1 || offsets[0] != strconv.Itoa(wantOffset)):
				t.Fatalf("%s link %q: offset %q, want %d", what, link, offsets, wantOffset)
			}
			if !utf8.ValidString(raw) {
				return
			}
			for _, q := range params {
				if q.key != "limit" && q.key != "offset" {
					want = append(want, q)
				}
			}
			sort.SliceStable(want, func(i, j int) bool { return want[i].key < want[j].key })
			if len(want) != 0 || len(others) != 0 {
				if !reflect.DeepEqual(others, want) {
					t.Fatalf("%s link %q: other parameters %q, want %q", what, link, others, want)
				}
			}
		}
		if next != nil {
			check("next", *next, p.offset+p.limit)
		}
		if prev != nil {
			wantOffset := p.offset - p.limit
			if wantOffset <= 0 {
				wantOffset = -1
			}
			check("previous", *prev, wantOffset)
		}
	})
}
