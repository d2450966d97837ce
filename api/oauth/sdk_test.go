package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/gatehouse/gatehouse/tenants"
)

// cimdServer serves client metadata documents over TLS and counts fetches.
type cimdServer struct {
	*httptest.Server
	fetches atomic.Int64
}

// cimdEnv is a server that trusts a new CIMD document server's
// certificate (the documents are fetched over TLS).
func cimdEnv(t *testing.T, dsn string) (*env, *cimdServer) {
	t.Helper()
	docs := newCIMDServer(t)
	return newEnv(t, dsn, envOpts{cimdTrust: docs.Server}), docs
}

func newCIMDServer(t *testing.T) *cimdServer {
	s := &cimdServer{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		id := s.URL + r.URL.Path
		doc := map[string]any{"client_id": id, "client_name": "CIMD " + r.URL.Path, "redirect_uris": []string{testRedirect},
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"}, "token_endpoint_auth_method": "none"}
		switch r.URL.Path {
		case "/nostore.json":
			w.Header().Set("Cache-Control", "no-store")
		case "/mismatch.json":
			doc["client_id"] = s.URL + "/other.json"
		case "/big.json":
			doc["client_name"] = strings.Repeat("x", 6000)
		case "/machine.json": // TestSecurity_01
			doc["grant_types"] = []string{"authorization_code", "client_credentials"}
		case "/wildcard.json": // TestSecurity_06
			doc["redirect_uris"] = []string{testRedirect, "https://*.example.com/cb"}
		case "/secret.json":
			doc["token_endpoint_auth_method"] = "client_secret_basic"
		case "/missing.json":
			http.NotFound(w, r)
			return
		default:
			w.Header().Set("Cache-Control", "public, max-age=60")
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

// sdkConnect runs the official Go SDK client against site.Resource: the
// gateway's 401 → protected resource metadata → AS metadata → DCR or CIMD →
// authorize (dev IdP, no browser) → token → an MCP tool call.
func sdkConnect(t *testing.T, e *env, site tenants.Site, cimdURL string) string {
	t.Helper()
	ctx := context.Background()
	b := e.browser()
	fetcher := func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		resp, err := b.Get(args.URL)
		if err != nil {
			return nil, err
		}
		resp = e.approve(b, resp)
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(loc.String(), testRedirect) {
			return nil, fmt.Errorf("authorization ended at %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		q := loc.Query()
		if q.Get("error") != "" {
			return nil, fmt.Errorf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
		}
		return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
	cfg := &auth.AuthorizationCodeHandlerConfig{RedirectURL: testRedirect, AuthorizationCodeFetcher: fetcher, Client: e.client()}
	if cimdURL != "" {
		cfg.ClientIDMetadataDocumentConfig = &auth.ClientIDMetadataDocumentConfig{URL: cimdURL}
	} else {
		cfg.DynamicClientRegistrationConfig = &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			RedirectURIs: []string{testRedirect}, ClientName: "go-sdk test", TokenEndpointAuthMethod: "none",
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}}}
	}
	h, err := auth.NewAuthorizationCodeHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "gatehouse-test", Version: "1.0.0"}, nil).
		// The SDK's standalone GET stream stays on: the gateway sends an event
		// stream's headers at once (api/gateway deadlineWriter.WriteHeader).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: site.Resource, HTTPClient: e.client(), OAuthHandler: h}, nil)
	if err != nil {
		t.Fatalf("SDK connect to %s: %v", site.Resource, err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("tools/call whoami: %v", err)
	}
	text := ""
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	ts, _ := h.TokenSource(ctx)
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	_, claims := jwtParts(t, tok.AccessToken)
	if claims["iss"] != site.Issuer || claims["aud"] != site.Resource {
		t.Errorf("token iss/aud %v/%v, want %s/%s", claims["iss"], claims["aud"], site.Issuer, site.Resource)
	}
	if !strings.Contains(text, "X-Gatehouse-Client-Id: "+claims["client_id"].(string)) {
		t.Errorf("whoami did not see the client: %q", text)
	}
	if cimdURL != "" && claims["client_id"] != cimdURL {
		t.Errorf("CIMD client_id %v, want %s", claims["client_id"], cimdURL)
	}
	return tok.AccessToken
}

// TestGoSDKClient: the official Go SDK client completes discovery → DCR or
// CIMD → authorize → dev IdP → token → MCP call, in path and host mode.
func TestGoSDKClient(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		for _, mode := range []string{tenants.ModePath, tenants.ModeHost} {
			for _, reg := range []string{"DCR", "CIMD"} {
				t.Run(mode+"_"+reg, func(t *testing.T) {
					docs := newCIMDServer(t)
					o := envOpts{cimdTrust: docs.Server}
					if mode == tenants.ModeHost {
						o.tenantDomain = "example.com"
					}
					e := newEnv(t, dsn(t), o)
					tn := e.tenant("sdk", nil, nil)
					site := e.pathSite(tn)
					if mode == tenants.ModeHost {
						var ok bool
						if site, ok = e.deps.Sites.Host(tn); !ok {
							t.Fatal("host mode off")
						}
						if !strings.HasPrefix(site.Issuer, "https://sdk.example.com:") {
							t.Fatalf("host issuer %s", site.Issuer)
						}
					}
					cimd := ""
					if reg == "CIMD" {
						cimd = docs.URL + "/sdk-client.json"
					}
					sdkConnect(t, e, site, cimd)
					e.wantEvents(t, tn, tenants.ActTokenIssued, 1)
					if reg == "DCR" && len(e.audit(tn, tenants.ActClientRegistered)) != 1 {
						t.Error("no client.registered event")
					}
					if reg == "CIMD" {
						c, err := e.store.GetClient(context.Background(), tn.ID, cimd)
						if err != nil || c.Kind != tenants.ClientCIMD {
							t.Errorf("CIMD client row: %v %+v", err, c)
						}
					}
				})
			}
		}
	})
}

