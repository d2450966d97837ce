package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse/gatehouse/api/demo"
)

// BenchmarkGatewayAddedLatency measures what the gateway adds to an MCP
// tools/call (token verification, cached grant liveness, tool policy,
// identity assertion signing, audit, proxying) against calling the same
// official-SDK upstream directly, interleaved in one run. It reports p50
// and p99 of both paths and of the difference.
//
//	go test -run '^$' -bench GatewayAddedLatency -benchtime 5000x ./api/gateway/
func BenchmarkGatewayAddedLatency(b *testing.B) {
	e := newEnv(b, nil)
	s := demo.NewServer()
	us := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}))
	defer us.Close()
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
	}
	direct := make([]time.Duration, 0, b.N)
	via := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		direct = append(direct, call(us.URL+"/mcp", false))
		via = append(via, call(e.mcpURL(tn), true))
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
	b.ReportMetric(pct(via, 0.50)-pct(direct, 0.50), "added-p50-µs")
	b.ReportMetric(pct(via, 0.99)-pct(direct, 0.99), "added-p99-µs")
}
