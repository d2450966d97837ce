package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// memSample is the server's memory at one moment.
type memSample struct {
	rss, heapStack, goroutines float64
	ok, detail                 bool // detail: heap and goroutines known (from /metrics)
}

// serverMem reads the server's memory from its /metrics (Prometheus process
// and Go collectors) or, failing that, from /proc/PID/status.
func (b *bench) serverMem(ctx context.Context) memSample {
	if u := b.metricsURL(); u != "" {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, body, err := b.do(b.hc, req)
		if err == nil && resp.StatusCode == http.StatusOK {
			m := memSample{}
			var heap, stack float64
			for _, l := range strings.Split(string(body), "\n") {
				name, val, ok := strings.Cut(l, " ")
				if !ok {
					continue
				}
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil {
					continue
				}
				switch name {
				case "process_resident_memory_bytes":
					m.rss, m.ok = f, true
				case "go_memstats_heap_inuse_bytes":
					heap = f
				case "go_memstats_stack_inuse_bytes":
					stack = f
				case "go_goroutines":
					m.goroutines, m.detail = f, true
				}
			}
			m.heapStack = heap + stack
			return m
		}
	}
	if b.cfg.ServerPID > 0 {
		if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.cfg.ServerPID)); err == nil {
			for _, l := range strings.Split(string(raw), "\n") {
				if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
					f := strings.Fields(v)
					if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
						return memSample{rss: kb * 1024, ok: true}
					}
				}
			}
		}
	}
	return memSample{}
}

// metricsURL is --metrics-url, else the server's /metrics on the URL under
// load (where servers without a separate operations listener serve it).
func (b *bench) metricsURL() string {
	if b.cfg.MetricsURL != "" {
		return b.cfg.MetricsURL
	}
	if b.cfg.ServerPID > 0 {
		return ""
	}
	return b.cfg.URL + "/metrics"
}

// runStreams holds --streams SSE streams open through the gateway (GET on
// the connector URL, as clients keep the standalone stream) and reports the
// server memory and goroutines each costs. Latencies are the time to the
// stream's first byte.
func (b *bench) runStreams(ctx context.Context) *result {
	name, n := "gateway-stream", b.cfg.Streams
	if len(b.sessions) == 0 {
		return &result{Scenario: name, Errors: 1, ErrorSamples: []string{"no sessions were provisioned"}}
	}
	// No client timeout: the streams live as long as the scenario.
	tr := b.tr.Clone()
	defer tr.CloseIdleConnections()
	var rt http.RoundTripper = tr
	if sp, ok := b.rt.(*spreadIPs); ok {
		rt = &spreadIPs{base: tr, host: sp.host}
	}
	hc := &http.Client{Transport: rt, CheckRedirect: noRedirects}

	before := b.serverMem(ctx)
	rec := &recorder{name: name, progress: b.progress}
	var open atomic.Int64
	stop := rec.startTicker(b.cfg.Duration, func() string { return fmt.Sprintf("%d/%d streams open", open.Load(), n) })

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu     sync.Mutex
		bodies []io.Closer
		lat    []time.Duration
		ended  atomic.Int64 // streams the server closed before the end
		wg     sync.WaitGroup
		readWG sync.WaitGroup
	)
	next := make(chan int)
	start := time.Now()
	for w := 0; w < b.cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				body, err := b.openStream(sctx, hc, b.sessions[i%len(b.sessions)].at)
				rec.count.Add(1)
				if err != nil {
					rec.failed(err)
					continue
				}
				d := time.Since(t0)
				open.Add(1)
				mu.Lock()
				bodies, lat = append(bodies, body), append(lat, d)
				mu.Unlock()
				readWG.Add(1)
				go func() {
					defer readWG.Done()
					_, _ = io.Copy(io.Discard, body)
					if sctx.Err() == nil {
						ended.Add(1)
					}
				}()
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	openTime := time.Since(start)

	// Let the server settle, then sample, then hold for the rest of the run.
	settle := 2 * time.Second
	sleep(ctx, settle)
	after := b.serverMem(ctx)
	if rest := b.cfg.Duration - settle; rest > 0 {
		sleep(ctx, rest)
	}
	cancel()
	mu.Lock()
	for _, c := range bodies {
		_ = c.Close()
	}
	mu.Unlock()
	readWG.Wait()
	stop()

	if e := ended.Load(); e > 0 {
		rec.errs.Add(e)
		rec.samples = append(rec.samples, fmt.Sprintf("%d streams were closed by the server before the end", e))
	}
	rec.lat = lat
	r := summarize(name, b.cfg.Concurrency, openTime, rec)
	opened := open.Load()
	r.Streams = int(opened)
	switch {
	case opened == 0:
	case before.ok && after.ok:
		r.RSSBytesPerStream = (after.rss - before.rss) / float64(opened)
		if before.detail && after.detail {
			r.HeapBytesPerStream = (after.heapStack - before.heapStack) / float64(opened)
			r.GoroutinesPerStream = (after.goroutines - before.goroutines) / float64(opened)
		}
	default:
		r.Note = "server memory unknown: pass --metrics-url or --server-pid"
	}
	return r
}

// openStream opens one SSE stream and waits for its first bytes.
func (b *bench) openStream(ctx context.Context, hc *http.Client, token string) (io.ReadCloser, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.mcpURL, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, statusErr(resp, body)
	}
	br := bufio.NewReaderSize(resp.Body, 64)
	if _, err := br.ReadString('\n'); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("stream closed before its first event: %w", err)
	}
	return resp.Body, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
