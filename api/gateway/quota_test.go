package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
)

func intp(n int) *int { return &n }

// Issue 13: MCP quotas per tenant and per user (settings, else the plan
// default): over them the MCP path answers 429 with Retry-After and a
// JSON-RPC error, counted in metrics and audited; 0 in the settings lifts
// a plan default.
func TestMCPQuotas(t *testing.T) {
	e := newEnv(t, &envOpts{mcpQuota: httpx.MCPQuota{PerUser: 2}})
	up := okUpstream()
	srv := httptest.NewServer(up)
	defer srv.Close()
	us := srv.URL
	tn := e.tenant("acme", us+"/mcp", &tenants.Settings{MCPRequestsPerMinute: intp(3)})
	call := func(tok string) *http.Response {
		return e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok})
	}
	u1, _ := e.token(tn, nil)
	u2, _ := e.token(tn, nil)
	for i := 0; i < 2; i++ {
		if r := call(u1); r.StatusCode != 200 {
			t.Fatalf("user 1 request %d: %d", i, r.StatusCode)
		}
	}
	r := call(u1)
	checkQuota(t, r, "user")
	if r := call(u2); r.StatusCode != 200 {
		t.Fatalf("user 2 first request: %d", r.StatusCode)
	}
	checkQuota(t, call(u2), "tenant") // 3 of the tenant's 3 used
	if got := e.counter("acme", "rate_limited", "user_quota"); got != 1 {
		t.Fatalf("user quota refusals counted %v", got)
	}
	if got := e.counter("acme", "rate_limited", "tenant_quota"); got != 1 {
		t.Fatalf("tenant quota refusals counted %v", got)
	}
	ev := e.audit.Last(tenants.ActMCPDenied)
	if ev == nil || ev.Reason != tenants.ReasonQuota || ev.ClientID == "" {
		t.Fatalf("quota refusal not audited: %+v", ev)
	}
	if n := len(up.all()); n != 3 {
		t.Fatalf("upstream saw %d requests; refused ones must not be forwarded", n)
	}

	// An explicit 0 lifts the plan's per-user default.
	free := e.tenant("free", us+"/mcp", &tenants.Settings{MCPRequestsPerMinutePerUser: intp(0)})
	tok, _ := e.token(free, nil)
	for i := 0; i < 5; i++ {
		r := e.do(http.MethodPost, e.mcpURL(free), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok})
		if r.StatusCode != 200 {
			t.Fatalf("unlimited tenant request %d: %d", i, r.StatusCode)
		}
	}
}

func checkQuota(t *testing.T, r *http.Response, which string) {
	t.Helper()
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s quota: status %d, want 429", which, r.StatusCode)
	}
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 1 {
		t.Fatalf("%s quota: Retry-After %q", which, r.Header.Get("Retry-After"))
	}
	var body struct {
		JSONRPC string `json:"jsonrpc"`
		Error   struct {
			Code int            `json:"code"`
			Data map[string]any `json:"data"`
		} `json:"error"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.JSONRPC != "2.0" || body.Error.Code != httpx.RPCCodeRateLimited || body.Error.Data["quota"] != which {
		t.Fatalf("%s quota body: %+v %v", which, body, err)
	}
}

// Issue 13: concurrent streams are limited per user and per tenant; a
// closed stream frees its slot.
func TestConcurrentStreamLimits(t *testing.T) {
	e := newEnv(t, &envOpts{gw: &gateway.Options{MaxConcurrentPerUser: 2, MaxConcurrentPerTenant: 3}})
	release := make(chan struct{})
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(": open\n\n"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer us.Close()
	defer close(release)
	tn := e.tenant("acme", us.URL+"/mcp", nil)
	u1, _ := e.token(tn, nil)
	u2, _ := e.token(tn, nil)
	open := func(tok string) *http.Response {
		return e.do(http.MethodGet, e.mcpURL(tn), "", map[string]string{"Authorization": "Bearer " + tok})
	}
	a, b := open(u1), open(u1)
	if a.StatusCode != 200 || b.StatusCode != 200 {
		t.Fatalf("first two streams: %d %d", a.StatusCode, b.StatusCode)
	}
	if r := open(u1); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream of one user: %d", r.StatusCode)
	}
	if r := open(u2); r.StatusCode != 200 {
		t.Fatalf("another user's stream: %d", r.StatusCode)
	}
	if r := open(u2); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth stream of the tenant (limit 3): %d", r.StatusCode)
	}
	a.Body.Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		r := open(u1)
		if r.StatusCode == 200 {
			break
		}
		r.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("a closed stream did not free its slot")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := e.counter("acme", "rate_limited", "concurrency"); got < 2 {
		t.Fatalf("concurrency refusals counted %v", got)
	}
}
