package doctor_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
)

// fakeTenant serves a tenant's public discovery surface the way docs/RULES.md §4–6
// require; each field breaks one rule when set.
type fakeTenant struct {
	site             func() tenants.Site
	relativeRM       bool // WWW-Authenticate resource_metadata relative
	slashResource    bool // PRM resource with a trailing slash
	wrongIssuer      bool
	noS256           bool
	redirectSlash    bool // /mcp/ redirects to /mcp
	noCORS           bool
	noPathInserted   bool // PRM only at the second URL (ChatGPT would fail)
	registrationDown bool
	advertise        map[string]string // metadata members replaced (hole 4: URLs that must not be fetched)
	bodyMarker       string            // registration and JWKS answer errors whose bodies carry it
}

func (f *fakeTenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := f.site()
	if !f.noCORS && r.Header.Get("Origin") != "" {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version")
		w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate")
	}
	if r.Header.Get("User-Agent") != doctor.SelfCheckUserAgent {
		http.Error(w, "wrong user agent", http.StatusTeapot)
		return
	}
	full := s.Origin + r.URL.Path
	writeJSON := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	prms := s.PRMURLs()
	switch {
	case full == prms[0] && f.noPathInserted:
		http.NotFound(w, r)
	case full == prms[0] || full == prms[1]:
		res := s.Resource
		if f.slashResource {
			res += "/"
		}
		writeJSON(map[string]any{"resource": res, "authorization_servers": []string{s.Issuer}})
	case full == s.ASMetadataURL():
		iss := s.Issuer
		if f.wrongIssuer {
			iss += "/"
		}
		methods := []string{"S256"}
		if f.noS256 {
			methods = []string{"plain"}
		}
		meta := map[string]any{"issuer": iss, "authorization_endpoint": s.Endpoint("authorize"), "token_endpoint": s.Endpoint("token"),
			"registration_endpoint": s.Endpoint("register"), "jwks_uri": s.JWKSURL(), "code_challenge_methods_supported": methods}
		for k, v := range f.advertise {
			meta[k] = v
		}
		writeJSON(meta)
	case f.bodyMarker != "" && (full == s.Endpoint("register") || full == s.JWKSURL()):
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("internal answer: " + f.bodyMarker))
	case full == s.Endpoint("register"):
		if f.registrationDown {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_redirect_uri","error_description":"redirect_uris is required"}`))
	case full == s.Endpoint("token") && r.Method == http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
	case full == s.JWKSURL():
		writeJSON(map[string]any{"keys": []any{map[string]any{"kty": "EC", "kid": "k1"}}})
	case full == s.Resource+"/" && f.redirectSlash:
		http.Redirect(w, r, s.Resource, http.StatusTemporaryRedirect)
	case full == s.Resource || full == s.Resource+"/":
		rm := s.PRMURL()
		if f.relativeRM {
			rm = strings.TrimPrefix(rm, s.Origin)
		}
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+rm+`", scope="mcp"`)
		w.WriteHeader(http.StatusUnauthorized)
	default:
		http.NotFound(w, r)
	}
}

func failedChecks(res doctor.SelfCheckResult) map[string]string {
	out := map[string]string{}
	for _, c := range res.Checks {
		if !c.OK {
			out[c.ID+" "+c.URL] = c.Detail
		}
	}
	return out
}

func pathSite(srv *httptest.Server) tenants.Site {
	return tenants.PathSite(srv.URL, &tenants.Tenant{ID: "t1", Slug: "acme"})
}

