package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/tenants"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Issue 13, finding 6: an upstream that dies mid-stream gives the client a
// JSON-RPC error event and a clean end, an mcp.upstream_failed audit event,
// a failed count, and a log line with tenant and request id.
func TestUpstreamDiesMidStream(t *testing.T) {
	logs := &syncBuf{}
	e := newEnv(t, &envOpts{logs: logs})
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n")
		fmt.Fprint(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"res") // cut inside an event
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.(*net.TCPConn).SetLinger(0) // reset, not a clean close
		conn.Close()
	}))
	defer us.Close()
	tn := e.tenant("acme", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	resp := e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"}}`,
		map[string]string{"Authorization": "Bearer " + tok, "X-Request-Id": "req-dies-1"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the client's stream must end cleanly, got %v after %q", err, body)
	}
	s := string(body)
	if !strings.Contains(s, "notifications/progress") {
		t.Fatalf("events before the break were lost: %q", s)
	}
	last := s[strings.LastIndex(strings.TrimRight(s, "\n"), "\n\n")+2:]
	if !strings.HasPrefix(last, "event: message\ndata: ") || !strings.Contains(last, `"id":7`) || !strings.Contains(last, `"error"`) || !strings.Contains(last, `"code":-32010`) {
		t.Fatalf("stream does not end with a JSON-RPC error event for id 7:\n%s", s)
	}
	ev := e.audit.Last(tenants.ActUpstreamFailed)
	if ev == nil || ev.TenantID != tn.ID || ev.ClientID == "" {
		t.Fatalf("no mcp.upstream_failed audit event: %+v", ev)
	}
	if got := e.counter("acme", "upstream_failed", ev.Reason); got != 1 {
		t.Fatalf("failure counted %v times under reason %q", got, ev.Reason)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), "upstream stream broke") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "upstream stream broke") {
			line = l
		}
	}
	if !strings.Contains(line, "tenant=acme") || !strings.Contains(line, "request_id=req-dies-1") {
		t.Fatalf("log line lacks tenant or request id: %q", line)
	}
}

// Issue 13, finding 7: on shutdown, GET streams end at once and request
// streams after the grace, each with a clean end and a retry hint; the
// client reconnects with Last-Event-ID, which reaches the upstream.
func TestDrainEndsStreamsCleanly(t *testing.T) {
	e := newEnv(t, &envOpts{gw: &gateway.Options{DrainGrace: 400 * time.Millisecond}})
	var mu sync.Mutex
	var lastEventIDs []string
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastEventIDs = append(lastEventIDs, r.Header.Get("Last-Event-ID"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: ev-1\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer us.Close()
	tn := e.tenant("acme", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	auth := map[string]string{"Authorization": "Bearer " + tok}
	get := e.do(http.MethodGet, e.mcpURL(tn), "", auth)
	post := e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}`, auth)
	type result struct {
		body string
		err  error
		at   time.Duration
	}
	start := time.Now()
	read := func(r io.Reader) <-chan result {
		ch := make(chan result, 1)
		go func() {
			b, err := io.ReadAll(r)
			ch <- result{string(b), err, time.Since(start)}
		}()
		return ch
	}
	// Both streams are open before the drain.
	buf := make([]byte, 8)
	for _, r := range []*http.Response{get, post} {
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			t.Fatal(err)
		}
	}
	getc, postc := read(get.Body), read(post.Body)
	start = time.Now()
	e.gw.Drain()
	g := wait(t, getc, "the GET stream to end")
	if g.err != nil || !strings.HasSuffix(g.body, "retry: 1000\n\n") || g.at > 300*time.Millisecond {
		t.Fatalf("GET stream: err=%v after %v, body %q; want a clean end with a retry hint at once", g.err, g.at, g.body)
	}
	p := wait(t, postc, "the POST stream to end")
	if p.err != nil || !strings.HasSuffix(p.body, "retry: 1000\n\n") || p.at < 350*time.Millisecond {
		t.Fatalf("POST stream: err=%v after %v, body %q; want a clean end after the grace", p.err, p.at, p.body)
	}
	if e.counter("acme", "stream_closed", "draining") != 2 {
		t.Fatalf("drained streams not counted")
	}
	// The client resumes with Last-Event-ID; the upstream sees it.
	e2 := e.do(http.MethodGet, e.mcpURL(tn), "", map[string]string{"Authorization": "Bearer " + tok, "Last-Event-ID": "ev-1"})
	e2.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if got := lastEventIDs[len(lastEventIDs)-1]; got != "ev-1" {
		t.Fatalf("Last-Event-ID not passed through: %q", got)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// Issue 13: upstreams that are slow, dead, or reset mid-stream give the
// client a prompt JSON-RPC error, and leave no goroutine or file descriptor
// behind (counted before and after 40 rounds).
func TestUpstreamFaultsLeakNothing(t *testing.T) {
	e := newEnv(t, &envOpts{gw: &gateway.Options{ResponseHeaderTimeout: 300 * time.Millisecond}})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: message\ndata: {}\n\n")
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}))
	defer reset.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	cases := []struct {
		slug, url string
		status    int
	}{
		{"slow", slow.URL + "/mcp", 504},
		{"dead", "http://" + dead + "/mcp", 502},
		{"reset", reset.URL + "/mcp", 200}, // the stream began: the error is its last event
	}
	toks := map[string]string{}
	for _, c := range cases {
		tn := e.tenant(c.slug, c.url, nil)
		toks[c.slug], _ = e.token(tn, nil)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	round := func() {
		for _, c := range cases {
			req, _ := http.NewRequest(http.MethodPost, e.base+"/t/"+c.slug+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
			req.Header.Set("Authorization", "Bearer "+toks[c.slug])
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", c.slug, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != c.status || !strings.Contains(string(b), `"error"`) {
				t.Fatalf("%s: %d %v %s", c.slug, resp.StatusCode, err, b)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("%s: answered after %v", c.slug, el)
			}
		}
	}
	round() // warm-up: pools, caches, keys
	time.Sleep(200 * time.Millisecond)
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	for i := 0; i < 40; i++ {
		round()
	}
	deadline := time.Now().Add(5 * time.Second)
	var g1, f1 int
	for {
		g1, f1 = runtime.NumGoroutine(), openFDs(t)
		if (g1 <= g0+10 && f1 <= f0+10) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if g1 > g0+10 || f1 > f0+10 { // a per-call leak would show ≥ 40
		t.Fatalf("after 120 failed upstream calls: goroutines %d → %d, fds %d → %d", g0, g1, f0, f1)
	}
	t.Logf("MEASURED: 120 slow/dead/reset upstream calls: goroutines %d → %d, fds %d → %d", g0, g1, f0, f1)
}
