package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/tenants/idp/idptest"
)

// upstreamBrowser follows redirects on the Gatehouse server and on the
// upstream IdP (host upstream), records every URL it visits, keeps cookies,
// and stops at the client's redirect URI.
func (e *env) upstreamBrowser(upstream string) (*http.Client, *[]*url.URL) {
	b := e.browser()
	var visited []*url.URL
	b.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		visited = append(visited, req.URL)
		if len(via) > 10 {
			return http.ErrUseLastResponse
		}
		if e.ours(req.URL) || req.URL.Host == upstream {
			return nil
		}
		return http.ErrUseLastResponse
	}
	return b, &visited
}

// preClient pre-registers a public client (the tenant's skip_consent then
// applies) and returns its id.
func (e *env) preClient(tn *tenants.Tenant) string {
	e.t.Helper()
	if err := e.store.CreateClient(context.Background(), &tenants.Client{TenantID: tn.ID, ID: "pre-" + tn.Slug, Kind: tenants.ClientPreregistered,
		RedirectURIs: tenants.Strings{testRedirect}, GrantTypes: tenants.Strings{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethod: "none", CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return "pre-" + tn.Slug
}

// upstreamLogin runs authorize → upstream → /oauth/callback in a browser and
// returns the final response and the URLs visited.
func (e *env) upstreamLogin(site tenants.Site, upstream, clientID, challenge string) (*http.Response, []*url.URL) {
	e.t.Helper()
	b, visited := e.upstreamBrowser(upstream)
	resp := e.authorize(b, site, authzParams(clientID, challenge))
	return resp, *visited
}

// upstreamSignIn signs in through the upstream IdP with a fresh PKCE pair,
// checks the code reaches the client (state, iss) and redeems it; it returns
// the access token, the client's PKCE challenge and the URLs visited.
func (e *env) upstreamSignIn(t *testing.T, site tenants.Site, upstream, clientID string) (accessToken, challenge string, visited []*url.URL) {
	t.Helper()
	verifier, ch := pkce()
	resp, visited := e.upstreamLogin(site, upstream, clientID, ch)
	got := callbackParams(t, resp)
	if got.Get("code") == "" || got.Get("state") != "st-123" || got.Get("iss") != site.Issuer {
		t.Fatalf("client callback %v (visited %v)", got, visited)
	}
	tr, out := e.exchange(site, clientID, got.Get("code"), verifier)
	if tr.StatusCode != 200 {
		t.Fatalf("token: %d %v", tr.StatusCode, out)
	}
	return out["access_token"].(string), ch, visited
}

// upstreamRefused checks that a sign-in the upstream IdP's user may not make
// ends on a page (no redirect to the client) that says why in words, and that
// it is the tenant's one login.failed event, with reason.
func (e *env) upstreamRefused(t *testing.T, tn *tenants.Tenant, site tenants.Site, upstream, clientID, words, reason string) {
	t.Helper()
	_, ch := pkce()
	resp, _ := e.upstreamLogin(site, upstream, clientID, ch)
	page := readPage(t, resp)
	if resp.StatusCode < 400 || resp.Header.Get("Location") != "" || !strings.Contains(page, words) {
		t.Fatalf("refused login: %d %q %.300s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	if ev := e.audit(tn, tenants.ActLoginFailed); len(ev) != 1 || ev[0].Reason != reason {
		t.Fatalf("login.failed: %+v", ev)
	}
}

func visitedHost(urls []*url.URL, host string) *url.URL {
	for _, u := range urls {
		if u.Host == host {
			return u
		}
	}
	return nil
}

// userinfo reads the tenant's userinfo with an access token.
func (e *env) userinfo(site tenants.Site, at string) map[string]any {
	e.t.Helper()
	resp, out := e.doJSON(http.MethodGet, site.Endpoint("userinfo"), at, nil)
	if resp.StatusCode != 200 {
		e.t.Fatalf("userinfo: %d %v", resp.StatusCode, out)
	}
	return out
}

// upstreamToken opens the upstream IdP token sealed on the grant of at.
func (e *env) upstreamToken(tn *tenants.Tenant, at string) (*tenants.Grant, idp.Token) {
	e.t.Helper()
	_, c := jwtParts(e.t, at)
	g, err := e.store.GetGrant(context.Background(), tn.ID, c["gid"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	raw, err := e.deps.Sealer.Open(g.UpstreamTokenSealed, tenants.UpstreamTokenContext(tn.ID, g.ID))
	if err != nil {
		e.t.Fatal(err)
	}
	var tok idp.Token
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		e.t.Fatalf("sealed upstream token is not an idp.Token: %v", err)
	}
	return g, tok
}

// TestUpstreamOIDCLogin: a tenant whose IdP is generic OIDC (mockoidc, real
// discovery, id_token, nonce and PKCE) logs in through /oauth/authorize →
// upstream → /oauth/callback → code → token, on both stores.
func TestUpstreamOIDCLogin(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		m, err := mockoidc.Run()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Shutdown() })
		iu, _ := url.Parse(m.Issuer())
		upstream := iu.Host
		e := newEnv(t, dsn(t), envOpts{})
		tn := e.tenant("oidc-up", &tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: m.ClientID, ClientSecret: m.ClientSecret,
			IssuerURL: m.Issuer(), AllowedDomains: []string{"example.com"}}, &tenants.Settings{SkipConsent: true})
		site := e.pathSite(tn)
		cid := e.preClient(tn)

		at, ch, visited := e.upstreamSignIn(t, site, upstream, cid)
		// The browser went to the IdP with our callback, PKCE S256 and a nonce.
		up := visitedHost(visited, upstream)
		if up == nil {
			t.Fatalf("never sent to the upstream IdP: %v", visited)
		}
		q := up.Query()
		if q.Get("redirect_uri") != site.Endpoint("callback") || q.Get("code_challenge_method") != "S256" ||
			q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" || q.Get("client_id") != m.ClientID {
			t.Fatalf("upstream authorize request %v", q)
		}
		if q.Get("code_challenge") == ch {
			t.Fatal("the client's PKCE challenge was forwarded upstream; Gatehouse must use its own")
		}

		info := e.userinfo(site, at)
		if info["email"] != "jane.doe@example.com" || info["sub"] == "" || info["sub"] == nil {
			t.Fatalf("userinfo %v", info)
		}
		g, utok := e.upstreamToken(tn, at)
		if g.UpstreamIdP != tenants.IdPOIDC || utok.AccessToken == "" || utok.RefreshToken == "" {
			t.Fatalf("grant %+v upstream token %+v", g, utok)
		}
		if ev := e.audit(tn, tenants.ActLoginSucceeded); len(ev) != 1 {
			t.Fatalf("login.succeeded: %+v", ev)
		}
		// The upstream refresh token works (what the refresh worker does).
		cfg, err := e.store.GetIdP(context.Background(), tn.ID, tenants.IdPOIDC)
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := e.deps.Sealer.Open(cfg.ClientSecretSealed, tenants.IdPSecretContext(tn.ID, tenants.IdPOIDC))
		prov, err := idp.New(context.Background(), idp.Config{IdP: cfg, ClientSecret: secret, RedirectURL: site.Endpoint("callback"), HTTPClient: idp.NewHTTPClient(e.deps.AllowPrivateFetch)})
		if err != nil {
			t.Fatal(err)
		}
		m.FastForward(time.Minute)
		if nt, err := prov.Refresh(context.Background(), &utok); err != nil || nt.AccessToken == utok.AccessToken {
			t.Fatalf("upstream refresh: %v", err)
		}

		// A user outside the allowed domains: a page, no code, login.failed.
		m.QueueUser(&mockoidc.MockUser{Subject: "mallory", Email: "mallory@evil.example", EmailVerified: true})
		e.upstreamRefused(t, tn, site, upstream, cid, "evil.example", idp.ReasonDomainNotAllowed)
	})
}