// TestURLModesAreSeparateIssuers: a host-mode token, code or refresh token
// never works in path mode (docs/RULES.md §5).
func TestURLModesAreSeparateIssuers(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e := newEnv(t, dsn(t), envOpts{tenantDomain: "example.com"})
		tn := e.tenant("modes", nil, nil)
		host, _ := e.deps.Sites.Host(tn)
		path := e.pathSite(tn)
		cid := e.publicClient(host, "modes")
		at, rt := e.tokens(host, cid)
		key := e.apiKey(tn)
		if got := e.introspect(host, key, at); got["active"] != true {
			t.Fatalf("host-mode introspection of its own token: %v", got)
		}
		e.wantActive(t, path, key, at, false, "path mode accepted a host-mode access token")
		e.wantActive(t, path, key, rt, false, "path mode accepted a host-mode refresh token")
		if r, out := e.refresh(path, cid, rt, nil); r.StatusCode != 400 || out["error"] != "invalid_grant" {
			t.Errorf("path-mode refresh of a host-mode token: %d %v", r.StatusCode, out)
		}
		code, v := e.code(host, cid, nil)
		if r, out := e.exchange(path, cid, code, v); r.StatusCode != 400 || out["error"] != "invalid_grant" {
			t.Errorf("path-mode exchange of a host-mode code: %d %v", r.StatusCode, out)
		}
		// The 2025-03-26 default endpoints ({issuer}/authorize, /token) work at
		// the host root.
		v2, ch2 := pkce()
		b0 := e.browser()
		resp0, err := b0.Get(host.Origin + "/authorize?" + authzParams(cid, ch2).Encode())
		if err != nil {
			t.Fatal(err)
		}
		got := callbackParams(t, e.approve(b0, resp0))
		if got.Get("code") == "" || got.Get("iss") != host.Issuer {
			t.Fatalf("host-root /authorize: %v", got)
		}
		if r, out := e.post(host.Origin+"/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {cid}, "code": {got.Get("code")},
			"code_verifier": {v2}, "redirect_uri": {testRedirect}}, nil); r.StatusCode != 200 {
			t.Errorf("host-root /token: %d %v", r.StatusCode, out)
		}
		// The host-mode metadata names the host issuer, byte for byte.
		_, md := getJSON(t, e.client(), host.Origin+"/.well-known/oauth-authorization-server")
		if md["issuer"] != host.Issuer || md["token_endpoint"] != host.Issuer+"/oauth/token" {
			t.Errorf("host metadata %v", md)
		}
		// The gateway refuses the host-mode token at the path-mode resource.
		if resp := e.mcp(path, http.Header{"Authorization": {"Bearer " + at}}); resp.StatusCode != 401 {
			t.Errorf("path-mode resource accepted a host-mode token: %d", resp.StatusCode)
		}
	})
}

