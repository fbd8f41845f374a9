package e2e

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// BenchmarkAuditChainReview measures what the audit chain costs a review:
// POST …/reviews/ throughput with rows chained (the service as it runs)
// and unchained (service.WithoutAuditChain, the write path before issue 8),
// over the whole stack, with concurrent clients on 200 sessions so the
// group commit (SQLite) or the pool (PostgreSQL) works as in production.
// Run the two alternately to cancel drift, e.g.
//
//	go test ./internal/e2e/ -run '^$' -bench AuditChainReview -benchtime 3s -count 6
//
// BENCHMARKS.md-style figures are quoted in docs/audit-chain.md.
func BenchmarkAuditChainReview(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []service.Option
	}{
		{"chained", nil},
		{"unchained", []service.Option{service.WithoutAuditChain()}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			e := newEnv(b, withServiceOptions(mode.opts...))
			ids := make([]string, 200)
			for i := range ids {
				ids[i] = e.newSession(kycreview.KindUser)
			}
			tr := &http.Transport{MaxIdleConnsPerHost: 256}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}
			var next atomic.Int64
			b.SetParallelism(4)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := ids[next.Add(1)%int64(len(ids))]
					req, _ := http.NewRequest("POST", e.url+"/v3/sessions/"+id+"/reviews/",
						strings.NewReader(`{"new_status":"Approved","comment":"Address matches. Document re-checked manually."}`))
					req.Header.Set("x-api-key", e.token)
					req.Header.Set("Content-Type", "application/json")
					res, err := hc.Do(req)
					if err != nil || res.StatusCode != 201 {
						b.Errorf("POST: %v %v", res, err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reviews/s")
		})
	}
}