func TestSelfCheckAllPassOnACompliantTenant(t *testing.T) {
	f := &fakeTenant{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	f.site = func() tenants.Site { return pathSite(srv) }
	res := doctor.SelfCheck(context.Background(), srv.Client(), f.site())
	if res.Failed != 0 {
		t.Fatalf("failed checks: %v", failedChecks(res))
	}
	// Both PRM URLs, metadata, registration, CORS, JWKS, the 401 and the slash variant.
	ids := map[string]int{}
	for _, c := range res.Checks {
		ids[c.ID]++
	}
	for _, id := range []string{doctor.CheckPRM, doctor.CheckPRMResource, doctor.CheckPRMAuthServers, doctor.CheckPRMCORS} {
		if ids[id] != 2 {
			t.Errorf("check %s ran %d times, want once per PRM URL (2)", id, ids[id])
		}
	}
	for _, id := range []string{doctor.CheckASMetadata, doctor.CheckIssuer, doctor.CheckS256, doctor.CheckEndpoints, doctor.CheckAdvertisedURLs, doctor.CheckRegistration,
		doctor.CheckRegistrationCORS, doctor.CheckTokenCORS, doctor.CheckJWKS, doctor.CheckMCP401, doctor.CheckMCPCORS, doctor.CheckMCPNoRedirect} {
		if ids[id] != 1 {
			t.Errorf("check %s ran %d times", id, ids[id])
		}
	}
	if res.Passed != len(res.Checks) || res.Mode != tenants.ModePath {
		t.Errorf("passed %d of %d, mode %s", res.Passed, len(res.Checks), res.Mode)
	}
}

func TestSelfCheckFindsEachBrokenRule(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(*fakeTenant)
		check   string
	}{
		// RFC 9728 §5.1 / claude-ai-mcp #136: a relative resource_metadata is silently rejected.
		{"relative resource_metadata", func(f *fakeTenant) { f.relativeRM = true }, doctor.CheckMCP401},
		// docs/RULES.md §4: resource is exactly the connector URL, no trailing slash.
		{"resource with trailing slash", func(f *fakeTenant) { f.slashResource = true }, doctor.CheckPRMResource},
		// RFC 8414 §3.3: issuer byte-equal.
		{"issuer mismatch", func(f *fakeTenant) { f.wrongIssuer = true }, doctor.CheckIssuer},
		{"no S256", func(f *fakeTenant) { f.noS256 = true }, doctor.CheckS256},
		// claude-ai-mcp #430: a redirect between /mcp and /mcp/ drops the token.
		{"slash redirect", func(f *fakeTenant) { f.redirectSlash = true }, doctor.CheckMCPNoRedirect},
		{"no CORS", func(f *fakeTenant) { f.noCORS = true }, doctor.CheckPRMCORS},
		// ChatGPT tries the path-inserted PRM first and does not fall back.
		{"no path-inserted PRM", func(f *fakeTenant) { f.noPathInserted = true }, doctor.CheckPRM},
		{"registration down", func(f *fakeTenant) { f.registrationDown = true }, doctor.CheckRegistration},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTenant{}
			tc.breakIt(f)
			srv := httptest.NewServer(f)
			defer srv.Close()
			f.site = func() tenants.Site { return pathSite(srv) }
			res := doctor.SelfCheck(context.Background(), srv.Client(), f.site())
			found := false
			for _, c := range res.Checks {
				if c.ID == tc.check && !c.OK {
					found = true
					if c.Detail == "" {
						t.Errorf("failed check %s has no detail", c.ID)
					}
				}
			}
			if !found {
				t.Errorf("check %s did not fail; failures: %v", tc.check, failedChecks(res))
			}
			if res.Failed == 0 || res.Passed+res.Failed != len(res.Checks) {
				t.Errorf("counts passed %d failed %d of %d", res.Passed, res.Failed, len(res.Checks))
			}
		})
	}
}

// Host mode: the self-check is given an *http.Client whose dialer maps the
// tenant's host to the test server, as a real deployment's DNS would.
func TestSelfCheckHostMode(t *testing.T) {
	f := &fakeTenant{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	host := "acme.gh.test:" + port
	f.site = func() tenants.Site { return tenants.HostSite("http", host, &tenants.Tenant{ID: "t1", Slug: "acme"}) }
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}}
	res := doctor.SelfCheck(context.Background(), hc, f.site())
	if res.Failed != 0 || res.Mode != tenants.ModeHost || res.Issuer != "http://"+host {
		t.Fatalf("mode %s issuer %s failures %v", res.Mode, res.Issuer, failedChecks(res))
	}
}

func TestSelfCheckUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	site := pathSite(srv)
	srv.Close()
	res := doctor.SelfCheck(context.Background(), &http.Client{}, site)
	if res.Passed != 0 || res.Failed == 0 {
		t.Fatalf("passed %d failed %d: %+v", res.Passed, res.Failed, res.Checks)
	}
}
