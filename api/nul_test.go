package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 13, finding 5: U+0000 in any identifier is a 400 at the edge in the
// surface's format (Postgres would fail with SQLSTATE 22021 → 500).
func TestNULRefusedAtTheEdge(t *testing.T) {
	srv, _, _ := outageServer(t)
	admin := "Bearer " + adminToken
	cases := []request{
		{name: "token form", method: "POST", path: "/t/acme/oauth/token", body: "grant_type=authorization_code&client_id=a%00b&code=x", want: "oauth"},
		{name: "revoke", method: "POST", path: "/t/acme/oauth/revoke", body: "token=abc%00", want: "oauth"},
		{name: "introspect", method: "POST", path: "/t/acme/oauth/introspect", body: "token=%00", want: "oauth"},
		{name: "root token", method: "POST", path: "/token", body: "grant_type=refresh_token&client_id=%00", want: "oauth"},
		{name: "register json", method: "POST", path: "/t/acme/oauth/register", body: `{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"x\u0000"}`, want: "oauth"},
		{name: "authorize query", method: "GET", path: "/t/acme/oauth/authorize?client_id=%00&response_type=code", want: "oauth"},
		{name: "api path", method: "GET", path: "/api/v1/tenants/acme%00", auth: admin, want: "problem"},
		{name: "api json", method: "POST", path: "/api/v1/tenants", auth: admin, body: `{"slug":"a\u0000","name":"x","upstream_mcp_url":"https://x.example/mcp"}`, want: "problem"},
		{name: "api json key", method: "PATCH", path: "/api/v1/tenants/acme", auth: admin, body: `{"settings":{"tool_scopes":{"a\u0000":"mcp"}}}`, want: "problem"},
		{name: "api query", method: "GET", path: "/api/v1/tenants/acme/audit?client_id=%00", auth: admin, want: "problem"},
	}
	for _, c := range cases {
		resp, b := doReq(t, srv, c)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "NUL") {
			t.Errorf("%s: %d %s; want 400 naming the NUL", c.name, resp.StatusCode, b)
			continue
		}
		checkRefusal(t, c, resp, b, "invalid_request")
	}
	// Not NUL: an escaped backslash followed by u0000, and %2500 (a literal
	// "%00"), pass through to the handler.
	for _, c := range []request{
		{name: "escaped backslash", method: "POST", path: "/api/v1/tenants", auth: admin, body: `{"slug":"ok-slug","name":"a\\u0000","upstream_mcp_url":"https://x.example/mcp"}`},
		{name: "percent-25", method: "POST", path: "/t/acme/oauth/token", body: "grant_type=authorization_code&client_id=a%2500"},
	} {
		resp, b := doReq(t, srv, c)
		if resp.StatusCode == http.StatusBadRequest && strings.Contains(string(b), "NUL") {
			t.Errorf("%s: refused as NUL: %s", c.name, b)
		}
		if resp.StatusCode >= 500 {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, b)
		}
	}
}
