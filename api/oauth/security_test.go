package oauth_test

// Regression tests for the holes of issue 9 in the authorization server,
// one per hole, named after it (docs/SECURITY.md states each rule). Each
// drives the real HTTP surface, on SQLite and Postgres.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

// apiCall sends a provisioning API request with a tenant API key.
func (e *env) apiCall(method, path, key string, body any) (int, map[string]any) {
	e.t.Helper()
	resp, out := e.doJSON(method, e.base+path, key, body)
	return resp.StatusCode, out
}

// grantTypesAdvertised reads grant_types_supported from the site's metadata.
func grantTypesAdvertised(t *testing.T, e *env, site tenants.Site) []string {
	t.Helper()
	_, md := getJSON(t, e.client(), site.ASMetadataURL())
	var out []string
	for _, g := range md["grant_types_supported"].([]any) {
		out = append(out, g.(string))
	}
	return out
}

// Hole 1: open DCR handed anyone a client_credentials client, so anyone got
// a token with no user, no IdP, no consent.
func TestSecurity_01_DCRClientCredentialsRefused(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e, docs := cimdEnv(t, dsn(t))
		tn := e.tenant("sec01", nil, nil)
		site := e.pathSite(tn)
		key := e.apiKey(tn)

		// DCR: only authorization_code and refresh_token.
		for _, grants := range [][]string{{"client_credentials"}, {"authorization_code", "client_credentials"}, {"password"}} {
			code, out := e.register(site, map[string]any{"redirect_uris": []string{"https://app.example/cb"}, "grant_types": grants,
				"token_endpoint_auth_method": "client_secret_post"})
			if code != http.StatusBadRequest || out["error"] != "invalid_client_metadata" || out["client_id"] != nil {
				t.Errorf("DCR grant_types %v: %d %v", grants, code, out)
			}
		}
		// CIMD: a document asking for client_credentials is refused.
		_, ch := pkce()
		resp := e.authorize(e.browser(), site, authzParams(docs.URL+"/machine.json", ch))
		if page := readPage(t, resp); resp.StatusCode < 400 || resp.Header.Get("Location") != "" || !strings.Contains(page, "client_credentials") {
			t.Errorf("CIMD document with client_credentials: %d %.300s", resp.StatusCode, page)
		}

		// Setting off (the default): not advertised, and a pre-registered
		// client_credentials client is refused at the token endpoint.
		if g := grantTypesAdvertised(t, e, site); strings.Contains(strings.Join(g, " "), "client_credentials") {
			t.Errorf("metadata advertises client_credentials while the setting is off: %v", g)
		}
		st, created := e.apiCall(http.MethodPost, "/api/v1/tenants/sec01/clients", key, map[string]any{"client_name": "machine",
			"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "client_secret_post"})
		if st != http.StatusCreated {
			t.Fatalf("pre-register: %d %v", st, created)
		}
		id, secret := created["client_id"].(string), created["client_secret"].(string)
		cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
		if r, out := e.post(site.Endpoint("token"), cc, nil); r.StatusCode != http.StatusBadRequest || out["error"] != "unauthorized_client" || out["access_token"] != nil {
			t.Errorf("client_credentials with the setting off: %d %v", r.StatusCode, out)
		}

		// Setting on (merge patch): advertised and issued, marked "no user".
		if st, out := e.apiCall(http.MethodPatch, "/api/v1/tenants/sec01", key, map[string]any{"settings": map[string]any{"client_credentials": true}}); st != http.StatusOK {
			t.Fatalf("patch settings: %d %v", st, out)
		}
		e.deps.Sites.Invalidate()
		if g := grantTypesAdvertised(t, e, site); !strings.Contains(strings.Join(g, " "), "client_credentials") {
			t.Errorf("metadata does not advertise client_credentials while the setting is on: %v", g)
		}
		r, out := e.post(site.Endpoint("token"), cc, nil)
		if r.StatusCode != http.StatusOK || out["refresh_token"] != nil {
			t.Fatalf("client_credentials with the setting on: %d %v", r.StatusCode, out)
		}
		if _, c := jwtParts(t, out["access_token"].(string)); c["sub"] != id || c["client_id"] != id || c["gty"] != "client_credentials" || c["email"] != nil {
			t.Errorf("client_credentials claims do not say 'no user': %v", c)
		}

		// A self-registered client holding client_credentials from before
		// this rule (the row as old DCR wrote it) is still refused.
		old := &tenants.Client{TenantID: tn.ID, ID: "dcr_legacy", Kind: tenants.ClientDCR, GrantTypes: tenants.Strings{"client_credentials"},
			RedirectURIs: tenants.Strings{}, ResponseTypes: tenants.Strings{}, TokenEndpointAuthMethod: "client_secret_post", SecretHash: tenants.HashSecret("ghs_legacy")}
		if err := e.store.CreateClient(context.Background(), old); err != nil {
			t.Fatal(err)
		}
		if r, out := e.post(site.Endpoint("token"), url.Values{"grant_type": {"client_credentials"}, "client_id": {"dcr_legacy"}, "client_secret": {"ghs_legacy"}}, nil); r.StatusCode != http.StatusBadRequest || out["error"] != "unauthorized_client" {
			t.Errorf("legacy DCR client_credentials client: %d %v", r.StatusCode, out)
		}

		// Introspection: a DCR client (even confidential) is 401; a
		// pre-registered confidential client and an API key are answered.
		at, _ := e.tokens(site, e.publicClient(site, "user-app"))
		dcrID, dcrSecret := e.confidential(site, "client_secret_post", nil)
		if r, out := e.post(site.Endpoint("introspect"), url.Values{"token": {at}, "client_id": {dcrID}, "client_secret": {dcrSecret}}, nil); r.StatusCode != http.StatusUnauthorized || out["error"] != "invalid_client" || out["active"] != nil {
			t.Errorf("DCR client at /oauth/introspect: %d %v", r.StatusCode, out)
		}
		if r, out := e.post(site.Endpoint("introspect"), url.Values{"token": {at}, "client_id": {id}, "client_secret": {secret}}, nil); r.StatusCode != http.StatusOK || out["active"] != true {
			t.Errorf("pre-registered client at /oauth/introspect: %d %v", r.StatusCode, out)
		}
		e.wantActive(t, site, key, at, true, "API key introspection")
	})
}

