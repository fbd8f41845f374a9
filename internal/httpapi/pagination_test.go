package httpapi

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
)

func TestParsePage(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  page
	}{
		{"defaults", "", page{limit: 50, offset: 0}},
		{"both given", "limit=2&offset=4", page{limit: 2, offset: 4}},
		{"repeated limit: last wins", "limit=2&limit=3", page{limit: 3}},
		{"repeated limit: last wins even if invalid", "limit=2&limit=abc", page{limit: 50}},
		{"repeated offset: last wins", "offset=9&offset=1", page{limit: 50, offset: 1}},
		{"limit zero", "limit=0", page{limit: 50}},
		{"limit negative", "limit=-5", page{limit: 50}},
		{"limit unparseable", "limit=abc", page{limit: 50}},
		{"limit empty", "limit=", page{limit: 50}},
		{"limit float", "limit=1.5", page{limit: 50}},
		{"limit hex", "limit=0x10", page{limit: 50}},
		{"limit above maximum", "limit=5000", page{limit: 1000}},
		{"limit at maximum", "limit=1000", page{limit: 1000}},
		{"limit just above maximum", "limit=1001", page{limit: 1000}},
		{"limit huge", "limit=" + strings.Repeat("9", 40), page{limit: 1000}},
		{"limit with surrounding spaces", "limit=%2020%20", page{limit: 20}},
		{"limit with plus-encoded spaces", "limit=+20+", page{limit: 20}},
		{"limit with explicit sign", "limit=%2B3", page{limit: 3}},
		{"limit with underscore", "limit=1_0", page{limit: 10}},
		// int("5\x1c") raises ValueError: int() strips only ASCII whitespace
		// from ASCII text, though str.isspace("\x1c") is true.
		{"limit with an information separator", "limit=5%1C", page{limit: 50}},
		{"limit in Arabic-Indic digits", "limit=%D9%A3", page{limit: 3}},
		{"offset negative", "offset=-5", page{limit: 50}},
		{"offset minus zero", "offset=-0", page{limit: 50}},
		{"offset unparseable", "offset=abc", page{limit: 50}},
		{"offset empty", "offset=", page{limit: 50}},
		{"offset with spaces", "offset=+3+", page{limit: 50, offset: 3}},
		{"offset huge saturates", "offset=" + strings.Repeat("1", 40), page{limit: 50, offset: maxQueryInt}},
		{"other params ignored", "ordering=uuid&foo=bar", page{limit: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parsePage(parseQuery(tt.query)); got != tt.want {
				t.Errorf("parsePage(%q) = %+v, want %+v", tt.query, got, tt.want)
			}
		})
	}
}

func TestParseOrdering(t *testing.T) {
	def := kycreview.DefaultFeedOrdering()
	asc := func(f string) kycreview.OrderTerm { return kycreview.OrderTerm{Field: f} }
	desc := func(f string) kycreview.OrderTerm { return kycreview.OrderTerm{Field: f, Desc: true} }
	tests := []struct {
		name  string
		query string
		want  []kycreview.OrderTerm
	}{
		{"absent", "", def},
		{"empty", "ordering=", def},
		{"ascending", "ordering=created_at", []kycreview.OrderTerm{asc("created_at")}},
		{"descending", "ordering=-created_at", []kycreview.OrderTerm{desc("created_at")}},
		{"several", "ordering=actor_type,-uuid", []kycreview.OrderTerm{asc("actor_type"), desc("uuid")}},
		{"encoded comma", "ordering=comment%2C-new_status", []kycreview.OrderTerm{asc("comment"), desc("new_status")}},
		{"terms stripped", "ordering=+created_at+,+-uuid%09", []kycreview.OrderTerm{asc("created_at"), desc("uuid")}},
		// str.strip() strips everything str.isspace() accepts, including
		// the information separators and U+3000.
		{"python whitespace stripped", "ordering=%1Ccreated_at%E3%80%80", []kycreview.OrderTerm{asc("created_at")}},
		{"unknown dropped", "ordering=bogus,-comment,nope", []kycreview.OrderTerm{desc("comment")}},
		{"all unknown", "ordering=bogus", def},
		{"double minus", "ordering=--created_at", def},
		{"plus sign is not a prefix", "ordering=%2Bcreated_at", def},
		{"space after minus", "ordering=-+created_at", def},
		{"case-sensitive", "ordering=Created_at", def},
		{"lone minus", "ordering=-", def},
		{"only commas", "ordering=,,,", def},
		{"empty terms skipped", "ordering=,created_at,", []kycreview.OrderTerm{asc("created_at")}},
		// A field named again cannot change the order; dropping it bounds the
		// ORDER BY whatever the query string.
		{"repeated fields dropped", "ordering=created_at,-created_at,comment,created_at,-comment",
			[]kycreview.OrderTerm{asc("created_at"), asc("comment")}},
		{"thousands of terms", "ordering=" + strings.Repeat("uuid,-comment,", 3000),
			[]kycreview.OrderTerm{asc("uuid"), desc("comment")}},
		{"related lookups refused", "ordering=session__status", def},
		{"last value wins", "ordering=uuid&ordering=-comment", []kycreview.OrderTerm{desc("comment")}},
		{"last value wins even if empty", "ordering=uuid&ordering=", def},
		{"every orderable field",
			"ordering=uuid,activity_type,actor_display,actor_email,actor_type,new_status,previous_status,comment,created_at",
			[]kycreview.OrderTerm{asc("uuid"), asc("activity_type"), asc("actor_display"), asc("actor_email"),
				asc("actor_type"), asc("new_status"), asc("previous_status"), asc("comment"), asc("created_at")}},
		{"not orderable: mentioned_emails", "ordering=mentioned_emails", def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseOrdering(parseQuery(tt.query), kycreview.FeedOrderFields(), def)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseOrdering(%q) = %+v, want %+v", tt.query, got, tt.want)
			}
		})
	}
}

