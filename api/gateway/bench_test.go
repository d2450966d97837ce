package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse/gatehouse/api/demo"
	"github.com/gatehouse/gatehouse/api/gateway"
)

// BenchmarkGatewayAddedLatency measures what the gateway adds to an MCP
// tools/call (token verification, cached grant liveness, tool policy,
// identity assertion signing, audit, proxying) against calling the same
// official-SDK upstream directly and through a bare httputil.ReverseProxy,
// interleaved in one run. It reports p50 and p99 of each path, the
// difference to direct, and bare-p50 / gateway-p50 (sequential calls, so
// the throughput ratio the gateway reaches against the bare proxy).
//
//	go test -run '^$' -bench GatewayAddedLatency -benchtime 5000x ./api/gateway/
func BenchmarkGatewayAddedLatency(b *testing.B) {
	e := newEnv(b, nil)
	s := demo.NewServer()
	us := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}))
	defer us.Close()
	upstreamURL, _ := url.Parse(us.URL)
	bare := httptest.NewServer(httputil.NewSingleHostReverseProxy(upstreamURL))
	defer bare.Close()
	tn := e.tenant("bench", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	call := func(url string, auth bool) time.Duration {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if auth {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != 200 || !strings.Contains(string(out), `"hi"`) {
			b.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		return d
	}
	// Warm connections, keys and caches.
	for i := 0; i < 50; i++ {
		call(us.URL+"/mcp", false)
		call(e.mcpURL(tn), true)
		call(bare.URL+"/mcp", false)
	}
	direct := make([]time.Duration, 0, b.N)
	via := make([]time.Duration, 0, b.N)
	proxied := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		direct = append(direct, call(us.URL+"/mcp", false))
		via = append(via, call(e.mcpURL(tn), true))
		proxied = append(proxied, call(bare.URL+"/mcp", false))
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		idx := int(p * float64(len(s)-1))
		return float64(s[idx].Microseconds())
	}
	b.ReportMetric(pct(direct, 0.50), "direct-p50-µs")
	b.ReportMetric(pct(direct, 0.99), "direct-p99-µs")
	b.ReportMetric(pct(via, 0.50), "gateway-p50-µs")
	b.ReportMetric(pct(via, 0.99), "gateway-p99-µs")
	b.ReportMetric(pct(proxied, 0.50), "bare-p50-µs")
	b.ReportMetric(pct(proxied, 0.50)/pct(via, 0.50), "bare/gateway-p50")
	b.ReportMetric(pct(via, 0.50)-pct(direct, 0.50), "added-p50-µs")
	b.ReportMetric(pct(via, 0.99)-pct(direct, 0.99), "added-p99-µs")
}

// BenchmarkGatewayIdleStreams measures what an idle SSE stream through the
// gateway costs the server: heap + goroutine stacks and goroutines per
// stream, with streamCount GET streams held open against an httptest
// upstream that sends headers and then nothing. The same streams straight
// to the upstream are measured in the same run and subtracted, so the
// numbers are the gateway's own (its server side and its upstream client
// side), not the test's client or upstream. It measures once, whatever b.N
// (use -count for repeats).
//
//	go test -run '^$' -bench GatewayIdleStreams -benchtime 1x ./api/gateway/
func BenchmarkGatewayIdleStreams(b *testing.B) {
	const streamCount = 1000
	e := newEnv(b, &envOpts{gw: &gateway.Options{MaxConcurrentPerUser: -1, MaxConcurrentPerTenant: -1}})
	release := make(chan struct{})
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer us.Close()
	defer close(release)
	tn := e.tenant("streams", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)

	// open holds n GET streams on url and returns the closer.
	open := func(url string, auth bool, n int) func() {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1, DisableKeepAlives: true}}
		var bodies []io.Closer
		for i := 0; i < n; i++ {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Accept", "text/event-stream")
			if auth {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("stream %d: status %d", i, resp.StatusCode)
			}
			bodies = append(bodies, resp.Body)
		}
		return func() {
			for _, c := range bodies {
				c.Close()
			}
			client.CloseIdleConnections()
		}
	}
	// measure returns heap+stack bytes and goroutines per stream.
	measure := func(url string, auth bool) (float64, float64) {
		before, gBefore := inUse()
		closeAll := open(url, auth, streamCount)
		after, gAfter := inUse()
		closeAll()
		time.Sleep(200 * time.Millisecond) // let the closed streams' goroutines exit
		return float64(after-before) / streamCount, float64(gAfter-gBefore) / streamCount
	}
	closeWarm := open(e.mcpURL(tn), true, 10) // keys, caches and pools warm
	closeWarm()
	// One measurement whatever b.N: the test command's -benchtime=100x
	// must not open 200,000 streams.
	bytesDirect, gDirect := measure(us.URL+"/mcp", false)
	bytesVia, gVia := measure(e.mcpURL(tn), true)
	b.ReportMetric((bytesVia-bytesDirect)/1024, "gateway-KB/stream")
	b.ReportMetric(gVia-gDirect, "gateway-goroutines/stream")
	b.ReportMetric(bytesDirect/1024, "direct-KB/stream")
}

// inUse is the live heap plus goroutine stacks after a full collection,
// and the goroutine count.
func inUse() (uint64, int) {
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse, runtime.NumGoroutine()
}
