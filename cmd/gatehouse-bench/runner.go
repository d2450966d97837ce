package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// result is one scenario's figures. Latencies are in milliseconds.
type result struct {
	Scenario     string   `json:"scenario"`
	Concurrency  int      `json:"concurrency"`
	Seconds      float64  `json:"seconds"`
	Requests     int64    `json:"requests"`
	Errors       int64    `json:"errors"`
	RPS          float64  `json:"req_per_sec"`
	P50          float64  `json:"p50_ms"`
	P90          float64  `json:"p90_ms"`
	P99          float64  `json:"p99_ms"`
	Max          float64  `json:"max_ms"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	// Load is the generator that measured it: go or wrk.
	Load string `json:"load,omitempty"`
	// gateway-stream only.
	Streams             int     `json:"streams,omitempty"`
	RSSBytesPerStream   float64 `json:"server_rss_bytes_per_stream,omitempty"`
	HeapBytesPerStream  float64 `json:"server_heap_stack_bytes_per_stream,omitempty"`
	GoroutinesPerStream float64 `json:"server_goroutines_per_stream,omitempty"`
	Note                string  `json:"note,omitempty"`
}

// iteration is one measured unit of a scenario (a request, or a whole
// authorization-code flow). An error counts against the scenario.
type iteration func(ctx context.Context) error

// recorder collects latencies and errors from the workers of one scenario.
type recorder struct {
	name     string
	count    atomic.Int64
	errs     atomic.Int64
	mu       sync.Mutex
	lat      []time.Duration
	samples  []string
	progress io.Writer
}

func (r *recorder) failed(err error) {
	r.errs.Add(1)
	r.mu.Lock()
	if len(r.samples) < 5 {
		r.samples = append(r.samples, err.Error())
	}
	r.mu.Unlock()
}

func (r *recorder) merge(lat []time.Duration) {
	r.mu.Lock()
	r.lat = append(r.lat, lat...)
	r.mu.Unlock()
}

// startTicker prints a progress line every second; the returned func stops
// it and waits until its last write is done (the next scenario's ticker
// writes to the same output).
func (r *recorder) startTicker(total time.Duration, extra func() string) (stop func()) {
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); r.ticker(ch, total, extra) }()
	return func() { close(ch); <-done }
}

// ticker prints a progress line every second until stop is closed.
func (r *recorder) ticker(stop <-chan struct{}, total time.Duration, extra func() string) {
	start := time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-stop:
			fmt.Fprintf(r.progress, "\r\033[K")
			return
		case <-t.C:
			n := r.count.Load()
			line := fmt.Sprintf("\r\033[K%-26s %5.1fs/%s  %8d done  %8.0f/s  %d errors", r.name, time.Since(start).Seconds(), total, n, float64(n-last), r.errs.Load())
			if extra != nil {
				line += "  " + extra()
			}
			fmt.Fprint(r.progress, line)
			last = n
		}
	}
}

// measure runs iters on their workers into rec: a warm-up, then duration
// measured; it returns the measured time. Workers stop starting iterations
// at the deadline; iterations in flight then complete (and count).
func measure(ctx context.Context, rec *recorder, warmup, duration time.Duration, iters []iteration) time.Duration {
	if warmup > 0 {
		loop(ctx, iters, warmup, nil)
	}
	stop := rec.startTicker(duration, nil)
	start := time.Now()
	loop(ctx, iters, duration, rec)
	elapsed := time.Since(start)
	stop()
	return elapsed
}

func loop(ctx context.Context, iters []iteration, d time.Duration, rec *recorder) {
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, it := range iters {
		wg.Add(1)
		go func(it iteration) {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				err := it(ctx)
				if rec == nil {
					continue
				}
				lat = append(lat, time.Since(t0))
				rec.count.Add(1)
				if err != nil {
					rec.failed(err)
				}
			}
			if rec != nil {
				rec.merge(lat)
			}
		}(it)
	}
	wg.Wait()
}

func summarize(name string, conc int, elapsed time.Duration, rec *recorder) *result {
	r := &result{Scenario: name, Concurrency: conc, Seconds: elapsed.Seconds(), Requests: rec.count.Load(), Errors: rec.errs.Load(), ErrorSamples: rec.samples, Load: "go"}
	if elapsed > 0 {
		r.RPS = float64(r.Requests) / elapsed.Seconds()
	}
	r.P50, r.P90, r.P99, r.Max = percentiles(rec.lat)
	return r
}

func percentiles(lat []time.Duration) (p50, p90, p99, max float64) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(q float64) float64 {
		i := int(q*float64(len(lat))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return ms(lat[i])
	}
	return at(0.50), at(0.90), at(0.99), ms(lat[len(lat)-1])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