// TestCIMD checks the client ID metadata document rules (docs/RULES.md §5).
func TestCIMD(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e, docs := cimdEnv(t, dsn(t))
		tn := e.tenant("cimd", nil, nil)
		site := e.pathSite(tn)
		try := func(clientID string) (code string, page string, status int) {
			_, ch := pkce()
			b := e.browser()
			resp := e.approve(b, e.authorize(b, site, authzParams(clientID, ch)))
			if loc := resp.Header.Get("Location"); loc != "" {
				resp.Body.Close()
				u, _ := url.Parse(loc)
				return u.Query().Get("code"), "", resp.StatusCode
			}
			return "", readPage(t, resp), resp.StatusCode
		}
		// Cached per Cache-Control max-age: a second use does not fetch.
		before := docs.fetches.Load()
		for i := 0; i < 2; i++ {
			if code, page, st := try(docs.URL + "/ok.json"); code == "" {
				t.Fatalf("CIMD client: %d %.300s", st, page)
			}
		}
		if n := docs.fetches.Load() - before; n != 1 {
			t.Errorf("max-age=60 document fetched %d times", n)
		}
		before = docs.fetches.Load()
		try(docs.URL + "/nostore.json")
		try(docs.URL + "/nostore.json")
		if n := docs.fetches.Load() - before; n != 2 {
			t.Errorf("no-store document fetched %d times, want 2", n)
		}
		for path, want := range map[string]string{
			"/mismatch.json": "client_id does not equal",
			"/big.json":      "larger than",
			"/secret.json":   "not supported",
			"/missing.json":  "404",
			"/":              "path",
		} {
			code, page, st := try(docs.URL + path)
			if code != "" || st < 400 || !strings.Contains(page, want) {
				t.Errorf("%s: code=%q status=%d page=%.300s", path, code, st, page)
			}
		}
		// Redirect URIs come from the document.
		_, ch := pkce()
		q := authzParams(docs.URL+"/ok.json", ch)
		q.Set("redirect_uri", "http://127.0.0.1:55555/elsewhere")
		resp := e.authorize(e.browser(), site, q)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.Header.Get("Location") != "" {
			t.Errorf("redirect URI outside the document: %d", resp.StatusCode)
		}
		// A tenant allow-list of CIMD hosts.
		allow := e.pathSite(e.tenant("cimd-allow", nil, &tenants.Settings{CIMDAllowedHosts: []string{"claude.ai"}}))
		q = authzParams(docs.URL+"/ok.json", ch)
		resp = e.authorize(e.browser(), allow, q)
		page := readPage(t, resp)
		if resp.StatusCode < 400 || !strings.Contains(page, "not allowed") {
			t.Errorf("host not in cimd_allowed_hosts: %d %.200s", resp.StatusCode, page)
		}
		// The token endpoint knows the CIMD client (public, none).
		code, v := e.code(site, docs.URL+"/ok.json", nil)
		if r, out := e.exchange(site, docs.URL+"/ok.json", code, v); r.StatusCode != 200 {
			t.Errorf("CIMD exchange: %d %v", r.StatusCode, out)
		}
	})
	// Without AllowPrivateFetch, a document on a loopback address is refused
	// (the outbound address policy, tenants/egress, checks it at dial time).
	t.Run("private_address_refused", func(t *testing.T) {
		docs := newCIMDServer(t)
		off := false
		e := newEnv(t, testdbSQLite(t), envOpts{private: &off})
		site := e.pathSite(e.tenant("cimd-private", nil, nil))
		_, ch := pkce()
		resp := e.authorize(e.browser(), site, authzParams(docs.URL+"/ok.json", ch))
		page := readPage(t, resp)
		if resp.StatusCode < 400 || !strings.Contains(page, "non-public") || docs.fetches.Load() != 0 {
			t.Errorf("loopback CIMD fetch: %d fetches=%d %.300s", resp.StatusCode, docs.fetches.Load(), page)
		}
		// http:// client ids are not documents at all.
		resp = e.authorize(e.browser(), site, authzParams(strings.Replace(docs.URL, "https://", "http://", 1)+"/ok.json", ch))
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.Header.Get("Location") != "" {
			t.Errorf("http client id: %d", resp.StatusCode)
		}
	})
}
