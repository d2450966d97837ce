package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants"
)

type rpcErr struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   struct {
		Code    int            `json:"code"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	} `json:"error"`
}

func decodeRPC(t *testing.T, resp *http.Response) rpcErr {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q, want JSON-RPC error", ct)
	}
	var r rpcErr
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.JSONRPC != "2.0" || r.Error.Code == 0 {
		t.Fatalf("not a JSON-RPC error: %v %+v", err, r)
	}
	return r
}

// RFC 9728 §3: the metadata at every URL of docs/RULES.md §4, resource byte-equal
// to the connector URL, this tenant's issuer, CORS for browsers, no auth.
func TestProtectedResourceMetadata_RFC9728_3(t *testing.T) {
	e := newEnv(t, &envOpts{tenantDomain: "tenants.test"})
	tn := e.tenant("acme", "http://127.0.0.1:9/mcp", &tenants.Settings{Scopes: []string{"mcp", "admin"}, DefaultScopes: []string{"mcp"}})
	port := e.base[strings.LastIndex(e.base, ":")+1:]
	host := "acme.tenants.test:" + port
	type prm struct {
		Resource               string   `json:"resource"`
		AuthorizationServers   []string `json:"authorization_servers"`
		ScopesSupported        []string `json:"scopes_supported"`
		BearerMethodsSupported []string `json:"bearer_methods_supported"`
		ResourceName           string   `json:"resource_name"`
	}
	check := func(url, hostHdr, resource, issuer string) {
		t.Helper()
		hdr := map[string]string{"Origin": "https://chatgpt.com"}
		if hostHdr != "" {
			hdr["Host"] = hostHdr
		}
		resp := e.do(http.MethodGet, url, "", hdr)
		if resp.StatusCode != 200 {
			t.Fatalf("%s (host %s): %d", url, hostHdr, resp.StatusCode)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
			t.Fatalf("%s: CORS headers %v", url, resp.Header)
		}
		var m prm
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.Resource != resource || len(m.AuthorizationServers) != 1 || m.AuthorizationServers[0] != issuer ||
			strings.Join(m.ScopesSupported, " ") != "mcp admin" || strings.Join(m.BearerMethodsSupported, ",") != "header" || m.ResourceName != "Tenant acme" {
			t.Fatalf("%s: metadata %+v", url, m)
		}
	}
	ps := e.pathSite(tn)
	for _, u := range []string{ps.PRMURL(), ps.PRMURL() + "/", e.base + "/t/acme/.well-known/oauth-protected-resource", e.base + "/t/acme/.well-known/oauth-protected-resource/mcp"} {
		check(u, "", e.base+"/t/acme/mcp", e.base+"/t/acme")
	}
	for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource/mcp/", "/.well-known/oauth-protected-resource"} {
		check(e.base+p, host, "http://"+host+"/mcp", "http://"+host)
	}
	// Preflight on the metadata.
	resp := e.do(http.MethodOptions, ps.PRMURL(), "", map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "GET"})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("PRM preflight: %d", resp.StatusCode)
	}
	// Unknown tenant.
	if resp := e.do(http.MethodGet, e.base+"/.well-known/oauth-protected-resource/t/nope/mcp", "", nil); resp.StatusCode != 404 {
		t.Fatalf("unknown tenant PRM: %d", resp.StatusCode)
	}
	if resp := e.do(http.MethodPost, e.base+"/t/nope/mcp", "{}", nil); resp.StatusCode != 404 {
		t.Fatalf("unknown tenant MCP: %d", resp.StatusCode)
	} else {
		decodeRPC(t, resp)
	}
}

// docs/RULES.md §9: bodies over 4 MiB on the MCP path are 413 with a JSON-RPC
// error; the upstream never sees them. Exactly 4 MiB passes intact.
func TestBodyLimit413(t *testing.T) {
	e := newEnv(t, nil)
	up := okUpstream()
	us := httptest.NewServer(up)
	defer us.Close()
	tn := e.tenant("acme", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	pad := func(n int) string {
		prefix := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"`
		suffix := `"}}}`
		return prefix + strings.Repeat("x", n-len(prefix)-len(suffix)) + suffix
	}
	exact := pad(gateway.DefaultMaxBody)
	resp := e.do(http.MethodPost, e.mcpURL(tn), exact, map[string]string{"Authorization": "Bearer " + tok})
	if resp.StatusCode != 200 {
		t.Fatalf("4 MiB body: %d", resp.StatusCode)
	}
	if got := up.all()[0].Body; got != exact {
		t.Fatalf("body changed on the way upstream (%d vs %d bytes)", len(got), len(exact))
	}
	resp = e.do(http.MethodPost, e.mcpURL(tn), pad(gateway.DefaultMaxBody+1), map[string]string{"Authorization": "Bearer " + tok})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("4 MiB + 1 body: %d", resp.StatusCode)
	}
	if r := decodeRPC(t, resp); !strings.Contains(r.Error.Message, "4 MiB") {
		t.Fatalf("413 message: %q", r.Error.Message)
	}
	// Chunked (no Content-Length) is bounded the same way.
	req, _ := http.NewRequest(http.MethodPost, e.mcpURL(tn), io.MultiReader(strings.NewReader(pad(gateway.DefaultMaxBody+10))))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+tok)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if resp2.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked oversize body: %d", resp2.StatusCode)
	}
	if len(up.all()) != 1 {
		t.Fatal("an oversize body reached the upstream")
	}
}

