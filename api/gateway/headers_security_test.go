package gateway_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// docs/SECURITY.md §8: CGI, WSGI, Rack and PHP read "_" and "-" as one
// character, so X_Gatehouse_Subject beside the real X-Gatehouse-Subject
// would let a client choose its identity upstream. Every client header whose
// name contains "_", every spelling of an identity header, and the client's
// own credentials stay at the gateway; ordinary headers pass.
func TestSecurity_08_UnderscoreHeadersDropped(t *testing.T) {
	e := newEnv(t, nil)
	up := okUpstream()
	tn := e.tenant("acme", serveMCP(t, up), nil)
	tok, g := e.token(tn, nil)

	req, err := http.NewRequest(http.MethodPost, e.mcpURL(tn), strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tok)
	// Set raw: net/http would canonicalise some of these names.
	for k, v := range map[string]string{
		"X_Gatehouse_Subject":   "admin",
		"x_gatehouse_email":     "ceo@example.com",
		"X-Gatehouse_Principal": "user",
		"X-GATEHOUSE-TENANT":    "evil",
		"X-Gatehouse-Scopes":    "admin",
		"Proxy-Authorization":   "Basic c2VjcmV0",
		"Proxy_Authorization":   "Basic c2VjcmV0",
		"Cookie":                "gh_session=secret",
		"X-Custom_Thing":        "dropped",
		"X-Trace":               "kept",
	} {
		req.Header[k] = []string{v}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	reqs := up.all()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests", len(reqs))
	}
	h := reqs[0].Header
	for k, v := range h {
		if strings.Contains(k, "_") {
			t.Errorf("header %q: %v reached the upstream", k, v)
		}
		switch strings.ToLower(k) {
		case "authorization", "cookie", "proxy-authorization":
			t.Errorf("client credential %s reached the upstream", k)
		}
	}
	want := map[string]string{
		access.HeaderSubject: g.Subject, access.HeaderEmail: "alice@example.com", access.HeaderTenant: "acme",
		access.HeaderScopes: "mcp", access.HeaderPrincipal: access.PrincipalUser, "X-Trace": "kept",
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want exactly [%s]", k, got, v)
		}
	}
}

// docs/SECURITY.md §9: a GET or DELETE body is never parsed, so it must not
// reach the upstream (a tools/call in it would pass tool_scopes unseen). An
// Upgrade request is refused outright with a JSON-RPC error and never
// reaches the upstream.
func TestSecurity_09_GETBodyNotForwarded(t *testing.T) {
	e := newEnv(t, nil)
	up := okUpstream()
	tn := e.tenant("acme", serveMCP(t, up), &tenants.Settings{Scopes: []string{"mcp", "admin"}, ToolScopes: map[string]string{"delete_repo": "admin"}})
	tok, _ := e.token(tn, &tokOpts{scope: "mcp"})
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_repo","arguments":{}}}`

	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		before := len(up.all())
		resp := e.do(m, e.mcpURL(tn), call, map[string]string{"Authorization": "Bearer " + tok, "Mcp-Session-Id": "s1"})
		readAll(t, resp.Body)
		reqs := up.all()
		if len(reqs) != before+1 {
			t.Fatalf("%s: upstream saw %d new requests (status %d)", m, len(reqs)-before, resp.StatusCode)
		}
		got := reqs[len(reqs)-1]
		if got.Method != m || got.Body != "" {
			t.Fatalf("%s forwarded with body %q: tool_scopes bypassed", m, got.Body)
		}
		if cl := got.Header.Get("Content-Length"); cl != "" && cl != "0" {
			t.Fatalf("%s forwarded with Content-Length %s", m, cl)
		}
		if got.Header.Get("Mcp-Session-Id") != "s1" {
			t.Fatalf("%s: session header lost", m)
		}
	}

	// The same call as a POST is still refused by tool_scopes.
	resp := e.do(http.MethodPost, e.mcpURL(tn), call, map[string]string{"Authorization": "Bearer " + tok})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST tools/call without scope: %d", resp.StatusCode)
	}

	// Upgrade: refused explicitly, upstream untouched, with or without a token.
	before := len(up.all())
	for _, hdr := range []map[string]string{
		{"Authorization": "Bearer " + tok, "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
		{"Connection": "Upgrade", "Upgrade": "h2c"},
	} {
		resp := e.do(http.MethodGet, e.mcpURL(tn), "", hdr)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("Upgrade %s: status %d, want 400", hdr["Upgrade"], resp.StatusCode)
		}
		if r := decodeRPC(t, resp); !strings.Contains(r.Error.Message, "upgrade") {
			t.Fatalf("Upgrade error message %q", r.Error.Message)
		}
	}
	if n := len(up.all()) - before; n != 0 {
		t.Fatalf("upstream saw %d upgrade requests", n)
	}

	// A raw upgrade on the wire (what a WebSocket client sends) gets the
	// same 400 and no 101.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = conn.Write([]byte("GET /t/acme/mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok +
		"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
	raw, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw.Body.Close()
	if raw.StatusCode != http.StatusBadRequest {
		t.Fatalf("raw upgrade: %d", raw.StatusCode)
	}
}

