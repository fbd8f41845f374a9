package main

import (
	"fmt"
	"io"
	"time"
)

// webhookRun is what the webhook benchmark measured on one backend.
type webhookRun struct {
	ServerFlagsQueue string            `json:"server_flags_queue"` // serve's extra flags while the backlog is queued
	ServerFlags      string            `json:"server_flags"`       // serve's extra flags while it dispatches
	Throughput       webhookThroughput `json:"throughput"`
	Latency          webhookLatency    `json:"latency"`
	FirstMalformed   string            `json:"first_malformed_delivery,omitempty"`
}

// webhookThroughput is the backlog phase: reviews queued with dispatch
// off, then delivered by a server started on them.
type webhookThroughput struct {
	Events                int     `json:"events"` // reviews answered 201, so events owed to the receiver
	ReviewsPerSession     int     `json:"reviews_per_session"`
	QueueConns            int     `json:"queue_conns"`
	QueueSeconds          float64 `json:"queue_seconds"`
	QueueReviewsPerSecond float64 `json:"queue_reviews_per_second"`
	QueueErrors           int     `json:"queue_errors"`
	QueueFirstError       string  `json:"queue_first_error,omitempty"`
	// ReceivedWhileOff counts deliveries that arrived while the server ran
	// with --webhook-dispatch=false: it must be 0.
	ReceivedWhileOff int `json:"received_while_dispatch_off"`
	// Times from the moment the dispatching server's process was started.
	StartupSeconds       float64 `json:"startup_seconds"` // until it answered its health check
	FirstDeliverySeconds float64 `json:"first_delivery_seconds"`
	DrainSeconds         float64 `json:"drain_seconds"` // until the last new event arrived
	// DeliveriesPerSecond is Delivered ÷ DrainSeconds: the headline.
	// DeliveriesPerSecondFromFirst leaves out the startup: from the first
	// receipt to the last.
	DeliveriesPerSecond          float64  `json:"deliveries_per_second"`
	DeliveriesPerSecondFromFirst float64  `json:"deliveries_per_second_from_first"`
	Delivered                    int      `json:"delivered"`  // distinct event_ids received
	Requests                     int      `json:"requests"`   // deliveries received, copies included
	Duplicates                   int      `json:"duplicates"` // copies beyond the first
	Missing                      int      `json:"missing"`
	OutOfOrder                   int      `json:"out_of_order"`
	Unexpected                   int      `json:"unexpected"`
	Malformed                    int      `json:"malformed"`
	TimedOut                     bool     `json:"timed_out"`
	CPU                          phaseCPU `json:"cpu"` // from the health check to the last event
}