// Hole 5: the DCR allow-list compared hosts only, so evilapp://claude.ai/cb
// registered under [claude.ai].
func TestSecurity_05_DCRAllowlistMatchesSchemeAndHost(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e := newEnv(t, dsn(t), envOpts{})
		site := e.pathSite(e.tenant("sec05", nil, &tenants.Settings{DCRPolicy: tenants.DCRAllowlist,
			DCRAllowedRedirectHosts: []string{"claude.ai", "*.example.com", "cursor://anysphere.cursor-mcp", "http://127.0.0.1"}}))
		for uri, want := range map[string]int{
			"https://claude.ai/api/mcp/auth_callback":      http.StatusCreated,
			"https://app.example.com/cb":                   http.StatusCreated,
			"cursor://anysphere.cursor-mcp/oauth/callback": http.StatusCreated,
			"http://127.0.0.1:4711/callback":               http.StatusCreated,
			"evilapp://claude.ai/cb":                       http.StatusBadRequest, // the reported bypass
			"cursor://claude.ai/cb":                        http.StatusBadRequest, // listed scheme, other host
			"evilapp://anysphere.cursor-mcp/cb":            http.StatusBadRequest, // listed host, other scheme
			"http://localhost:4711/callback":               http.StatusBadRequest, // loopback host not listed
			"https://evil.example/cb":                      http.StatusBadRequest,
		} {
			code, out := e.register(site, map[string]any{"redirect_uris": []string{uri}, "client_name": uri})
			if code != want || (want == http.StatusBadRequest && out["error"] != "invalid_redirect_uri") {
				t.Errorf("%s: %d %v, want %d", uri, code, out, want)
			}
		}
		// Without a loopback entry, loopback is not allowed; a private-use
		// scheme is allowed only when listed itself.
		strict := e.pathSite(e.tenant("sec05-strict", nil, &tenants.Settings{DCRPolicy: tenants.DCRAllowlist, DCRAllowedRedirectHosts: []string{"claude.ai"}}))
		for _, uri := range []string{"http://127.0.0.1:4711/callback", "cursor://anysphere.cursor-mcp/oauth/callback", "claude.ai://claude.ai/cb"} {
			if code, out := e.register(strict, map[string]any{"redirect_uris": []string{uri}}); code != http.StatusBadRequest || out["error"] != "invalid_redirect_uri" {
				t.Errorf("strict allow-list %s: %d %v", uri, code, out)
			}
		}
		// Entries themselves are checked: no http to public hosts, no paths,
		// no web-hostile schemes.
		key := e.apiKey(e.tenant("sec05-api", nil, nil))
		for _, entry := range []string{"http://claude.ai", "https://claude.ai/cb", "javascript://x", "claude.ai:8443", "cursor://*.anysphere"} {
			st, out := e.apiCall(http.MethodPatch, "/api/v1/tenants/sec05-api", key, map[string]any{"settings": map[string]any{"dcr_policy": "allowlist", "dcr_allowed_redirect_hosts": []string{entry}}})
			if st != http.StatusBadRequest || !strings.Contains(mustJSON(out), "settings.dcr_allowed_redirect_hosts") {
				t.Errorf("allow-list entry %q: %d %v", entry, st, out)
			}
		}
		if st, out := e.apiCall(http.MethodPatch, "/api/v1/tenants/sec05-api", key, map[string]any{"settings": map[string]any{"dcr_policy": "allowlist",
			"dcr_allowed_redirect_hosts": []string{"claude.ai", "https://chatgpt.com", "cursor://anysphere.cursor-mcp", "http://localhost", "com.example.app:"}}}); st != http.StatusOK {
			t.Errorf("valid allow-list: %d %v", st, out)
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Hole 6: redirect URIs with "*" were accepted (https://*.example.com/cb).
func TestSecurity_06_WildcardRedirectURIRefused(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e, docs := cimdEnv(t, dsn(t))
		tn := e.tenant("sec06", nil, nil)
		site := e.pathSite(tn)
		wild := []string{"https://*.example.com/cb", "https://app.example.com/*", "https://app.example.com/cb?next=*", "https://app.example.com/%2A/cb",
			"http://127.0.0.1:*/callback", "cursor://*/oauth/callback"}
		for _, uri := range wild {
			// DCR.
			if code, out := e.register(site, map[string]any{"redirect_uris": []string{"https://app.example.com/ok", uri}}); code != http.StatusBadRequest || out["error"] != "invalid_redirect_uri" {
				t.Errorf("DCR %s: %d %v", uri, code, out)
			}
			// Pre-registered through the API.
			st, out := e.apiCall(http.MethodPost, "/api/v1/tenants/sec06/clients", e.apiKey(tn), map[string]any{"redirect_uris": []string{uri}})
			if st != http.StatusBadRequest || !strings.Contains(mustJSON(out), "redirect_uris") || !strings.Contains(mustJSON(out), "wildcard") {
				t.Errorf("API client %s: %d %v", uri, st, out)
			}
		}
		// A client ID metadata document listing one.
		_, ch := pkce()
		resp := e.authorize(e.browser(), site, authzParams(docs.URL+"/wildcard.json", ch))
		if page := readPage(t, resp); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(page, "invalid_redirect_uri") {
			t.Errorf("CIMD document with a wildcard redirect URI: %d %.400s", resp.StatusCode, page)
		}
	})
}

// Hole 7: a code from one site (a verified custom domain) redeemed at
// another site of the same tenant (its slug subdomain) when resource was
// omitted; and host-mode issuers were built from the raw Host, so case and
// :443 variants were different issuers.
func TestSecurity_07_CodeBoundToIssuingSite(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e := newEnv(t, dsn(t), envOpts{tenantDomain: "example.com"})
		e.anyTLSName = true // the custom domain is not in the test certificate
		tn := e.tenant("sec07", nil, nil)
		domain := "mcp.acme.test"
		tn.CustomDomain, tn.CustomDomainVerified = &domain, true
		if err := e.store.UpdateTenant(context.Background(), tn); err != nil {
			t.Fatal(err)
		}
		e.deps.Sites.Invalidate()
		_, port, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
		custom := tenants.HostSite("https", domain+":"+port, tn)
		e.follow = map[string]bool{domain + ":" + port: true}
		slug, _ := e.deps.Sites.Host(tn)
		path := e.pathSite(tn)
		cid := e.publicClient(custom, "sec07")

		// A code issued at the custom domain: refused at the slug subdomain
		// and at the path-mode issuer, with and without resource.
		for _, other := range []tenants.Site{slug, path} {
			for _, withResource := range []bool{false, true} {
				code, v := e.code(custom, cid, nil)
				f := url.Values{"grant_type": {"authorization_code"}, "client_id": {cid}, "code": {code}, "code_verifier": {v}, "redirect_uri": {testRedirect}}
				if withResource {
					f.Set("resource", other.Resource)
				}
				if r, out := e.post(other.Endpoint("token"), f, nil); r.StatusCode != http.StatusBadRequest || out["access_token"] != nil {
					t.Errorf("custom-domain code at %s (resource %v): %d %v", other.Issuer, withResource, r.StatusCode, out)
				}
			}
		}
		// At its own site the code works.
		code, v := e.code(custom, cid, nil)
		if r, out := e.exchange(custom, cid, code, v); r.StatusCode != http.StatusOK {
			t.Fatalf("custom-domain code at the custom domain: %d %v", r.StatusCode, out)
		}

		// Host spellings: upper case and the default port name the same
		// issuer (the canonical one).
		issuerAt := func(host string) string {
			req, _ := http.NewRequest(http.MethodGet, "https://"+e.srv.Listener.Addr().String()+"/.well-known/oauth-authorization-server", nil)
			req.Host = host
			resp, err := e.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var md map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&md)
			s, _ := md["issuer"].(string)
			return s
		}
		for _, host := range []string{"sec07.example.com", "SEC07.Example.COM", "sec07.example.com:443", "SEC07.EXAMPLE.COM:443"} {
			if got := issuerAt(host); got != "https://sec07.example.com" {
				t.Errorf("Host %s: issuer %q, want https://sec07.example.com", host, got)
			}
		}
		if got := issuerAt("MCP.Acme.Test:" + port); got != custom.Issuer {
			t.Errorf("custom domain in upper case: issuer %q, want %q", got, custom.Issuer)
		}
	})
}