// docs/SECURITY.md §1 (gateway side): a token with no user
// (client_credentials: a grant without a user id, as tenants/oauth mints
// it) reaches the upstream as X-Gatehouse-Principal: client with no user
// headers, and its assertion says principal "client" with no sub or email;
// a user's token says principal "user".
func TestSecurity_01_ClientPrincipalHeaders(t *testing.T) {
	e := newEnv(t, nil)
	up := okUpstream()
	upURL := serveMCP(t, up)
	tn := e.tenant("acme", upURL, nil)
	ctx := context.Background()
	site := e.pathSite(tn)
	now := time.Now()

	// The grant tenants/oauth's client_credentials creates: no UserID, the
	// client as Subject.
	g := &tenants.Grant{TenantID: tn.ID, ID: tenants.RandomID(), Subject: "svc-client", ClientID: "svc-client",
		Scopes: tenants.Strings{"mcp"}, Resource: site.Resource, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.store.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	ctok, err := tokens.IssueAccessToken(ctx, e.keys, site, tokens.AccessClaims{Subject: g.Subject, Audience: site.Resource,
		ClientID: g.ClientID, Scope: "mcp", JTI: tenants.RandomID(), IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), GrantID: g.ID})
	if err != nil {
		t.Fatal(err)
	}
	utok, ug := e.token(tn, nil)
	jwks, err := e.keys.JWKS(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`

	resp := e.do(http.MethodPost, e.mcpURL(tn), body, map[string]string{"Authorization": "Bearer " + ctok})
	if resp.StatusCode != 200 {
		t.Fatalf("client token: %d %s", resp.StatusCode, readAll(t, resp.Body))
	}
	h := up.all()[0].Header
	if got := h.Values(access.HeaderPrincipal); len(got) != 1 || got[0] != access.PrincipalClient {
		t.Fatalf("client token: %s = %v", access.HeaderPrincipal, got)
	}
	if h.Get(access.HeaderSubject) != "" || h.Get(access.HeaderEmail) != "" {
		t.Fatalf("client token carried user headers: subject %q email %q", h.Get(access.HeaderSubject), h.Get(access.HeaderEmail))
	}
	if h.Get(access.HeaderClientID) != "svc-client" || h.Get(access.HeaderTenant) != "acme" {
		t.Fatalf("client token headers: %v", h)
	}
	a, err := verifyAssertion(jwks, h.Get(access.HeaderAssertion), upURL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a.Principal != access.PrincipalClient || a.Subject != "" || a.Email != "" || a.ClientID != "svc-client" {
		t.Fatalf("client assertion: %+v", a)
	}

	resp = e.do(http.MethodPost, e.mcpURL(tn), body, map[string]string{"Authorization": "Bearer " + utok})
	if resp.StatusCode != 200 {
		t.Fatalf("user token: %d", resp.StatusCode)
	}
	h = up.all()[1].Header
	if h.Get(access.HeaderPrincipal) != access.PrincipalUser || h.Get(access.HeaderSubject) != ug.Subject {
		t.Fatalf("user token headers: %v", h)
	}
	a, err = verifyAssertion(jwks, h.Get(access.HeaderAssertion), upURL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a.Principal != access.PrincipalUser || a.Subject != ug.Subject || a.Email != "alice@example.com" {
		t.Fatalf("user assertion: %+v", a)
	}
}