// webhookLatency is the steady-rate phase.
type webhookLatency struct {
	RatePerSecond   float64 `json:"rate_per_second"` // asked
	WarmupSeconds   float64 `json:"warmup_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
	Reviews         int     `json:"reviews"` // counted reviews answered 201
	AchievedRate    float64 `json:"achieved_reviews_per_second"`
	Errors          int     `json:"errors"`
	FirstError      string  `json:"first_error,omitempty"`
	// MaxLatenessMs is how far behind its schedule the load generator sent
	// a review: large values mean the rate was not really held.
	MaxLatenessMs float64 `json:"max_lateness_ms"`
	PostP50Ms     float64 `json:"post_p50_ms"`
	PostP99Ms     float64 `json:"post_p99_ms"`
	Matched       int     `json:"matched"`
	Missing       int     `json:"missing"` // events of the phase not received within the settle time
	Duplicates    int     `json:"duplicates"`
	OutOfOrder    int     `json:"out_of_order"`
	Unexpected    int     `json:"unexpected"`
	Malformed     int     `json:"malformed"`
	// CommitToReceipt is receipt − arrival of the review's 201, signed:
	// the commit happened a little before the 201, and a delivery can beat
	// the 201 to the client. SendToReceipt is receipt − sending of the
	// review, an upper bound.
	CommitToReceipt latencyMs `json:"commit_to_receipt"`
	SendToReceipt   latencyMs `json:"send_to_receipt"`
	Negative        int       `json:"negative_commit_to_receipt"`
	CPU             phaseCPU  `json:"cpu"` // over the measured window
}

// latencyMs is a distribution in milliseconds.
type latencyMs struct {
	Count  int     `json:"count"`
	MinMs  float64 `json:"min_ms"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

func newLatencyMs(lat []time.Duration) latencyMs {
	s := summarize(lat) // sorts lat
	if s.Count == 0 {
		return latencyMs{}
	}
	return latencyMs{Count: s.Count, MinMs: ms(lat[0]), MeanMs: ms(s.Mean), P50Ms: ms(s.P50), P90Ms: ms(s.P90), P99Ms: ms(s.P99), MaxMs: ms(s.Max)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// phaseCPU is the CPU of the processes involved over one phase, each as a
// percentage of one core.
type phaseCPU struct {
	ServerPercent   float64  `json:"server_percent"`
	ServerSecondsPk float64  `json:"server_cpu_seconds_per_1000_events"`
	PeakRSSBytes    int64    `json:"server_peak_rss_bytes"`
	DatabasePercent *float64 `json:"database_percent"` // PostgreSQL's processes; null on SQLite
	// KycbenchPercent is this process: the receiver, and in the latency
	// phase the load generator too.
	KycbenchPercent float64 `json:"kycbench_percent"`
}

func newPhaseCPU(pid int, before, after cpuSample, events int) phaseCPU {
	window := after.at.Sub(before.at).Seconds()
	if window <= 0 {
		return phaseCPU{}
	}
	c := phaseCPU{
		ServerPercent:   100 * (after.server - before.server).Seconds() / window,
		KycbenchPercent: 100 * (after.self - before.self).Seconds() / window,
	}
	if events > 0 {
		c.ServerSecondsPk = (after.server - before.server).Seconds() / (float64(events) / 1000)
	}
	if rss, err := processPeakRSS(pid); err == nil {
		c.PeakRSSBytes = rss
	}
	if after.db != nil {
		var db time.Duration
		for pid, cpu := range after.db {
			db += cpu - before.db[pid]
		}
		pct := 100 * db.Seconds() / window
		c.DatabasePercent = &pct
	}
	return c
}

// fillLatency puts the open-loop phase's figures into lat.
func fillLatency(lat *webhookLatency, ol openLoopResult, m matchResult, st phaseStats, pid int) {
	answered := len(ol.postLat)
	lat.Reviews = answered
	if ol.window > 0 {
		lat.AchievedRate = float64(answered) / ol.window.Seconds()
	}
	lat.Errors, lat.FirstError = ol.errors, ol.firstErr
	lat.MaxLatenessMs = ms(ol.lateness)
	post := newLatencyMs(ol.postLat)
	lat.PostP50Ms, lat.PostP99Ms = post.P50Ms, post.P99Ms
	lat.Matched, lat.Missing, lat.OutOfOrder, lat.Unexpected = m.Matched, m.Missing, m.Mismatched, m.Unexpected
	lat.Duplicates, lat.Malformed = st.Duplicates, st.Bad
	for _, d := range m.AfterAnswer {
		if d < 0 {
			lat.Negative++
		}
	}
	lat.CommitToReceipt = newLatencyMs(m.AfterAnswer)
	lat.SendToReceipt = newLatencyMs(m.AfterSend)
	lat.CPU = newPhaseCPU(pid, ol.before, ol.after, answered)
}

// The webhook targets (issue 5, acceptance 8).
const (
	webhookMinDeliveriesPerSecond = 2000
	webhookTargetRate             = 100
	webhookMaxP99                 = time.Second
)

// webhookTargets checks b's webhook figures against the aims.
func webhookTargets(b backendRun, status func(bool) string) []targetCheck {
	w := b.Webhooks
	if w == nil {
		return nil
	}
	tp, lat := w.Throughput, w.Latency
	measured := fmt.Sprintf("%.0f deliveries/s (%d of %d events in %.2fs from server start)", tp.DeliveriesPerSecond, tp.Delivered, tp.Events, tp.DrainSeconds)
	out := []targetCheck{{b.Backend, fmt.Sprintf("webhook backlog delivered at ≥ %d deliveries/s (issue 5)", webhookMinDeliveriesPerSecond),
		measured, status(tp.Missing == 0 && tp.DeliveriesPerSecond >= webhookMinDeliveriesPerSecond)}}
	target := fmt.Sprintf("webhook commit-to-receipt p99 < %s at a steady %d reviews/s (issue 5)", webhookMaxP99, webhookTargetRate)
	measured = fmt.Sprintf("p99 %s ms, p50 %s ms at %.1f reviews/s; %d missing", fmtMs(lat.CommitToReceipt.P99Ms), fmtMs(lat.CommitToReceipt.P50Ms), lat.AchievedRate, lat.Missing)
	if lat.RatePerSecond != webhookTargetRate {
		out = append(out, targetCheck{b.Backend, target, measured + fmt.Sprintf(" (asked %g reviews/s, not %d)", lat.RatePerSecond, webhookTargetRate), "n/a"})
	} else {
		out = append(out, targetCheck{b.Backend, target, measured,
			status(lat.Missing == 0 && lat.CommitToReceipt.Count > 0 && lat.CommitToReceipt.P99Ms < ms(webhookMaxP99))})
	}
	return out
}

// writeWebhookMarkdown prints the webhook benchmark's tables, if it ran.
func writeWebhookMarkdown(w io.Writer, rep report) {
	var runs []backendRun
	for _, b := range rep.Backends {
		if b.Webhooks != nil {
			runs = append(runs, b)
		}
	}
	if len(runs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n## Webhook delivery (issue 5)\n\n")
	fmt.Fprintf(w, "One destination, subscribed to status.updated, at a plain net/http receiver in kycbench on 127.0.0.1 that answers 204 at once.\n")
	for _, b := range runs {
		fmt.Fprintf(w, "- %s: queued with `serve %s`, delivered with `serve %s`\n", b.Backend, b.Webhooks.ServerFlagsQueue, b.Webhooks.ServerFlags)
		if b.Webhooks.FirstMalformed != "" {
			fmt.Fprintf(w, "- %s: first malformed delivery: %s\n", b.Backend, b.Webhooks.FirstMalformed)
		}
	}
	fmt.Fprintf(w, "\n**Backlog.** Reviews queued with the dispatcher off, then a dispatching server started on them. deliveries/s = events ÷ time from the process's start to the last new event; \"from first\" leaves the startup out.\n\n")
	fmt.Fprintln(w, "| backend | events | reviews/session | queued/s (dispatch off) | deliveries/s | from first | first delivery s | drain s | duplicates | missing | out of order | server CPU % | CPU-s / 1k events | peak RSS MB | PostgreSQL CPU % | kycbench CPU % |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, b := range runs {
		t := b.Webhooks.Throughput
		timedOut := ""
		if t.TimedOut {
			timedOut = " (timed out)"
		}
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %.0f%s | %.0f | %.3f | %.2f | %d | %d | %d | %.0f | %.3f | %.1f | %s | %.0f |\n",
			b.Backend, t.Events, t.ReviewsPerSession, t.QueueReviewsPerSecond, t.DeliveriesPerSecond, timedOut, t.DeliveriesPerSecondFromFirst,
			t.FirstDeliverySeconds, t.DrainSeconds, t.Duplicates, t.Missing, t.OutOfOrder,
			t.CPU.ServerPercent, t.CPU.ServerSecondsPk, float64(t.CPU.PeakRSSBytes)/1e6, fmtPtr(t.CPU.DatabasePercent, 0), t.CPU.KycbenchPercent)
	}
	fmt.Fprintf(w, "\n**Steady rate.** Reviews sent open loop on a fixed schedule, each to a different session. commit-to-receipt = receipt − arrival of the review's 201 at the client. The commit happens just before the 201 is written, so this slightly underestimates, and a delivery that beats the 201 to the client counts negative (shown as is, not clamped); send→receipt (receipt − the review's sending) is an upper bound.\n\n")
	fmt.Fprintln(w, "| backend | reviews/s | achieved | reviews | p50 ms | p90 ms | p99 ms | max ms | min ms | negative | send→receipt p99 ms | POST p99 ms | missing | duplicates | out of order | errors | server CPU % | PostgreSQL CPU % | kycbench CPU % |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, b := range runs {
		l := b.Webhooks.Latency
		c := l.CommitToReceipt
		fmt.Fprintf(w, "| %s | %g | %.1f | %d | %s | %s | %s | %s | %s | %d | %s | %s | %d | %d | %d | %d | %.0f | %s | %.0f |\n",
			b.Backend, l.RatePerSecond, l.AchievedRate, l.Reviews, fmtMs(c.P50Ms), fmtMs(c.P90Ms), fmtMs(c.P99Ms), fmtMs(c.MaxMs), fmtMs(c.MinMs),
			l.Negative, fmtMs(l.SendToReceipt.P99Ms), fmtMs(l.PostP99Ms), l.Missing, l.Duplicates, l.OutOfOrder, l.Errors,
			l.CPU.ServerPercent, fmtPtr(l.CPU.DatabasePercent, 0), l.CPU.KycbenchPercent)
	}
	for _, b := range runs {
		t, l := b.Webhooks.Throughput, b.Webhooks.Latency
		if t.ReceivedWhileOff > 0 {
			fmt.Fprintf(w, "- %s: %d deliveries arrived while the server ran with --webhook-dispatch=false\n", b.Backend, t.ReceivedWhileOff)
		}
		if t.QueueErrors > 0 {
			fmt.Fprintf(w, "- %s: %d reviews failed while queueing; first: %s\n", b.Backend, t.QueueErrors, t.QueueFirstError)
		}
		if l.Errors > 0 {
			fmt.Fprintf(w, "- %s: %d reviews failed at the steady rate; first: %s\n", b.Backend, l.Errors, l.FirstError)
		}
		if l.MaxLatenessMs > 50 {
			fmt.Fprintf(w, "- %s: the load generator sent a review up to %s ms behind its schedule\n", b.Backend, fmtMs(l.MaxLatenessMs))
		}
		if t.Unexpected+l.Unexpected+t.Malformed+l.Malformed > 0 {
			fmt.Fprintf(w, "- %s: %d unexpected events, %d malformed deliveries\n", b.Backend, t.Unexpected+l.Unexpected, t.Malformed+l.Malformed)
		}
	}
}
