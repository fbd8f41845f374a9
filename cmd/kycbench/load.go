package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// requestTimeout bounds every request, so a stuck server cannot stall a run.
const requestTimeout = 10 * time.Second

// mixPostPercent is the share of POSTs in the mix workload.
const mixPostPercent = 10

// loadSpec is one closed-loop run: conns workers, each sending workload's
// requests to base one after another, for warmup and then duration.
type loadSpec struct {
	Base     string
	Key      string
	IDs      []string // sessions to pick from at random
	Workload string
	Conns    int
	Warmup   time.Duration
	Duration time.Duration
	// PID is the server's process, whose CPU and peak RSS are read; 0 if
	// unknown.
	PID int
	// DBPIDs, if set, lists the database server's processes that work for
	// the server (PostgreSQL's backends), whose CPU is read as well.
	DBPIDs func(context.Context) ([]int, error)
}

// loadResult is what one run measured. Only requests that started after the
// warmup and finished within the window count.
type loadResult struct {
	OK         int // 2xx answers
	Errors     int // other answers and transport errors
	FirstError string
	Latency    latencySummary // of the 2xx answers
	Window     time.Duration  // the measured window as it really was
	// ServerCPU is the server's CPU time over the window; HasServer is
	// false when there is no process to read (--target without --pid).
	HasServer bool
	ServerCPU time.Duration
	PeakRSS   int64 // the server's VmHWM at the end of the run
	ClientCPU time.Duration
	// DBCPU is the CPU time of the database's processes over the window;
	// HasDB is false when there are none (SQLite runs inside the server).
	HasDB bool
	DBCPU time.Duration
}

// reviewBodies are the POST bodies, one per review status.
var reviewBodies = [...]string{
	`{"new_status":"Approved","comment":"Documents re-checked by kycbench; all good."}`,
	`{"new_status":"Declined","comment":"Documents re-checked by kycbench; mismatch."}`,
	`{"new_status":"In Review","comment":"kycbench: needs another look."}`,
}

// runLoad runs spec and returns its measurements. Workers stop by
// themselves at the end of the window; a request in flight then finishes
// (within requestTimeout) uncounted.
func runLoad(ctx context.Context, spec loadSpec) (loadResult, error) {
	transport := &http.Transport{
		Proxy:               nil, // straight to 127.0.0.1, whatever HTTP_PROXY says
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        spec.Conns,
		MaxIdleConnsPerHost: spec.Conns,
		MaxConnsPerHost:     spec.Conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport:     transport,
		Timeout:       requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	start := time.Now()
	measureFrom := start.Add(spec.Warmup)
	measureTo := measureFrom.Add(spec.Duration)
	workers := make([]*worker, spec.Conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{
			spec:   &spec,
			client: client,
			rng:    rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i))),
			from:   measureFrom,
			to:     measureTo,
		}
		workers[i] = w
		wg.Go(func() { w.loop(ctx) })
	}

	// CPU is read at the edges of the window, not of the run, so the
	// warmup and the wait for the last requests are not charged.
	sleepUntil(ctx, measureFrom)
	before, errBefore := sampleCPU(ctx, &spec)
	sleepUntil(ctx, measureTo)
	after, errAfter := sampleCPU(ctx, &spec)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return loadResult{}, err
	}
	if err := errors.Join(errBefore, errAfter); err != nil {
		return loadResult{}, err
	}

	res := loadResult{
		Window:    after.at.Sub(before.at),
		ClientCPU: after.self - before.self,
		HasServer: spec.PID != 0,
		ServerCPU: after.server - before.server,
		HasDB:     spec.DBPIDs != nil,
	}
	for pid, cpu := range after.db {
		// A process that started in the window spent all its CPU in it.
		res.DBCPU += cpu - before.db[pid]
	}
	if spec.PID != 0 {
		rss, err := processPeakRSS(spec.PID)
		if err != nil {
			return loadResult{}, fmt.Errorf("read the server's peak RSS (pid %d): %w", spec.PID, err)
		}
		res.PeakRSS = rss
	}
	var lat []time.Duration
	for _, w := range workers {
		res.OK += len(w.lat)
		res.Errors += w.errors
		if res.FirstError == "" {
			res.FirstError = w.firstError
		}
		lat = append(lat, w.lat...)
	}
	res.Latency = summarize(lat)
	return res, nil
}

