package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCeilingPage(t *testing.T) {
	for _, n := range []int{2, 10, 65, 66, 67, 2364, 9000} {
		page := ceilingPage(n)
		if len(page) != n || !json.Valid(page) {
			t.Errorf("ceilingPage(%d) = %d bytes, valid JSON %v", n, len(page), json.Valid(page))
		}
	}
}

// TestCeilingHandler serves the handler on a real loopback server.
func TestCeilingHandler(t *testing.T) {
	page := ceilingPage(3000)
	srv := httptest.NewServer(ceilingHandler(page))
	defer srv.Close()
	tests := []struct {
		method, body string
		status       int
		want         string
	}{
		{http.MethodGet, "", http.StatusOK, string(page)},
		{http.MethodPost, `{"new_status":"Approved"}`, http.StatusCreated, ceilingPostBody},
		{http.MethodDelete, "", http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, srv.URL+"/v3/sessions/x/reviews/?limit=20", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.status || string(body) != tt.want {
			t.Errorf("%s: %d %q, want %d %q", tt.method, resp.StatusCode, truncate(string(body), 60), tt.status, truncate(tt.want, 60))
		}
		if tt.want != "" && resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", tt.method, resp.Header.Get("Content-Type"))
		}
	}
}