// Hole 13: after a GATEHOUSE_SECRET_KEY rotation (new key first, old kept),
// values MACed under the old key failed: a racing refresh inside the grace
// window counted as reuse and revoked the grant, consent forms on screen
// were refused, list cursors were rejected.
func TestSecurity_13_SecretKeyRotationKeepsLiveState(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e := newEnv(t, dsn(t), envOpts{})
		tn := e.tenant("sec13", nil, nil)
		site := e.pathSite(tn)
		key := e.apiKey(tn)
		cid := e.publicClient(site, "sec13")
		at0, rt0 := e.tokens(site, cid)
		r, out := e.refresh(site, cid, rt0, nil)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("refresh: %d %v", r.StatusCode, out)
		}
		rt1 := out["refresh_token"].(string)
		// A consent page on screen and a list cursor handed out before the rotation.
		e.publicClient(site, "second") // two clients: a list of one has a next page
		b := e.browser()
		_, ch := pkce()
		page := readPage(t, e.authorize(b, site, authzParams(e.publicClient(site, "third"), ch)))
		form := url.Values{"request": {between(page, `name="request" value="`, `"`)}, "csrf": {between(page, `name="csrf" value="`, `"`)}, "decision": {"approve"}}
		st, list := e.apiCall(http.MethodGet, "/api/v1/tenants/sec13/clients?limit=1", key, nil)
		cursor, _ := list["next_cursor"].(string)
		if st != http.StatusOK || cursor == "" || form.Get("csrf") == "" {
			t.Fatalf("before rotation: list %d %v; consent form %v", st, list, form)
		}

		newKey := make([]byte, 32)
		_, _ = rand.Read(newKey)
		e.restart(newKey, e.key)

		// The consent form posted after the rotation.
		resp, err := b.PostForm(site.Endpoint("consent"), form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "code=") {
			t.Errorf("consent form after a key rotation: %d %q", resp.StatusCode, loc)
		}
		// The cursor handed out before the rotation.
		if st, out := e.apiCall(http.MethodGet, "/api/v1/tenants/sec13/clients?limit=1&cursor="+url.QueryEscape(cursor), key, nil); st != http.StatusOK {
			t.Errorf("cursor after a key rotation: %d %v", st, out)
		}
		// The racing second refresh of rt0 inside the grace window gets the
		// same successor; the grant stays live.
		r, out = e.refresh(site, cid, rt0, nil)
		if r.StatusCode != http.StatusOK || out["refresh_token"] != rt1 {
			t.Fatalf("refresh inside the grace window after a key rotation: %d %v", r.StatusCode, out)
		}
		if got := e.introspect(site, key, at0); got["active"] != true {
			t.Fatalf("grant revoked by a refresh inside the grace window: %v", got)
		}
		r, out = e.refresh(site, cid, rt1, nil)
		if r.StatusCode != http.StatusOK || out["refresh_token"] == rt1 {
			t.Fatalf("refresh of the successor after a key rotation: %d %v", r.StatusCode, out)
		}
		// Once the old key is removed, its values are no longer accepted.
		e.restart(newKey)
		if st, _ := e.apiCall(http.MethodGet, "/api/v1/tenants/sec13/clients?limit=1&cursor="+url.QueryEscape(cursor), key, nil); st != http.StatusBadRequest {
			t.Errorf("cursor MACed under a removed key: %d, want 400", st)
		}
	})
}

