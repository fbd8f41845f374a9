package client

import (
	"strings"
	"testing"
)

func TestSessionPath(t *testing.T) {
	tests := []struct {
		id      string
		want    string
		wantErr bool
	}{
		{id: "8c2f3a14-7e9b-4d23-9e83-3f7d5e8a1c6d", want: "/v3/session/8c2f3a14-7e9b-4d23-9e83-3f7d5e8a1c6d/decision/"},
		{id: "a/b?c#d", want: "/v3/session/a%2Fb%3Fc%23d/decision/"},
		{id: "not a uuid", want: "/v3/session/not%20a%20uuid/decision/"},
		{id: "", wantErr: true},
		{id: ".", wantErr: true},
		{id: "..", wantErr: true},
	}
	for _, tt := range tests {
		got, err := sessionPath("/v3/session/", tt.id, "/decision/")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("sessionPath(%q) = %q, %v; want %q, error %v", tt.id, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestResolve(t *testing.T) {
	c := New("http://127.0.0.1:8080/", "k")
	tests := []struct {
		link    string
		want    string
		wantErr bool
	}{
		{link: "http://127.0.0.1:8080/v3/sessions/x/reviews/?limit=2&offset=2", want: "http://127.0.0.1:8080/v3/sessions/x/reviews/?limit=2&offset=2"},
		// The key is never sent to another origin, whatever the server says.
		{link: "http://kyc.example.com/v3/sessions/x/reviews/?limit=2&offset=2", wantErr: true},
		{link: "https://127.0.0.1:8080/v3/sessions/x/reviews/", wantErr: true},
		{link: "http://127.0.0.1:8081/v3/sessions/x/reviews/", wantErr: true},
		{link: "http://127.0.0.1:8080/v3/x", want: "http://127.0.0.1:8080/v3/x"},
		{link: "/v3/sessions/?limit=2&offset=2&status=Approved%2CDeclined", want: "http://127.0.0.1:8080/v3/sessions/?limit=2&offset=2&status=Approved%2CDeclined"},
		{link: "ftp://example.com/x", wantErr: true},
		{link: "http://[::1", wantErr: true},
	}
	for _, tt := range tests {
		got, err := c.resolve(tt.link)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("resolve(%q) = %q, %v; want %q, error %v", tt.link, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		body    string
		wantErr bool
	}{
		{body: `{"status":"ok"}`},
		{body: "{\"status\":\"ok\"}\n"},
		{body: `{"status":"ok"}{"status":"again"}`, wantErr: true},
		{body: `{"status":"ok"} x`, wantErr: true},
		{body: `{"status":`, wantErr: true},
	}
	for _, tt := range tests {
		var h Health
		err := decodeJSON(strings.NewReader(tt.body), &h)
		if (err != nil) != tt.wantErr {
			t.Errorf("decodeJSON(%q) error = %v, want error %v", tt.body, err, tt.wantErr)
		}
	}
}

func TestResolveDefaultPort(t *testing.T) {
	c := New("https://kyc.example.com", "k")
	if got, err := c.resolve("https://kyc.example.com:443/v3/x"); err != nil || got != "https://kyc.example.com:443/v3/x" {
		t.Errorf("explicit default port: %q, %v", got, err)
	}
	if _, err := c.resolve("https://kyc.example.com:8443/v3/x"); err == nil {
		t.Error("another port was accepted")
	}
}
