package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
)

// TestForwardedHeaders: links follow X-Forwarded-Proto/Host only when the
// operator trusts the proxy, and a forged host cannot inject a path.
func TestForwardedHeaders(t *testing.T) {
	links := func(e *env, id string, headers ...string) string {
		t.Helper()
		res := e.do("GET", "/v3/sessions/"+id+"/reviews/?limit=1", "", append(headers, e.key())...)
		var body struct{ Next *string }
		if err := json.Unmarshal([]byte(res.body), &body); err != nil || body.Next == nil {
			t.Fatalf("feed: %d %s", res.status, res.body)
		}
		return *body.Next
	}
	setup := func(e *env) string {
		id := e.newSession(kycreview.KindUser)
		e.moveTo(id, kycreview.StatusInProgress)
		e.moveTo(id, kycreview.StatusInReview)
		return id
	}

	trusted := newEnv(t, withTrustedProxy())
	id := setup(trusted)
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"no headers", nil, trusted.url + "/v3/sessions/" + id + "/reviews/?limit=1&offset=1"},
		{"proto and host", []string{"X-Forwarded-Proto: https", "X-Forwarded-Host: kyc.example.com"}, "https://kyc.example.com/v3/sessions/" + id + "/reviews/?limit=1&offset=1"},
		{"first of a chain", []string{"X-Forwarded-Proto: HTTPS, http", "X-Forwarded-Host: a.example.com, b.example.com"}, "https://a.example.com/v3/sessions/"},
		{"bogus proto ignored", []string{"X-Forwarded-Proto: javascript"}, trusted.url + "/v3/sessions/"},
		{"host with a path ignored", []string{"X-Forwarded-Host: evil.example/x?"}, trusted.url + "/v3/sessions/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := links(trusted, id, tt.headers...); !strings.HasPrefix(got, tt.want) {
				t.Errorf("next = %q, want prefix %q", got, tt.want)
			}
		})
	}

	untrusted := newEnv(t)
	id = setup(untrusted)
	got := links(untrusted, id, "X-Forwarded-Proto: https", "X-Forwarded-Host: kyc.example.com")
	if !strings.HasPrefix(got, untrusted.url+"/") {
		t.Errorf("untrusted proxy headers were used: %q", got)
	}
}