// docs/RULES.md §6: upstream refused → 502, too slow → 504, each a JSON-RPC error
// naming the cause and never the upstream's address; audited and counted.
func TestUpstreamFailures(t *testing.T) {
	// A port with nothing listening.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := l.Addr().String()
	l.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.1.2.3:8443/internal/mcp", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	unauthorized := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="http://10.1.2.3/prm"`)
		w.WriteHeader(401)
	}))
	defer unauthorized.Close()

	e := newEnv(t, &envOpts{gw: &gateway.Options{ResponseHeaderTimeout: 200 * time.Millisecond}})
	cases := []struct {
		slug, upstream string
		status         int
		cause          string
	}{
		{"refused", "http://" + deadAddr + "/mcp", 502, "connection_refused"},
		{"slowpoke", slow.URL + "/mcp", 504, "response_timeout"},
		{"redirects", redirector.URL + "/mcp", 502, "redirect"},
		{"rejects", unauthorized.URL + "/mcp", 502, "upstream_unauthorized"},
		{"metadata", "http://169.254.169.254/latest/meta-data", 502, "forbidden_address"},
	}
	for _, tc := range cases {
		t.Run(tc.slug, func(t *testing.T) {
			tn := e.tenant(tc.slug, tc.upstream, nil)
			tok, _ := e.token(tn, nil)
			resp := e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":42,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok})
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			raw := readAll(t, resp.Body)
			var r rpcErr
			if err := json.Unmarshal([]byte(raw), &r); err != nil || r.Error.Data["cause"] != tc.cause || string(r.ID) != "42" {
				t.Fatalf("body %s", raw)
			}
			host := tc.upstream[len("http://"):]
			host = host[:strings.Index(host, "/")]
			for _, leak := range []string{host, "10.1.2.3", "127.0.0.1", "169.254"} {
				if strings.Contains(raw, leak) || strings.Contains(fmt.Sprint(resp.Header), leak) {
					t.Fatalf("upstream address %s leaked: %s %v", leak, raw, resp.Header)
				}
			}
			if resp.Header.Get("Location") != "" || resp.Header.Get("WWW-Authenticate") != "" {
				t.Fatalf("upstream headers leaked: %v", resp.Header)
			}
			ev := e.audit.Last(tenants.ActUpstreamFailed)
			if ev == nil || ev.TenantID != tn.ID || ev.Reason != tc.cause || ev.ClientID == "" {
				t.Fatalf("audit: %+v", ev)
			}
			if e.counter(tc.slug, "upstream_failed", tc.cause) != 1 {
				t.Fatal("failure not counted")
			}
		})
	}
}

