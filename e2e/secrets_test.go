package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Issue 13: nothing secret in logs. With debug logging on, every flow runs
// — DCR (public and confidential), CIMD, authorize, code exchange, refresh,
// reuse, revocation, introspection, the gateway, the console login and the
// provisioning API with the admin token and an API key — and then every
// log line is searched for each secret the flows handled.
func TestNoSecretsInDebugLogs(t *testing.T) {
	t.Parallel()
	s := ownServer(t, serverOpts{Env: []string{"GATEHOUSE_LOG_LEVEL=debug", "GATEHOUSE_TEST_UPSTREAM_REFRESH_EVERY=1s"}})
	tn := newTenant(t, s, "secrets", nil)
	var secrets []string
	keep := func(kind string, v string) {
		if len(v) < 16 {
			t.Fatalf("%s too short to search for: %q", kind, v)
		}
		secrets = append(secrets, v)
	}
	keep("admin token", adminToken)

	for _, mode := range modes {
		// Public client via DCR: authorize, exchange, refresh, reuse.
		f := newFlow(t, tn.urls(mode), "Claude-User")
		f.discover(f.probe(http.MethodPost))
		f.register(map[string]any{"client_name": "Claude", "redirect_uris": []string{"https://claude.ai/api/mcp/auth_callback"},
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"}, "token_endpoint_auth_method": "none"})
		code := f.authorize(f.endpoint("authorization_endpoint"), url.Values{"resource": {f.site.Resource}})
		keep("code", code)
		access, rt := f.tokens(f.exchange(code, url.Values{"resource": {f.site.Resource}}))
		keep("access token", access)
		keep("refresh token", rt)
		access2, rt2 := f.tokens(f.refresh(rt, nil))
		keep("access token", access2)
		keep("refresh token", rt2)
		if out := f.useToken(access2, "hello"); !strings.Contains(out, "hello") {
			t.Fatalf("gateway: %q", out)
		}
		rawMCP(f.site.Resource, access2+"x") // a bad token is logged as denied, never shown
		_ = f.refresh(rt, nil)               // reuse inside the grace window
		_ = f.exchange(code, nil)            // replayed code: revokes the grant
		f.postForm(f.endpoint("revocation_endpoint"), url.Values{"token": {rt2}, "client_id": {f.clientID}}, nil)

		// Confidential client (client_secret_post) and introspection.
		c := newFlow(t, tn.urls(mode), "Server-Client")
		c.discover(c.probe(http.MethodPost))
		c.register(map[string]any{"client_name": "Server", "redirect_uris": []string{"https://app.e2e.test/cb"},
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"}, "token_endpoint_auth_method": "client_secret_post"})
		if c.clientSecret == "" {
			t.Fatalf("premise: a web client asking client_secret_post gets a secret: %v", c.client)
		}
		{
			keep("client secret", c.clientSecret)
			code := c.authorize(c.endpoint("authorization_endpoint"), url.Values{"resource": {c.site.Resource}})
			keep("code", code)
			a, r := c.tokens(c.exchange(code, url.Values{"resource": {c.site.Resource}}))
			keep("access token", a)
			keep("refresh token", r)
			c.postForm(c.endpoint("introspection_endpoint"), url.Values{"token": {a}, "client_id": {c.clientID}, "client_secret": {c.clientSecret}}, nil)
		}

		// CIMD client.
		doc := "https://client.e2e.test/secrets-" + mode + "-" + tenants.RandomID()[:6] + ".json"
		cimd.put(doc, map[string]any{"client_id": doc, "client_name": "CIMD app", "redirect_uris": []string{"http://127.0.0.1:9/cb"},
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"}, "token_endpoint_auth_method": "none"})
		m := newFlow(t, tn.urls(mode), "CIMD-App")
		m.discover(m.probe(http.MethodPost))
		m.clientID, m.redirectURI = doc, "http://127.0.0.1:9/cb"
		code = m.authorize(m.endpoint("authorization_endpoint"), url.Values{"resource": {m.site.Resource}})
		keep("code", code)
		a, r := m.tokens(m.exchange(code, url.Values{"resource": {m.site.Resource}}))
		keep("access token", a)
		keep("refresh token", r)
	}

	// A team whose users sign in at an OpenID Connect provider (mockoidc):
	// the upstream IdP's tokens pass through the callback, are sealed on
	// the grant, and are renewed by the upstream refresh worker (mockoidc's
	// 10 min tokens are inside the 10 min refresh window at once).
	m, upstream := startUpstreamIdP(t)
	keep("IdP client secret", m.ClientSecret)
	oidcTeam := newTenant(t, s, "upstream", map[string]any{"idp": map[string]any{"type": "oidc", "issuer_url": m.Issuer(),
		"client_id": m.ClientID, "client_secret": m.ClientSecret}})
	u := newFlow(t, oidcTeam.urls(tenants.ModePath), "Claude-User")
	u.discover(u.probe(http.MethodPost))
	u.registerPublic("Claude", []string{"https://claude.ai/api/mcp/auth_callback"}, nil)
	ua, ur := u.connect(nil)
	keep("access token", ua)
	keep("refresh token", ur)
	deadline := time.Now().Add(30 * time.Second)
	for upstream.refreshes() == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if upstream.refreshes() == 0 {
		t.Fatalf("the upstream refresh worker never refreshed the upstream token:\n%s", strings.Join(s.logLines("upstream"), "\n"))
	}
	for _, tok := range upstream.all() {
		keep("upstream IdP token", tok)
	}
	t.Logf("upstream IdP: %d tokens handed to Gatehouse, %d refreshes by the worker", len(upstream.all()), upstream.refreshes())

	// Provisioning API: an API key made and used; the admin token used.
	st, k := s.api(t, http.MethodPost, "/api/v1/tenants/"+tn.slug+"/api-keys", map[string]any{"name": "ci"})
	key, _ := k["key"].(string)
	if st != http.StatusCreated || key == "" {
		t.Fatalf("api key: %d %v", st, k)
	}
	keep("API key", key)
	req, _ := http.NewRequest(http.MethodGet, s.base+"/api/v1/tenants/"+tn.slug, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if resp, err := httpClient().Do(req); err == nil {
		resp.Body.Close()
	}
	// Console login with the API key (the form posts the token).
	hc := httpClient()
	if resp, err := hc.PostForm(s.base+"/console/login", url.Values{"token": {key}}); err == nil {
		resp.Body.Close()
	}

	assertNoSecretsInLog(t, s, secrets)
}

// assertNoSecretsInLog fails if any secret — whole, its first 16
// characters, or URL-escaped — appears in the server's log. Secrets under
// 8 characters (TOTP codes) cannot be searched for without false alarms
// and are left out.
func assertNoSecretsInLog(t *testing.T, s *server, secrets []string) {
	t.Helper()
	s.mu.Lock()
	logs := s.logs.String()
	s.mu.Unlock()
	if !strings.Contains(logs, `"level":"DEBUG"`) && !strings.Contains(logs, `"level":"INFO"`) {
		t.Fatalf("premise: no log lines captured")
	}
	searched := 0
	for _, sec := range secrets {
		if len(sec) < 8 {
			continue
		}
		searched++
		frags := []string{sec, url.QueryEscape(sec)}
		if len(sec) > 16 {
			frags = append(frags, sec[:16])
		}
		for _, frag := range frags {
			if i := strings.Index(logs, frag); i >= 0 {
				start := strings.LastIndex(logs[:i], "\n") + 1
				end := strings.Index(logs[i:], "\n")
				if end < 0 {
					end = len(logs) - i
				}
				t.Fatalf("a secret (%d chars) appears in the log:\n%s", len(sec), logs[start:i+end])
			}
		}
	}
	t.Logf("MEASURED: %d log lines (debug) scanned for %d secrets: none found", strings.Count(logs, "\n"), searched)
}
