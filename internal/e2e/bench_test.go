package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/client"
)

// These benchmarks drive the whole stack in one process (HTTP server,
// service, database) for profiling with -cpuprofile/-memprofile; the
// throughput figures that count come from cmd/kycbench, which runs the
// server as its own process against a reference ceiling.
//
//	go test ./internal/e2e/ -run '^$' -bench API -cpuprofile cpu.out

func benchEnv(b *testing.B, sessions, rows int) (*env, []string) {
	b.Helper()
	e := newEnv(b)
	ctx := context.Background()
	ids := make([]string, sessions)
	for i := range ids {
		ids[i] = e.newSession(kycreview.KindUser)
		for j := 0; j < rows; j++ {
			c := fmt.Sprintf("Document re-checked manually; address matches. (%d)", j)
			if _, err := e.client.CreateReview(ctx, ids[i], client.ReviewRequest{NewStatus: "In Review", Comment: &c}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return e, ids
}

func BenchmarkAPIFeedPage(b *testing.B) {
	e, ids := benchEnv(b, 50, 20)
	hc := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req, _ := http.NewRequest("GET", e.url+"/v3/sessions/"+ids[i%len(ids)]+"/reviews/?limit=20", nil)
		req.Header.Set("x-api-key", e.token)
		res, err := hc.Do(req)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("GET: %v %v", res, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}

func BenchmarkAPIReview(b *testing.B) {
	e, ids := benchEnv(b, 50, 0)
	hc := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req, _ := http.NewRequest("POST", e.url+"/v3/sessions/"+ids[i%len(ids)]+"/reviews/",
			strings.NewReader(`{"new_status":"Approved","comment":"Address matches."}`))
		req.Header.Set("x-api-key", e.token)
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil || res.StatusCode != 201 {
			b.Fatalf("POST: %v %v", res, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}