// An upstream that redirects within its own origin (Starlette's /mcp →
// /mcp/) is followed, body and all, instead of sending the client away.
func TestSameOriginRedirectFollowed(t *testing.T) {
	e := newEnv(t, nil)
	var got string
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/mcp" {
			http.Redirect(w, r, "/mcp/", http.StatusTemporaryRedirect)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	defer us.Close()
	tn := e.tenant("acme", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	resp := e.do(http.MethodPost, e.mcpURL(tn), body, map[string]string{"Authorization": "Bearer " + tok})
	if resp.StatusCode != 200 || got != body {
		t.Fatalf("status %d, upstream body %q", resp.StatusCode, got)
	}
}

// Per-tool scope policy (docs/RULES.md §6): enforced from the body (single and
// batch) and from Mcp-Method/Mcp-Name, with no way for a header or a
// duplicate/case-folded key to hide a call; an allowed body reaches the
// upstream byte for byte.
func TestToolScopePolicy(t *testing.T) {
	e := newEnv(t, nil)
	up := okUpstream()
	us := httptest.NewServer(up)
	defer us.Close()
	tn := e.tenant("acme", us.URL+"/mcp", &tenants.Settings{Scopes: []string{"mcp", "admin"}, ToolScopes: map[string]string{"delete_repo": "admin"}})
	plain, _ := e.token(tn, &tokOpts{scope: "mcp"})
	admin, _ := e.token(tn, &tokOpts{scope: "mcp admin"})
	call := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_repo","arguments":{"repo":"x"}}}`
	cases := []struct {
		name string
		body string
		hdr  map[string]string
	}{
		{"single", call, nil},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},` + call + `]`, nil},
		{"header only (body says otherwise)", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "delete_repo"}},
		{"header base64 form", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "=?base64?ZGVsZXRlX3JlcG8=?="}},
		{"header hides body", call, map[string]string{"Mcp-Method": "tools/list"}},
		{"duplicate method key", `{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"delete_repo"}}`, nil},
		{"case-folded keys", `{"jsonrpc":"2.0","id":1,"Method":"tools/call","PARAMS":{"Name":"delete_repo"}}`, nil},
		{"escaped key", `{"jsonrpc":"2.0","id":1,"\u006dethod":"tools/call","params":{"name":"delete_repo"}}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.all())
			hdr := map[string]string{"Authorization": "Bearer " + plain}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			resp := e.do(http.MethodPost, e.mcpURL(tn), tc.body, hdr)
			if resp.StatusCode != 403 {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
			want := `Bearer resource_metadata="` + e.pathSite(tn).PRMURL() + `", scope="admin", error="insufficient_scope", error_description="calling delete_repo requires scope admin"`
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Fatalf("WWW-Authenticate\n got %s\nwant %s", got, want)
			}
			decodeRPC(t, resp)
			if len(up.all()) != before {
				t.Fatal("refused call reached the upstream")
			}
			hdr["Authorization"] = "Bearer " + admin
			resp = e.do(http.MethodPost, e.mcpURL(tn), tc.body, hdr)
			if resp.StatusCode != 200 {
				t.Fatalf("with scope admin: %d", resp.StatusCode)
			}
			all := up.all()
			if got := all[len(all)-1].Body; got != tc.body {
				t.Fatalf("body altered upstream:\n got %s\nwant %s", got, tc.body)
			}
		})
	}
	// Other tools and methods are not governed.
	resp := e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, map[string]string{"Authorization": "Bearer " + plain})
	if resp.StatusCode != 200 {
		t.Fatalf("ungoverned tool: %d", resp.StatusCode)
	}
	// A body that is not JSON is a JSON-RPC parse error, not forwarded blind.
	resp = e.do(http.MethodPost, e.mcpURL(tn), `{"method":"tools/call",`, map[string]string{"Authorization": "Bearer " + plain})
	if resp.StatusCode != 400 || decodeRPC(t, resp).Error.Code != -32700 {
		t.Fatalf("invalid JSON: %d", resp.StatusCode)
	}
}