// TestUpstreamGitHubLogin: a GitHub tenant with an org allow-list logs in
// through the httptest GitHub (authorize, access_token, /user,
// /user/emails, /user/orgs), on both stores.
func TestUpstreamGitHubLogin(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		gh := idptest.NewGitHub()
		t.Cleanup(gh.Close)
		githubEndpoints = gh.Endpoints()
		t.Cleanup(func() { githubEndpoints = nil })
		upstream := strings.TrimPrefix(gh.URL, "http://")
		gh.SetUser(&idptest.GitHubUser{ID: 1001, Login: "dev", Name: "Dev One",
			Emails: []idptest.GitHubEmail{{Email: "dev@personal.example", Primary: true, Verified: true}, {Email: "dev@corp.example", Verified: true}},
			Orgs:   []idptest.GitHubOrg{{Login: "Acme"}}})

		e := newEnv(t, dsn(t), envOpts{})
		tn := e.tenant("gh-up", &tenants.IdPInput{Type: tenants.IdPGitHub, ClientID: gh.ClientID, ClientSecret: gh.ClientSecret,
			AllowedOrgs: []string{"acme"}, AllowedDomains: []string{"corp.example"}}, &tenants.Settings{SkipConsent: true})
		site := e.pathSite(tn)
		cid := e.preClient(tn)

		at, _, _ := e.upstreamSignIn(t, site, upstream, cid)
		az := gh.Authorizes()
		if len(az) != 1 || az[0].RedirectURI != site.Endpoint("callback") || az[0].CodeChallengeMethod != "S256" ||
			!strings.Contains(az[0].Scope, "read:org") || !strings.Contains(az[0].Scope, "user:email") {
			t.Fatalf("GitHub authorize requests %+v", az)
		}
		// The verified address in the allowed domain, not the primary one.
		if info := e.userinfo(site, at); info["email"] != "dev@corp.example" {
			t.Fatalf("userinfo %v", info)
		}
		if g, utok := e.upstreamToken(tn, at); g.UpstreamIdP != tenants.IdPGitHub || !strings.HasPrefix(utok.AccessToken, "gho_") {
			t.Fatalf("grant %+v token %+v", g, utok)
		}

		// Not in the org: refused with org_not_allowed.
		gh.SetUser(&idptest.GitHubUser{ID: 1002, Login: "outsider",
			Emails: []idptest.GitHubEmail{{Email: "o@corp.example", Primary: true, Verified: true}}, Orgs: []idptest.GitHubOrg{{Login: "other", Public: true}}})
		e.upstreamRefused(t, tn, site, upstream, cid, "organization", idp.ReasonOrgNotAllowed)

		// The user denies access at GitHub: RFC 6749 §4.1.2.1 access_denied
		// back to the client with state and iss.
		gh.SetDeny(true)
		_, ch := pkce()
		resp, _ := e.upstreamLogin(site, upstream, cid, ch)
		got := callbackParams(t, resp)
		if got.Get("error") != "access_denied" || got.Get("state") != "st-123" || got.Get("iss") != site.Issuer || got.Has("code") {
			t.Fatalf("denied: %v", got)
		}
	})
}
