package e2e

import (
	"net/url"
	"strings"
	"testing"
)

// step is one expected request of a client's flow.
type step struct {
	name   string
	match  func(tsTrace) bool
	status int
}

// inOrder checks the steps occur in the trace in this order.
func inOrder(t *testing.T, trace []tsTrace, steps []step) {
	t.Helper()
	i := 0
	for _, st := range steps {
		found := false
		for ; i < len(trace); i++ {
			if st.match(trace[i]) {
				if trace[i].Status != st.status {
					t.Errorf("%s: HTTP %d, want %d (%+v)", st.name, trace[i].Status, st.status, trace[i])
				}
				found = true
				i++
				break
			}
		}
		if !found {
			t.Errorf("step %q not seen (in order) in the client's requests: %+v", st.name, trace)
			return
		}
	}
}

func flowSteps(site struct{ resource, prm, asMeta, register, token string }) []step {
	path := func(u string) string { p, _ := url.Parse(u); return p.Path }
	mcp := path(site.resource)
	is := func(method, p string) func(tsTrace) bool {
		return func(x tsTrace) bool { return x.Method == method && x.Path == p }
	}
	rpc := func(m string, auth bool) func(tsTrace) bool {
		return func(x tsTrace) bool { return x.Path == mcp && x.RPC == m && x.Auth == auth }
	}
	grant := func(g string) func(tsTrace) bool {
		return func(x tsTrace) bool { return x.Path == path(site.token) && x.RPC == g }
	}
	return []step{
		{"401 discovery (initialize without a token)", rpc("initialize", false), 401},
		{"protected resource metadata (path-inserted)", is("GET", path(site.prm)), 200},
		{"authorization server metadata", is("GET", path(site.asMeta)), 200},
		{"dynamic client registration", is("POST", path(site.register)), 201},
		{"token (authorization_code)", grant("authorization_code"), 200},
		{"initialize with the token", rpc("initialize", true), 200},
		{"tools/list", rpc("tools/list", true), 200},
		{"tools/call", rpc("tools/call", true), 200},
		{"refused token → 401", rpc("initialize", true), 401},
		{"token (refresh_token)", grant("refresh_token"), 200},
		{"tools/call after refresh", rpc("tools/call", true), 200},
	}
}

func tsFlows(t *testing.T, s *server) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			tn := newTenant(t, s, "ts", nil)
			site := tn.urls(mode)
			r := runTSFlow(t, site.Resource, "gatehouse-e2e-ts")
			inOrder(t, r.Trace, flowSteps(struct{ resource, prm, asMeta, register, token string }{
				site.Resource, site.ProtectedResourceMetadata[0], site.AuthorizationServerMetadata,
				site.Issuer + "/oauth/register", site.Issuer + "/oauth/token"}))
			if strings.Join(r.Tools, ",") != "add,countdown,echo,whoami" || r.Echo != "hello from ts" || r.EchoAfterRefresh != "after refresh" {
				t.Errorf("tools %v echo %q after %q", r.Tools, r.Echo, r.EchoAfterRefresh)
			}
			if !r.RefreshTokenRotated {
				t.Errorf("the refresh did not rotate the refresh token")
			}
			if r.Iss != site.Issuer {
				t.Errorf("iss %q, want %q (RFC 9207)", r.Iss, site.Issuer)
			}
			iss, _ := url.Parse(site.Issuer)
			for _, x := range r.Trace {
				if x.Host != iss.Host {
					t.Errorf("request left the tenant's origin: %+v", x)
				}
			}
		})
	}
}

// The official TypeScript SDK client, full OAuth flow, both URL modes,
// embedded mode.
func TestTypeScriptSDKClient(t *testing.T) {
	t.Parallel()
	tsFlows(t, sharedServer(t))
}