// audit_mcp_calls: none records no call events, all records mcp.request for
// every forwarded request as well as mcp.tool_called.
func TestAuditLevels(t *testing.T) {
	e := newEnv(t, nil)
	up := okUpstream()
	us := httptest.NewServer(up)
	defer us.Close()
	none := e.tenant("quiet", us.URL+"/mcp", &tenants.Settings{AuditMCPCalls: tenants.AuditMCPNone})
	all := e.tenant("loud", us.URL+"/mcp", &tenants.Settings{AuditMCPCalls: tenants.AuditMCPAll})
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`
	for _, tn := range []*tenants.Tenant{none, all} {
		tok, _ := e.token(tn, nil)
		e.do(http.MethodPost, e.mcpURL(tn), call, map[string]string{"Authorization": "Bearer " + tok})
		e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok})
	}
	count := func(tn *tenants.Tenant, action string) int {
		n := 0
		for _, ev := range e.audit.Find(action) {
			if ev.TenantID == tn.ID {
				n++
			}
		}
		return n
	}
	if count(none, tenants.ActMCPToolCalled)+count(none, tenants.ActMCPRequest) != 0 {
		t.Fatal("audit_mcp_calls=none recorded calls")
	}
	if count(all, tenants.ActMCPToolCalled) != 1 || count(all, tenants.ActMCPRequest) != 2 {
		t.Fatalf("audit_mcp_calls=all: tool_called %d, request %d", count(all, tenants.ActMCPToolCalled), count(all, tenants.ActMCPRequest))
	}
}

// forward_upstream_token and upstream_headers (docs/RULES.md §5 settings): the
// user's upstream IdP token and the tenant's sealed static headers reach the
// upstream; static headers cannot override identity or transport headers.
func TestForwardUpstreamTokenAndStaticHeaders(t *testing.T) {
	e := newEnv(t, nil)
	up := okUpstream()
	us := httptest.NewServer(up)
	defer us.Close()
	tn := e.tenant("acme", us.URL+"/mcp", &tenants.Settings{ForwardUpstreamToken: true,
		UpstreamHeaders: map[string]string{"Authorization": "Bearer static-upstream-key", "X-Team": "blue", "Mcp-Session-Id": "forced", "Host": "evil"}})
	if tn.SealedSecrets[tenants.SecretUpstreamHeaders] == "" || strings.Contains(fmt.Sprint(tn.Settings), "static-upstream-key") {
		t.Fatal("upstream headers are not sealed")
	}
	tok, _ := e.token(tn, &tokOpts{upToken: "gho_upstream123"})
	resp := e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok, "Mcp-Session-Id": "client-session"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h := up.all()[0].Header
	if h.Get("X-Gatehouse-Upstream-Token") != "gho_upstream123" {
		t.Fatalf("upstream token header: %q", h.Get("X-Gatehouse-Upstream-Token"))
	}
	if h.Get("Authorization") != "Bearer static-upstream-key" || h.Get("X-Team") != "blue" {
		t.Fatalf("static headers: %v", h)
	}
	if h.Get("Mcp-Session-Id") != "client-session" {
		t.Fatal("a static header overrode the session header")
	}
	// A tenant that does not forward upstream tokens never sends one.
	tn2 := e.tenant("plain", us.URL+"/mcp", nil)
	tok2, _ := e.token(tn2, &tokOpts{upToken: "gho_secret"})
	e.do(http.MethodPost, e.mcpURL(tn2), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok2})
	all := up.all()
	if v := all[len(all)-1].Header.Get("X-Gatehouse-Upstream-Token"); v != "" {
		t.Fatal("upstream token forwarded without the setting")
	}
}

// Long-lived streams have no total timeout but an idle one: a stream that
// goes silent is closed and its upstream request cancelled.
func TestIdleStreamClosed(t *testing.T) {
	e := newEnv(t, &envOpts{gw: &gateway.Options{IdleTimeout: 300 * time.Millisecond}})
	url, cancelled := streamingUpstream(t)
	tn := e.tenant("acme", url, nil)
	tok, _ := e.token(tn, nil)
	resp := e.do(http.MethodGet, e.mcpURL(tn), "", map[string]string{"Authorization": "Bearer " + tok})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, resp.Body); close(done) }()
	wait(t, cancelled, "the idle stream's upstream request to be cancelled")
	wait(t, done, "the idle stream to be closed for the client")
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, nil)
	tn := e.tenant("acme", "http://127.0.0.1:9/mcp", nil)
	resp := e.do(http.MethodPut, e.mcpURL(tn), "{}", nil)
	if resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "POST") {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	decodeRPC(t, resp)
}

// Request logs never contain tokens: not from the header, not from a query
// string, not when the upstream fails or the token is refused.
func TestLogsNeverContainTokens(t *testing.T) {
	var buf testkit.LockedBuffer
	e := newEnv(t, &envOpts{logs: &buf})
	up := okUpstream()
	us := httptest.NewServer(up)
	defer us.Close()
	good := e.tenant("acme", us.URL+"/mcp", nil)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String() + "/mcp"
	l.Close()
	down := e.tenant("down", dead, nil)
	tok, _ := e.token(good, nil)
	tok2, _ := e.token(down, nil)
	expired, _ := e.token(good, &tokOpts{iat: time.Now().Add(-3 * time.Hour)})
	for _, c := range []struct{ url, tok string }{
		{e.mcpURL(good) + "?access_token=" + tok, tok},
		{e.mcpURL(down), tok2},
		{e.mcpURL(good), expired},
		{e.mcpURL(down) + "?token=" + tok, "garbage-token-value-123"},
	} {
		e.do(http.MethodPost, c.url, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + c.tok})
	}
	logs := buf.String()
	if !strings.Contains(logs, "/t/acme/mcp") || !strings.Contains(logs, "upstream request failed") {
		t.Fatalf("expected request and failure log lines, got:\n%s", logs)
	}
	for _, secret := range []string{tok, tok2, expired, "garbage-token-value-123", "access_token="} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a token reached the logs:\n%s", logs)
		}
	}
}

// With RefusePrivateUpstreams (production default), an upstream on a
// loopback address is refused at dial time, after DNS, as 502.
func TestRefusePrivateUpstreams(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a private upstream was reached")
	}))
	defer up.Close()
	e := newEnv(t, &envOpts{gw: &gateway.Options{RefusePrivateUpstreams: true}})
	tn := e.tenant("private", up.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	resp := e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok})
	raw := readAll(t, resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(raw, "forbidden_address") {
		t.Fatalf("status %d body %s", resp.StatusCode, raw)
	}
}