// TestPageLinks runs the whole query path (parseQuery, parsePage, pageLinks)
// against DRF's LimitOffsetPagination.get_next_link/get_previous_link with
// replace_query_param/remove_query_param, evaluated in Python 3.11 for the
// same request URL.
func TestPageLinks(t *testing.T) {
	const base = "http://testserver/v3/sessions/1/reviews/"
	tests := []struct {
		name       string
		query      string
		count      int
		next, prev string // "" is null; otherwise the text after base
	}{
		{"spec example", "ordering=created_at&limit=2", 5, "?limit=2&offset=2&ordering=created_at", ""},
		{"middle page: previous drops offset", "limit=2&offset=2", 5, "?limit=2&offset=4", "?limit=2"},
		{"last page", "limit=2&offset=4", 5, "", "?limit=2&offset=2"},
		{"offset past the end", "offset=10&limit=2", 5, "", "?limit=2&offset=8"},
		{"offset below limit: previous drops offset", "offset=1&limit=2", 5, "?limit=2&offset=3", "?limit=2"},
		{"no query, more than one page", "", 120, "?limit=50&offset=50", ""},
		{"no rows", "", 0, "", ""},
		{"exactly one full page", "", 50, "", ""},
		{"default limit, second page", "offset=50", 120, "?limit=50&offset=100", "?limit=50"},
		{"default limit, last page", "offset=100", 120, "", "?limit=50&offset=50"},
		{"other params kept and sorted", "z=1&a=b+c&limit=2", 5, "?a=b+c&limit=2&offset=2&z=1", ""},
		{"raw space re-encoded as plus", "z=1&a=b c&limit=2", 5, "?a=b+c&limit=2&offset=2&z=1", ""},
		{"repeated params keep their values in order", "tag=b&tag=a&limit=1", 3, "?limit=1&offset=1&tag=b&tag=a", ""},
		{"repeated params around limit and offset", "tag=b&limit=1&tag=a&offset=1", 3,
			"?limit=1&offset=2&tag=b&tag=a", "?limit=1&tag=b&tag=a"},
		{"unparseable limit replaced by effective", "limit=abc", 120, "?limit=50&offset=50", ""},
		{"clamped limit", "limit=5000&offset=1", 3000, "?limit=1000&offset=1001", "?limit=1000"},
		{"repeated limit collapsed to one", "limit=2&limit=3", 10, "?limit=3&offset=3", ""},
		{"comma encoded", "ordering=-created_at,uuid&limit=1", 3, "?limit=1&offset=1&ordering=-created_at%2Cuuid", ""},
		{"blank values kept", "x=&y&limit=1", 3, "?limit=1&offset=1&x=&y=", ""},
		{"repeated offset collapsed to one", "offset=1&offset=3&limit=1", 5, "?limit=1&offset=4", "?limit=1&offset=2"},
		{"non-ASCII value", "q=caf%C3%A9&limit=1", 2, "?limit=1&offset=1&q=caf%C3%A9", ""},
		{"encoded ampersand in key", "a%26b=1&limit=1", 2, "?a%26b=1&limit=1&offset=1", ""},
		{"plus, tilde, slash", "q=a%2Bb&r=a~b&s=a/b&limit=1", 2, "?limit=1&offset=1&q=a%2Bb&r=a~b&s=a%2Fb", ""},
		{"invalid limit and offset", "limit=0&offset=-5", 120, "?limit=50&offset=50", ""},
		{"whitespace around numbers", "limit=+3&offset=%203%20", 10, "?limit=3&offset=6", "?limit=3"},
		{"empty offset", "offset=", 120, "?limit=50&offset=50", ""},
		{"empty pieces dropped", "limit=1&&offset=1&", 3, "?limit=1&offset=2", "?limit=1"},
		// Each invalid byte is its own U+FFFD in Python's "replace" decoding.
		{"invalid UTF-8 replaced per byte", "q=%e9%e9&limit=1", 3, "?limit=1&offset=1&q=%EF%BF%BD%EF%BF%BD", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := parseQuery(tt.query)
			next, prev := pageLinks(base, params, parsePage(params), tt.count)
			check := func(which string, got *string, want string) {
				t.Helper()
				switch {
				case want == "" && got != nil:
					t.Errorf("%s(%q, count %d) = %q, want null", which, tt.query, tt.count, *got)
				case want != "" && got == nil:
					t.Errorf("%s(%q, count %d) = null, want %q", which, tt.query, tt.count, base+want)
				case want != "" && *got != base+want:
					t.Errorf("%s(%q, count %d) = %q, want %q", which, tt.query, tt.count, *got, base+want)
				}
			}
			check("next", next, tt.next)
			check("previous", prev, tt.prev)
		})
	}
}

// TestPageLinksDoNotShareState checks that building next does not change
// the request's parameters that previous is built from.
func TestPageLinksDoNotShareState(t *testing.T) {
	params := make([]queryParam, 0, 8) // spare capacity would expose aliasing
	params = append(params, queryParam{"offset", "4"}, queryParam{"limit", "2"}, queryParam{"a", "1"})
	before := append([]queryParam(nil), params...)
	next, prev := pageLinks("http://h/x/", params, page{limit: 2, offset: 4}, 10)
	if next == nil || *next != "http://h/x/?a=1&limit=2&offset=6" {
		t.Errorf("next = %v", deref(next))
	}
	if prev == nil || *prev != "http://h/x/?a=1&limit=2&offset=2" {
		t.Errorf("previous = %v", deref(prev))
	}
	if !reflect.DeepEqual(params, before) {
		t.Errorf("pageLinks changed its params: %q, was %q", params, before)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
