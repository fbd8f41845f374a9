package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestValidIdempotencyKey(t *testing.T) {
	for _, c := range []struct {
		key  string
		want bool
	}{
		{"a", true},
		{strings.Repeat("k", 255), true},
		{" !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~", true},
		{"", false},
		{strings.Repeat("k", 256), false},
		{"tab\there", false},
		{"new\nline", false},
		{"del\x7f", false},
		{"nul\x00", false},
		{"clé", false},
	} {
		if got := validIdempotencyKey(c.key); got != c.want {
			t.Errorf("validIdempotencyKey(%q) = %v, want %v", c.key, got, c.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	fp := func(method, target, body string) string {
		return fingerprint(httptest.NewRequest(method, target, nil), []byte(body))
	}
	base := fp("POST", "/v3/session/", `{"a":1}`)
	if want := "POST /v3/session sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"; base != want {
		t.Errorf("fingerprint = %q, want %q", base, want)
	}
	// One resource, with or without its trailing slash; the query is not
	// part of a write.
	for _, same := range []string{fp("POST", "/v3/session", `{"a":1}`), fp("POST", "/v3/session/?x=1", `{"a":1}`)} {
		if same != base {
			t.Errorf("%q differs from %q", same, base)
		}
	}
	for _, other := range []string{
		fp("PATCH", "/v3/session/", `{"a":1}`),
		fp("POST", "/v3/sessions/", `{"a":1}`),
		fp("POST", "/v3/session/", `{"a": 1}`),
		fp("POST", "/v3/session/", ``),
		fp("POST", "/v3/session%20/", `{"a":1}`),
	} {
		if other == base {
			t.Errorf("%q equals the base fingerprint", other)
		}
	}
	if got := fp("POST", "/", ""); !strings.HasPrefix(got, "POST / sha256:") {
		t.Errorf("root path: %q", got)
	}
}