// Hole 16: consent was never shown while a tenant used the dev IdP, even
// with skip_consent false.
func TestSecurity_16_ConsentShownWithDevIdP(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e := newEnv(t, dsn(t), envOpts{})
		// skip_consent off (the default, as the demo tenant has it).
		tn, site, cid := e.withPublicClient("sec16", "sec16", nil, nil)
		b := e.browser()
		_, ch := pkce()
		resp := e.authorize(b, site, authzParams(cid, ch))
		if !isConsentPage(resp) {
			resp.Body.Close()
			t.Fatalf("dev IdP, skip_consent off: no consent page (%d, Location %q)", resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := callbackParams(t, e.approve(b, resp)); got.Get("code") == "" {
			t.Fatalf("approve: %v", got)
		}
		e.wantEvents(t, tn, tenants.ActConsentGranted, 1)
		// skip_consent on: honoured as set with the dev IdP too, for the
		// tenant's pre-registered clients.
		skip := e.tenant("sec16-skip", nil, &tenants.Settings{SkipConsent: true})
		pre, _ := e.preregistered(skip, tenants.PreregisteredClientInput{RedirectURIs: []string{testRedirect}, TokenEndpointAuthMethod: "none"})
		resp = e.authorize(e.browser(), e.pathSite(skip), authzParams(pre, ch))
		if got := callbackParams(t, resp); got.Get("code") == "" {
			t.Errorf("dev IdP, skip_consent on: %v", got)
		}
	})
}