// cpuSample is the CPU time used so far by the processes a run watches.
type cpuSample struct {
	at     time.Time
	server time.Duration         // the server's; 0 without a PID
	self   time.Duration         // kycbench's, which is the load generator
	db     map[int]time.Duration // the database's processes', by pid
}

// sampleCPU reads the CPU time of the server, the database's processes and
// kycbench itself.
func sampleCPU(ctx context.Context, spec *loadSpec) (cpuSample, error) {
	var s cpuSample
	var err error
	if spec.DBPIDs != nil {
		if s.db, err = groupCPU(ctx, spec.DBPIDs); err != nil {
			return cpuSample{}, fmt.Errorf("read the database's CPU: %w", err)
		}
	}
	s.at = time.Now()
	if spec.PID != 0 {
		if s.server, err = processCPU(spec.PID); err != nil {
			return cpuSample{}, fmt.Errorf("read the server's CPU (pid %d): %w", spec.PID, err)
		}
	}
	if s.self, err = processCPU(os.Getpid()); err != nil {
		return cpuSample{}, fmt.Errorf("read kycbench's own CPU: %w", err)
	}
	return s, nil
}

// groupCPU returns the CPU time of each process pids lists. A process that
// exits meanwhile is left out: its time can no longer be read.
func groupCPU(ctx context.Context, pids func(context.Context) ([]int, error)) (map[int]time.Duration, error) {
	list, err := pids(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int]time.Duration, len(list))
	for _, pid := range list {
		if cpu, err := processCPU(pid); err == nil {
			out[pid] = cpu
		}
	}
	return out, nil
}

// worker is one closed-loop client: it sends a request, waits for the whole
// answer, and sends the next, on its own keep-alive connection.
type worker struct {
	spec       *loadSpec
	client     *http.Client
	rng        *rand.Rand
	from, to   time.Time
	lat        []time.Duration
	errors     int
	firstError string
}

func (w *worker) loop(ctx context.Context) {
	for ctx.Err() == nil {
		start := time.Now()
		if !start.Before(w.to) {
			return
		}
		err := w.request(ctx)
		end := time.Now()
		if start.Before(w.from) || end.After(w.to) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.errors++
			if w.firstError == "" {
				w.firstError = err.Error()
			}
			continue
		}
		w.lat = append(w.lat, end.Sub(start))
	}
}

// request sends one request of the workload and reads the whole answer.
func (w *worker) request(ctx context.Context) error {
	id := w.spec.IDs[w.rng.IntN(len(w.spec.IDs))]
	post := w.spec.Workload == workloadPost || (w.spec.Workload == workloadMix && w.rng.IntN(100) < mixPostPercent)
	var req *http.Request
	var err error
	if post {
		body := reviewBodies[w.rng.IntN(len(reviewBodies))]
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, w.spec.Base+"/v3/sessions/"+id+"/reviews/", strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, w.spec.Base+"/v3/sessions/"+id+"/reviews/?limit=20", nil)
	}
	if err != nil {
		return err
	}
	req.Header.Set("x-api-key", w.spec.Key)
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
		return fmt.Errorf("%s %s: %s %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(snippet))
	}
	// Read to the end: the latency is of the whole answer, and only a body
	// read to EOF lets the connection be reused.
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// sleepUntil sleeps until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// fetchPage GETs one feed page of session id and returns its body, which
// must be a 2xx answer.
func fetchPage(ctx context.Context, base, key, id string) ([]byte, error) {
	return getJSON(ctx, base+"/v3/sessions/"+id+"/reviews/?limit=20", key)
}

// getJSON GETs url with the API key and returns the body of a 2xx answer.
func getJSON(ctx context.Context, url, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("x-api-key", key)
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, errors.New("GET " + req.URL.Path + ": " + resp.Status + " " + truncate(string(body), 200))
	}
	return body, nil
}
