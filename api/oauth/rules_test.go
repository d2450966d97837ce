package oauth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

func intp(i int) *int { return &i }

func getJSON(t *testing.T, c *http.Client, u string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// TestAuthorizationServer checks each rule of docs/RULES.md §5, on both stores.
func TestAuthorizationServer(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e0 := newEnv(t, dsn(t), envOpts{})
		run := func(name string, f func(t *testing.T, e *env)) {
			t.Run(name, func(t *testing.T) {
				e := *e0
				e.t = t
				f(t, &e)
			})
		}
		run("RFC8414_Metadata", testMetadata)
		run("JWKS", testJWKS)
		run("RFC7636_PKCE_S256Required", testPKCE)
		run("RFC6749_4.1.2.1_ErrorsBeforeRedirectValidatedArePages", testErrorPages)
		run("RFC6749_4.1.2.1_ErrorsAfterRedirectValidatedRedirect", testErrorRedirects)
		run("RFC9207_ResponseHasCodeStateIss", testResponseIss)
		run("RFC8707_Resource", testResource)
		run("RFC6749_3.3_DefaultScopes", testDefaultScopes)
		run("RFC8252_7.3_LoopbackAnyPort", testLoopbackPort)
		run("RFC6749_4.1.2_CodeSingleUseReuseRevokes", testCodeReuse)
		run("RFC6749_4.1.3_FailedExchangeBurnsCode", testCodeBurn)
		run("RFC6749_4.1.3_CodeBoundToClient", testCodeClient)
		run("RFC6749_4.1.2_CodeExpires60s", testCodeExpiry)
		run("RFC9068_AccessTokenJWT", testAccessToken)
		run("OAuth21_4.3.1_RefreshRotation", testRefreshRotation)
		run("OAuth21_4.3.1_RefreshGraceSameSuccessor", testRefreshGrace)
		run("RFC9700_4.14.2_RefreshReuseAfterGraceRevokes", testRefreshReuse)
		run("RFC6749_6_RefreshCannotAddScope", testRefreshScope)
		run("RFC6749_2.3.1_ClientAuthAndHashedSecrets", testClientAuth)
		run("RFC6749_5.2_TokenEndpointErrorsNoStore", testTokenEndpoint)
		run("RFC6749_4.4_ClientCredentials", testClientCredentials)
		run("RFC7591_DCR", testDCR)
		run("RFC7591_DCRPolicy", testDCRPolicy)
		run("RFC7591_DCRRateLimited", testDCRRateLimit)
		run("RFC7009_Revocation", testRevocation)
		run("RFC7662_Introspection", testIntrospection)
		run("OIDC_UserInfo", testUserInfo)
		run("Consent", testConsent)
		run("ConsentSkipPreregistered", testSkipConsent)
		run("DevIdPForm", testDevForm)
		run("UpstreamLoginAndTokenSealed", testUpstream)
		run("CORS", testCORS)
		run("BodyLimit", testBodyLimit)
		run("AuditNeverHoldsSecrets", testAuditClean)
		run("RootFallback_Rules10", testRootFallback)
		run("TwoTenantsIsolated", testTwoTenants)
	})
}

func testMetadata(t *testing.T, e *env) {
	tn := e.tenant("meta", nil, &tenants.Settings{Scopes: []string{"mcp", "tools.write"}, DefaultScopes: []string{"mcp"}})
	site := e.pathSite(tn)
	want := map[string]any{
		"issuer":                                         site.Issuer,
		"authorization_endpoint":                         site.Issuer + "/oauth/authorize",
		"token_endpoint":                                 site.Issuer + "/oauth/token",
		"registration_endpoint":                          site.Issuer + "/oauth/register",
		"revocation_endpoint":                            site.Issuer + "/oauth/revoke",
		"introspection_endpoint":                         site.Issuer + "/oauth/introspect",
		"jwks_uri":                                       site.Issuer + "/jwks.json",
		"response_types_supported":                       []any{"code"},
		"code_challenge_methods_supported":               []any{"S256"},
		"grant_types_supported":                          []any{"authorization_code", "refresh_token"}, // client_credentials: TestSecurity_01
		"token_endpoint_auth_methods_supported":          []any{"none", "client_secret_post", "client_secret_basic", "private_key_jwt"},
		"scopes_supported":                               []any{"mcp", "tools.write"},
		"client_id_metadata_document_supported":          true,
		"authorization_response_iss_parameter_supported": true,
	}
	if site.Issuer != e.base+"/t/meta" {
		t.Fatalf("issuer %q", site.Issuer)
	}
	urls := []string{e.base + "/.well-known/oauth-authorization-server/t/meta", e.base + "/t/meta/.well-known/oauth-authorization-server",
		e.base + "/.well-known/openid-configuration/t/meta", e.base + "/t/meta/.well-known/openid-configuration"}
	for _, u := range urls {
		resp, got := getJSON(t, e.client(), u)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no CORS", u)
		}
		for k, v := range want {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("%s: %s = %#v, want %#v", u, k, got[k], v)
			}
		}
	}
	resp, _ := getJSON(t, e.client(), e.base+"/.well-known/oauth-authorization-server/t/nosuch")
	if resp.StatusCode != 404 {
		t.Errorf("unknown tenant metadata: %d", resp.StatusCode)
	}
}

func testJWKS(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("jwks-t", "jwks", nil, nil)
	at, _ := e.tokens(site, cid)
	h, _ := jwtParts(t, at)
	_, set := getJSON(t, e.client(), site.JWKSURL())
	ks, _ := set["keys"].([]any)
	found := false
	for _, k := range ks {
		m := k.(map[string]any)
		if _, priv := m["d"]; priv {
			t.Fatal("JWKS publishes a private key")
		}
		if m["kid"] == h["kid"] && m["alg"] == "ES256" && m["kty"] == "EC" {
			found = true
		}
	}
	if !found {
		t.Fatalf("token kid %v not in JWKS %v", h["kid"], set)
	}
}

func testPKCE(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("pkce", "pkce", nil, nil)
	_, ch := pkce()
	cases := map[string]func(q url.Values){
		"missing challenge": func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") },
		"plain":             func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"method absent":     func(q url.Values) { q.Del("code_challenge_method") },
		"bad challenge":     func(q url.Values) { q.Set("code_challenge", "short") },
	}
	for name, mod := range cases {
		q := authzParams(cid, ch)
		mod(q)
		got := callbackParams(t, e.authorize(e.browser(), site, q))
		if got.Get("error") != "invalid_request" || got.Get("code") != "" || got.Get("state") != "st-123" || got.Get("iss") != site.Issuer {
			t.Errorf("%s: %v", name, got)
		}
	}
	// The token endpoint demands the verifier.
	code, _ := e.code(site, cid, nil)
	resp, out := e.post(site.Endpoint("token"), url.Values{"grant_type": {"authorization_code"}, "client_id": {cid}, "code": {code}, "redirect_uri": {testRedirect}}, nil)
	if resp.StatusCode != 400 || out["error"] != "invalid_grant" {
		t.Errorf("exchange without verifier: %d %v", resp.StatusCode, out)
	}
}

func readPage(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func testErrorPages(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("errpage", "errpage", nil, nil)
	_, ch := pkce()
	cases := map[string]func(q url.Values){
		"unknown client":          func(q url.Values) { q.Set("client_id", "nope") },
		"missing client":          func(q url.Values) { q.Del("client_id") },
		"unregistered redirect":   func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") },
		"javascript redirect":     func(q url.Values) { q.Set("redirect_uri", "javascript:alert(1)") },
		"http non-loopback":       func(q url.Values) { q.Set("redirect_uri", "http://evil.example/callback") },
		"repeated redirect_uri":   func(q url.Values) { q.Add("redirect_uri", testRedirect) },
		"other path on loopback":  func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:55555/other") },
		"bad client and bad pkce": func(q url.Values) { q.Set("client_id", "nope"); q.Set("code_challenge_method", "plain") },
	}
	for name, mod := range cases {
		q := authzParams(cid, ch)
		mod(q)
		resp := e.authorize(e.browser(), site, q)
		body := readPage(t, resp)
		if resp.StatusCode < 400 || resp.Header.Get("Location") != "" {
			t.Errorf("%s: want an error page, got %d Location=%q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
		if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: page headers %v", name, resp.Header)
		}
		if !strings.Contains(body, "invalid_") {
			t.Errorf("%s: page does not name the error: %.200s", name, body)
		}
	}
}

func testErrorRedirects(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("errredir", "errredir", nil, nil)
	_, ch := pkce()
	cases := map[string]struct {
		mod  func(q url.Values)
		want string
	}{
		"response_type token": {func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		"unknown scope":       {func(q url.Values) { q.Set("scope", "admin") }, "invalid_scope"},
		"foreign resource":    {func(q url.Values) { q.Set("resource", "https://other.example/mcp") }, "invalid_target"},
		"repeated scope":      {func(q url.Values) { q.Add("scope", "mcp"); q.Add("scope", "mcp") }, "invalid_request"},
	}
	for name, c := range cases {
		q := authzParams(cid, ch)
		c.mod(q)
		got := callbackParams(t, e.authorize(e.browser(), site, q))
		if got.Get("error") != c.want || got.Get("error_description") == "" || got.Get("state") != "st-123" || got.Get("iss") != site.Issuer {
			t.Errorf("%s: %v", name, got)
		}
	}
}

func testResponseIss(t *testing.T, e *env) {
	tn, site, cid := e.withPublicClient("resp-iss", "iss", nil, nil)
	_, ch := pkce()
	b := e.browser()
	got := callbackParams(t, e.approve(b, e.authorize(b, site, authzParams(cid, ch))))
	if got.Get("code") == "" || got.Get("state") != "st-123" || got.Get("iss") != site.Issuer {
		t.Fatalf("authorization response %v", got)
	}
	e.wantEvents(t, tn, tenants.ActCodeIssued, 1)
}

func testResource(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("resource", "res", nil, nil)
	for _, res := range []string{"", site.Resource, site.Resource + "/"} {
		var extra url.Values
		if res != "" {
			extra = url.Values{"resource": {res}}
		}
		code, v := e.code(site, cid, extra)
		f := url.Values{"grant_type": {"authorization_code"}, "client_id": {cid}, "code": {code}, "code_verifier": {v}, "redirect_uri": {testRedirect}}
		if res != "" {
			f.Set("resource", res)
		}
		resp, out := e.post(site.Endpoint("token"), f, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("resource %q: %d %v", res, resp.StatusCode, out)
		}
		_, claims := jwtParts(t, out["access_token"].(string))
		if claims["aud"] != site.Resource {
			t.Errorf("resource %q: aud %v", res, claims["aud"])
		}
	}
	// At the token endpoint, another resource is invalid_target.
	code, v := e.code(site, cid, nil)
	resp, out := e.post(site.Endpoint("token"), url.Values{"grant_type": {"authorization_code"}, "client_id": {cid}, "code": {code}, "code_verifier": {v},
		"redirect_uri": {testRedirect}, "resource": {"https://elsewhere.example/mcp"}}, nil)
	if resp.StatusCode != 400 || out["error"] != "invalid_target" {
		t.Errorf("foreign resource at token: %d %v", resp.StatusCode, out)
	}
}

func testDefaultScopes(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("scopes", "scopes", nil, &tenants.Settings{Scopes: []string{"mcp", "read", "write"}, DefaultScopes: []string{"read"}})
	at, _ := e.tokens(site, cid)
	if _, c := jwtParts(t, at); c["scope"] != "read" {
		t.Errorf("absent scope: got %v, want the default", c["scope"])
	}
	code, v := e.code(site, cid, url.Values{"scope": {"write mcp"}})
	_, out := e.exchange(site, cid, code, v)
	if out["scope"] != "write mcp" {
		t.Errorf("asked scope: %v", out["scope"])
	}
}

func testLoopbackPort(t *testing.T, e *env) {
	tn := e.tenant("loopback", nil, nil)
	site := e.pathSite(tn)
	code, out := e.register(site, map[string]any{"redirect_uris": []string{"http://127.0.0.1/callback", "cursor://anysphere.cursor-mcp/oauth/callback"}, "application_type": "web"})
	if code != 201 {
		t.Fatalf("register: %d %v", code, out)
	}
	cid := out["client_id"].(string)
	_, ch := pkce()
	for _, r := range []string{"http://127.0.0.1:4711/callback", "http://127.0.0.1:80/callback", "cursor://anysphere.cursor-mcp/oauth/callback"} {
		q := authzParams(cid, ch)
		q.Set("redirect_uri", r)
		b := e.browser()
		resp := e.approve(b, e.authorize(b, site, q))
		loc := resp.Header.Get("Location")
		resp.Body.Close()
		if !strings.HasPrefix(loc, r+"?") || !strings.Contains(loc, "code=") {
			t.Errorf("redirect %s: Location %q (status %d)", r, loc, resp.StatusCode)
		}
	}
}

func testCodeReuse(t *testing.T, e *env) {
	tn, site, cid := e.withPublicClient("code-reuse", "reuse", nil, nil)
	key := e.apiKey(tn)
	code, v := e.code(site, cid, nil)
	resp, out := e.exchange(site, cid, code, v)
	if resp.StatusCode != 200 {
		t.Fatalf("first exchange: %v", out)
	}
	at, rt := out["access_token"].(string), out["refresh_token"].(string)
	if e.introspect(site, key, at)["active"] != true {
		t.Fatal("token should be active")
	}
	resp, out = e.exchange(site, cid, code, v)
	if resp.StatusCode != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("second exchange: %d %v", resp.StatusCode, out)
	}
	e.wantActive(t, site, key, at, false, "access token from a reused code still active")
	if resp, out := e.refresh(site, cid, rt, nil); resp.StatusCode != 400 || out["error"] != "invalid_grant" {
		t.Errorf("refresh token from a reused code still works: %v", out)
	}
}

func testCodeBurn(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("code-burn", "burn", nil, nil)
	wrongVerifier, _ := pkce()
	for name, f := range map[string]func(code, v string) url.Values{
		"wrong verifier": func(code, v string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {cid}, "code": {code}, "code_verifier": {wrongVerifier}, "redirect_uri": {testRedirect}}
		},
		"wrong redirect": func(code, v string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {cid}, "code": {code}, "code_verifier": {v}, "redirect_uri": {"http://127.0.0.1:55555/other"}}
		},
	} {
		code, v := e.code(site, cid, nil)
		resp, out := e.post(site.Endpoint("token"), f(code, v), nil)
		if resp.StatusCode != 400 || out["error"] != "invalid_grant" {
			t.Errorf("%s: %d %v", name, resp.StatusCode, out)
		}
		resp, out = e.exchange(site, cid, code, v)
		if resp.StatusCode != 400 || out["error"] != "invalid_grant" {
			t.Errorf("%s: the code survived a failed exchange: %d %v", name, resp.StatusCode, out)
		}
	}
}

func testCodeClient(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("code-client", "one", nil, nil)
	other := e.publicClient(site, "two")
	code, v := e.code(site, cid, nil)
	resp, out := e.exchange(site, other, code, v)
	if resp.StatusCode != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("another client redeemed the code: %d %v", resp.StatusCode, out)
	}
}

func testCodeExpiry(t *testing.T, e *env) {
	tn, site, cid := e.withPublicClient("code-expiry", "exp", nil, nil)
	code, v := e.code(site, cid, nil)
	ac := tenants.AuthCode{}
	if err := e.store.DB().Where("tenant_id = ? AND hash = ?", tn.ID, tenants.HashSecret(code)).Take(&ac).Error; err != nil {
		t.Fatal(err)
	}
	if d := ac.ExpiresAt.Sub(ac.CreatedAt); d != 60*time.Second {
		t.Errorf("code lifetime %v, want 60s", d)
	}
	if ac.Hash == code {
		t.Error("code stored in clear")
	}
	past := time.Now().UTC().Add(-time.Second)
	if err := e.store.DB().Model(&tenants.AuthCode{}).Where("tenant_id = ? AND hash = ?", tn.ID, ac.Hash).Update("expires_at", past).Error; err != nil {
		t.Fatal(err)
	}
	resp, out := e.exchange(site, cid, code, v)
	if resp.StatusCode != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("expired code: %d %v", resp.StatusCode, out)
	}
}

func testAccessToken(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("jwt", "jwt", nil, &tenants.Settings{AccessTokenTTL: intp(600)})
	code, v := e.code(site, cid, nil)
	_, out := e.exchange(site, cid, code, v)
	if out["token_type"] != "Bearer" || out["expires_in"] != float64(600) {
		t.Errorf("token response %v", out)
	}
	h, c := jwtParts(t, out["access_token"].(string))
	if h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] == nil {
		t.Errorf("header %v", h)
	}
	for _, k := range []string{"iss", "sub", "aud", "client_id", "scope", "jti", "iat", "exp", "gid"} {
		if c[k] == nil || c[k] == "" {
			t.Errorf("claim %s missing: %v", k, c)
		}
	}
	if c["iss"] != site.Issuer || c["aud"] != site.Resource || c["client_id"] != cid || c["scope"] != "mcp" {
		t.Errorf("claims %v", c)
	}
	if c["exp"].(float64)-c["iat"].(float64) != 600 {
		t.Errorf("ttl %v", c["exp"].(float64)-c["iat"].(float64))
	}
}

func testRefreshRotation(t *testing.T, e *env) {
	tn, site, cid := e.withPublicClient("rotate", "rotate", nil, nil)
	_, rt := e.tokens(site, cid)
	if len(rt) < 43 {
		t.Fatalf("refresh token %q is not 256-bit", rt)
	}
	var rows []tenants.RefreshToken
	e.store.DB().Where("tenant_id = ?", tn.ID).Find(&rows)
	for _, r := range rows {
		if r.Hash == rt || r.Hash != tenants.HashSecret(rt) {
			t.Errorf("refresh token not stored as its SHA-256 only: %+v", r)
		}
	}
	resp, out := e.refresh(site, cid, rt, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("refresh: %v", out)
	}
	rt2 := out["refresh_token"].(string)
	if rt2 == "" || rt2 == rt || out["access_token"] == "" {
		t.Fatalf("no rotation: %v", out)
	}
	resp, out = e.refresh(site, cid, rt2, nil)
	if resp.StatusCode != 200 || out["refresh_token"] == rt2 {
		t.Fatalf("second rotation: %v", out)
	}
	e.wantEvents(t, tn, tenants.ActTokenRefreshed, 2)
}

func testRefreshGrace(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("grace", "grace", nil, nil)
	_, rt := e.tokens(site, cid)
	_, first := e.refresh(site, cid, rt, nil)
	_, again := e.refresh(site, cid, rt, nil)
	if first["refresh_token"] == nil || first["refresh_token"] != again["refresh_token"] {
		t.Fatalf("within grace the old token must return the same successor: %v vs %v", first, again)
	}
	// Two concurrent refreshes (Claude.ai from two IPs) both succeed with one successor.
	_, rt = e.tokens(site, cid)
	var wg sync.WaitGroup
	got := make([]map[string]any, 4)
	codes := make([]int, 4)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, out := e.refresh(site, cid, rt, nil)
			codes[i], got[i] = resp.StatusCode, out
		}(i)
	}
	wg.Wait()
	for i := range got {
		if codes[i] != 200 || got[i]["refresh_token"] != got[0]["refresh_token"] {
			t.Fatalf("racing refresh %d: %d %v (first %v)", i, codes[i], got[i], got[0])
		}
	}
	// Grace 0 disables the window.
	_, site0, cid0 := e.withPublicClient("grace-zero", "g0", nil, &tenants.Settings{RefreshGraceSeconds: intp(0)})
	_, rt0 := e.tokens(site0, cid0)
	e.refresh(site0, cid0, rt0, nil)
	if resp, out := e.refresh(site0, cid0, rt0, nil); resp.StatusCode != 400 || out["error"] != "invalid_grant" {
		t.Errorf("grace 0: reuse accepted %v", out)
	}
}

func testRefreshReuse(t *testing.T, e *env) {
	tn, site, cid := e.withPublicClient("reuse-rt", "reuse", nil, nil)
	key := e.apiKey(tn)
	_, rt := e.tokens(site, cid)
	_, out := e.refresh(site, cid, rt, nil)
	newAT, newRT := out["access_token"].(string), out["refresh_token"].(string)
	// Move the rotation out of the grace window.
	old := time.Now().UTC().Add(-2 * time.Minute)
	if err := e.store.DB().Model(&tenants.RefreshToken{}).Where("tenant_id = ? AND hash = ?", tn.ID, tenants.HashSecret(rt)).Update("rotated_at", old).Error; err != nil {
		t.Fatal(err)
	}
	resp, out := e.refresh(site, cid, rt, nil)
	if resp.StatusCode != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("reuse after grace: %d %v", resp.StatusCode, out)
	}
	e.wantActive(t, site, key, newAT, false, "grant not revoked on reuse: access token active")
	if resp, _ := e.refresh(site, cid, newRT, nil); resp.StatusCode != 400 {
		t.Error("grant not revoked on reuse: successor still refreshes")
	}
	ev := e.audit(tn, tenants.ActRefreshReused)
	if len(ev) != 1 || ev[0].Outcome != tenants.OutcomeFailure {
		t.Errorf("refresh.reused audit: %+v", ev)
	}
}

func testRefreshScope(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("rt-scope", "rt-scope", nil, &tenants.Settings{Scopes: []string{"mcp", "read", "write"}, DefaultScopes: []string{"read"}})
	code, v := e.code(site, cid, url.Values{"scope": {"read mcp"}})
	_, out := e.exchange(site, cid, code, v)
	rt := out["refresh_token"].(string)
	resp, out := e.refresh(site, cid, rt, url.Values{"scope": {"read write"}})
	if resp.StatusCode != 400 || out["error"] != "invalid_scope" {
		t.Fatalf("scope escalation: %d %v", resp.StatusCode, out)
	}
	resp, out = e.refresh(site, cid, rt, url.Values{"scope": {"read"}})
	if resp.StatusCode != 200 || out["scope"] != "read" {
		t.Fatalf("narrower scope: %d %v", resp.StatusCode, out)
	}
}

// confidential registers a confidential web client.
func (e *env) confidential(site tenants.Site, method string, grants []string) (string, string) {
	e.t.Helper()
	body := map[string]any{"redirect_uris": []string{"https://app.example/cb"}, "token_endpoint_auth_method": method, "client_name": "conf"}
	if grants != nil {
		body["grant_types"] = grants
	}
	code, out := e.register(site, body)
	if code != 201 || out["client_secret"] == nil {
		e.t.Fatalf("register confidential: %d %v", code, out)
	}
	return out["client_id"].(string), out["client_secret"].(string)
}

// preregistered creates a client through the provisioning domain (as the
// API and console do) and returns its id and secret.
func (e *env) preregistered(tn *tenants.Tenant, in tenants.PreregisteredClientInput) (string, string) {
	e.t.Helper()
	secret, c, err := e.prov.CreatePreregisteredClient(context.Background(), tn, in)
	if err != nil {
		e.t.Fatalf("pre-register client: %v", err)
	}
	return c.ID, secret
}

// ccClient pre-registers a confidential client_credentials client.
func (e *env) ccClient(tn *tenants.Tenant, method string) (string, string) {
	return e.preregistered(tn, tenants.PreregisteredClientInput{ClientName: "machine", TokenEndpointAuthMethod: method,
		GrantTypes: []string{"client_credentials"}})
}

func testClientAuth(t *testing.T, e *env) {
	tn := e.tenant("client-auth", nil, &tenants.Settings{ClientCredentials: true})
	site := e.pathSite(tn)
	id, secret := e.ccClient(tn, "client_secret_basic")
	c, err := e.store.GetClient(context.Background(), tn.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretHash != tenants.HashSecret(secret) || strings.Contains(c.SecretHash, secret) {
		t.Fatal("client secret not stored as SHA-256")
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	basic := func(u, p string) http.Header {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(url.QueryEscape(u), url.QueryEscape(p))
		return r.Header
	}
	if resp, out := e.post(site.Endpoint("token"), cc, basic(id, secret)); resp.StatusCode != 200 {
		t.Errorf("client_secret_basic: %d %v", resp.StatusCode, out)
	}
	post := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	if resp, out := e.post(site.Endpoint("token"), post, nil); resp.StatusCode != 200 {
		t.Errorf("client_secret_post: %d %v", resp.StatusCode, out)
	}
	resp, out := e.post(site.Endpoint("token"), cc, basic(id, "wrong"))
	if resp.StatusCode != 401 || out["error"] != "invalid_client" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("wrong secret: %d %v %v", resp.StatusCode, out, resp.Header)
	}
	if resp, out := e.post(site.Endpoint("token"), url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}, nil); resp.StatusCode != 401 || out["error"] != "invalid_client" {
		t.Errorf("missing secret: %d %v", resp.StatusCode, out)
	}
	// Unknown client_id: 401 invalid_client (how Claude knows to re-register).
	resp, out = e.post(site.Endpoint("token"), url.Values{"grant_type": {"refresh_token"}, "client_id": {"dcr_gone"}, "refresh_token": {"x"}}, nil)
	if resp.StatusCode != 401 || out["error"] != "invalid_client" {
		t.Errorf("unknown client: %d %v", resp.StatusCode, out)
	}
}

func testTokenEndpoint(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("token-ep", "tok", nil, nil)
	code, v := e.code(site, cid, nil)
	resp, _ := e.exchange(site, cid, code, v)
	if resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("success headers %v", resp.Header)
	}
	resp, out := e.post(site.Endpoint("token"), url.Values{"grant_type": {"password"}, "client_id": {cid}}, nil)
	if resp.StatusCode != 400 || out["error"] != "unsupported_grant_type" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("unsupported grant: %d %v %v", resp.StatusCode, out, resp.Header)
	}
	resp, out = e.post(site.Endpoint("token"), url.Values{"client_id": {cid}}, nil)
	if resp.StatusCode != 400 || out["error"] != "invalid_request" {
		t.Errorf("no grant_type: %d %v", resp.StatusCode, out)
	}
	resp, out = e.post(site.Endpoint("token"), url.Values{"grant_type": {"authorization_code", "authorization_code"}, "client_id": {cid}}, nil)
	if resp.StatusCode != 400 || out["error"] != "invalid_request" {
		t.Errorf("repeated parameter: %d %v", resp.StatusCode, out)
	}
	if resp, out := e.post(site.Endpoint("token"), url.Values{"grant_type": {"authorization_code"}, "client_id": {cid}, "code": {"nope"}, "code_verifier": {v}}, nil); resp.StatusCode != 400 || out["error"] != "invalid_grant" {
		t.Errorf("unknown code: %d %v", resp.StatusCode, out)
	}
}

func testClientCredentials(t *testing.T, e *env) {
	tn := e.tenant("cc-t", nil, &tenants.Settings{ClientCredentials: true})
	site := e.pathSite(tn)
	id, secret := e.ccClient(tn, "client_secret_post")
	resp, out := e.post(site.Endpoint("token"), url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}, nil)
	if resp.StatusCode != 200 || out["refresh_token"] != nil {
		t.Fatalf("client_credentials: %d %v", resp.StatusCode, out)
	}
	if _, c := jwtParts(t, out["access_token"].(string)); c["sub"] != id || c["client_id"] != id || c["aud"] != site.Resource || c["gty"] != "client_credentials" {
		t.Errorf("claims %v", c)
	}
	// A pre-registered client without the grant: unauthorized_client.
	other, otherSecret := e.preregistered(tn, tenants.PreregisteredClientInput{RedirectURIs: []string{testRedirect}, TokenEndpointAuthMethod: "client_secret_post"})
	resp, out = e.post(site.Endpoint("token"), url.Values{"grant_type": {"client_credentials"}, "client_id": {other}, "client_secret": {otherSecret}}, nil)
	if resp.StatusCode != 400 || out["error"] != "unauthorized_client" {
		t.Errorf("client without the grant: %d %v", resp.StatusCode, out)
	}
	pub := e.publicClient(site, "pub")
	resp, out = e.post(site.Endpoint("token"), url.Values{"grant_type": {"client_credentials"}, "client_id": {pub}}, nil)
	if resp.StatusCode != 400 || out["error"] != "unauthorized_client" {
		t.Errorf("public client_credentials: %d %v", resp.StatusCode, out)
	}
	// DCR refuses client_credentials for a public client.
	if code, out := e.register(site, map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "none"}); code != 400 || out["error"] != "invalid_client_metadata" {
		t.Errorf("public cc registration: %d %v", code, out)
	}
}

func testDCR(t *testing.T, e *env) {
	tn := e.tenant("dcr", nil, nil)
	site := e.pathSite(tn)
	meta := map[string]any{"redirect_uris": []string{"https://claude.ai/api/mcp/auth_callback"}, "client_name": "Claude", "token_endpoint_auth_method": "none",
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"}}
	c1, a := e.register(site, meta)
	c2, b := e.register(site, meta)
	if c1 != 201 || c2 != 201 || a["client_id"] != b["client_id"] {
		t.Fatalf("identical public registration must be idempotent: %v / %v", a, b)
	}
	e.wantEvents(t, tn, tenants.ActClientRegistered, 1)
	for _, k := range []string{"client_id", "client_id_issued_at", "redirect_uris", "token_endpoint_auth_method", "grant_types", "response_types", "application_type"} {
		if a[k] == nil {
			t.Errorf("response lacks %s: %v", k, a)
		}
	}
	// A native client asking client_secret_post is answered none (no secret).
	code, out := e.register(site, map[string]any{"redirect_uris": []string{"http://127.0.0.1:3000/callback"}, "token_endpoint_auth_method": "client_secret_post"})
	if code != 201 || out["token_endpoint_auth_method"] != "none" || out["client_secret"] != nil {
		t.Errorf("native client_secret_post: %v", out)
	}
	// A web client asking client_secret_post gets it, with a secret.
	code, out = e.register(site, map[string]any{"redirect_uris": []string{"https://chatgpt.com/connector_platform_oauth_redirect"}, "token_endpoint_auth_method": "client_secret_post"})
	if code != 201 || out["token_endpoint_auth_method"] != "client_secret_post" || out["client_secret"] == nil || out["client_secret_expires_at"] != float64(0) {
		t.Errorf("web client_secret_post: %v", out)
	}
	// application_type is kept; Cursor's web + cursor:// is accepted.
	code, out = e.register(site, map[string]any{"redirect_uris": []string{"cursor://anysphere.cursor-mcp/oauth/callback"}, "application_type": "web"})
	if code != 201 || out["application_type"] != "web" {
		t.Errorf("cursor registration: %d %v", code, out)
	}
	code, out = e.register(site, map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "application_type": "native"})
	if code != 201 || out["application_type"] != "native" {
		t.Errorf("native registration: %d %v", code, out)
	}
	bad := []map[string]any{
		{"redirect_uris": []string{"http://evil.example/cb"}},
		{"redirect_uris": []string{"javascript:alert(1)"}},
		{"redirect_uris": []string{"https://a.example/cb#frag"}},
		{"redirect_uris": []string{}},
	}
	for _, m := range bad {
		if code, out := e.register(site, m); code != 400 || out["error"] != "invalid_redirect_uri" {
			t.Errorf("%v: %d %v", m, code, out)
		}
	}
	if code, out := e.register(site, map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "private_key_jwt"}); code != 400 || out["error"] != "invalid_client_metadata" {
		t.Errorf("unsupported auth method: %d %v", code, out)
	}
	resp, err := e.client().Post(site.Endpoint("register"), "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad JSON: %d", resp.StatusCode)
	}
}

func testDCRPolicy(t *testing.T, e *env) {
	closed := e.pathSite(e.tenant("dcr-closed", nil, &tenants.Settings{DCRPolicy: tenants.DCRClosed}))
	if code, out := e.register(closed, map[string]any{"redirect_uris": []string{testRedirect}}); code != 403 || out["error"] == nil {
		t.Errorf("closed: %d %v", code, out)
	}
	allow := e.pathSite(e.tenant("dcr-allow", nil, &tenants.Settings{DCRPolicy: tenants.DCRAllowlist, DCRAllowedRedirectHosts: []string{"claude.ai", "*.example.com"}}))
	if code, out := e.register(allow, map[string]any{"redirect_uris": []string{"https://claude.ai/api/mcp/auth_callback"}}); code != 201 {
		t.Errorf("allowed host: %d %v", code, out)
	}
	if code, out := e.register(allow, map[string]any{"redirect_uris": []string{"https://app.example.com/cb"}}); code != 201 {
		t.Errorf("allowed wildcard host: %d %v", code, out)
	}
	if code, out := e.register(allow, map[string]any{"redirect_uris": []string{"https://evil.example/cb"}}); code != 400 || out["error"] != "invalid_redirect_uri" {
		t.Errorf("host not allowed: %d %v", code, out)
	}
}

func testDCRRateLimit(t *testing.T, e *env) {
	site := e.pathSite(e.tenant("dcr-rate", nil, nil))
	var last int
	var lastOut map[string]any
	for i := 0; i < 21; i++ {
		last, lastOut = e.register(site, map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb" + string(rune('a'+i))}})
	}
	if last != http.StatusTooManyRequests || lastOut["error"] == nil {
		t.Fatalf("21st registration from one address: %d %v", last, lastOut)
	}
	// An identical re-registration creates nothing and is not limited.
	if code, _ := e.register(site, map[string]any{"redirect_uris": []string{"http://127.0.0.1/cba"}}); code != 201 {
		t.Errorf("idempotent re-registration limited: %d", code)
	}
	// Another tenant has its own budget.
	if code, _ := e.register(e.pathSite(e.tenant("dcr-rate2", nil, nil)), map[string]any{"redirect_uris": []string{testRedirect}}); code != 201 {
		t.Errorf("other tenant limited: %d", code)
	}
}

func testRevocation(t *testing.T, e *env) {
	tn := e.tenant("revoke", nil, nil)
	site := e.pathSite(tn)
	key := e.apiKey(tn)
	a := e.publicClient(site, "a")
	b := e.publicClient(site, "b")
	at, rt := e.tokens(site, a)
	// Another client's token: refused, nothing changes.
	resp, out := e.post(site.Endpoint("revoke"), url.Values{"token": {rt}, "client_id": {b}}, nil)
	if resp.StatusCode == 200 || out["error"] == nil {
		t.Errorf("revoking another client's token: %d %v", resp.StatusCode, out)
	}
	if e.introspect(site, key, at)["active"] != true {
		t.Fatal("another client's revocation changed something")
	}
	if r, _ := e.post(site.Endpoint("revoke"), url.Values{"token": {at}, "client_id": {b}}, nil); r.StatusCode == 200 {
		t.Error("another client revoked an access token")
	}
	// Unknown token: 200.
	if r, _ := e.post(site.Endpoint("revoke"), url.Values{"token": {"garbage"}, "client_id": {a}}, nil); r.StatusCode != 200 {
		t.Errorf("unknown token: %d", r.StatusCode)
	}
	// Own refresh token: the grant goes, access token included.
	if r, out := e.post(site.Endpoint("revoke"), url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}, "client_id": {a}}, nil); r.StatusCode != 200 {
		t.Fatalf("revoke: %d %v", r.StatusCode, out)
	}
	e.wantActive(t, site, key, at, false, "access token active after its refresh token was revoked")
	if r, _ := e.refresh(site, a, rt, nil); r.StatusCode != 400 {
		t.Error("revoked refresh token still works")
	}
	// Revoking an access token revokes its grant.
	at2, rt2 := e.tokens(site, a)
	if r, _ := e.post(site.Endpoint("revoke"), url.Values{"token": {at2}, "client_id": {a}}, nil); r.StatusCode != 200 {
		t.Fatal("revoke access token")
	}
	e.wantActive(t, site, key, at2, false, "revoked access token")
	e.wantActive(t, site, key, rt2, false, "refresh token of a revoked access token's grant")
	e.wantEvents(t, tn, tenants.ActTokenRevoked, 2)
}

func testIntrospection(t *testing.T, e *env) {
	tn, site, pub := e.withPublicClient("introspect", "pub", nil, nil)
	at, rt := e.tokens(site, pub)
	// A public client may not introspect.
	if r, out := e.post(site.Endpoint("introspect"), url.Values{"token": {at}, "client_id": {pub}}, nil); r.StatusCode != 401 || out["error"] != "invalid_client" {
		t.Errorf("public client introspection: %d %v", r.StatusCode, out)
	}
	// A confidential client that registered itself may not (TestSecurity_01).
	dcrID, dcrSecret := e.confidential(site, "client_secret_post", nil)
	if r, out := e.post(site.Endpoint("introspect"), url.Values{"token": {at}, "client_id": {dcrID}, "client_secret": {dcrSecret}}, nil); r.StatusCode != 401 || out["error"] != "invalid_client" {
		t.Errorf("DCR client introspection: %d %v", r.StatusCode, out)
	}
	// A pre-registered confidential client may.
	id, secret := e.preregistered(tn, tenants.PreregisteredClientInput{RedirectURIs: []string{"https://app.example/cb"}, TokenEndpointAuthMethod: "client_secret_post"})
	r, out := e.post(site.Endpoint("introspect"), url.Values{"token": {at}, "client_id": {id}, "client_secret": {secret}}, nil)
	if r.StatusCode != 200 || out["active"] != true || out["client_id"] != pub || out["aud"] != site.Resource || out["iss"] != site.Issuer || out["scope"] != "mcp" {
		t.Errorf("confidential introspection: %d %v", r.StatusCode, out)
	}
	// A tenant API key may; the refresh token is described too.
	key := e.apiKey(tn)
	if got := e.introspect(site, key, rt); got["active"] != true || got["token_type"] != "refresh_token" {
		t.Errorf("refresh token introspection: %v", got)
	}
	e.wantActive(t, site, key, "not-a-token", false, "garbage")
	// Another tenant's API key is unknown here.
	other := e.tenant("introspect-other", nil, nil)
	if r, _ := e.post(site.Endpoint("introspect"), url.Values{"token": {at}}, http.Header{"Authorization": {"Bearer " + e.apiKey(other)}}); r.StatusCode != 401 {
		t.Errorf("other tenant's API key: %d", r.StatusCode)
	}
}

func testUserInfo(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("userinfo", "ui", nil, nil)
	at, _ := e.tokens(site, cid)
	resp := e.send(http.MethodGet, site.Endpoint("userinfo"), nil, http.Header{"Authorization": {"Bearer " + at}})
	var info map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if resp.StatusCode != 200 || info["email"] != "alice@example.com" || info["sub"] == "" {
		t.Errorf("userinfo: %d %v", resp.StatusCode, info)
	}
	resp = e.send(http.MethodGet, site.Endpoint("userinfo"), nil, http.Header{"Authorization": {"Bearer " + at + "x"}})
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("bad token: %d %v", resp.StatusCode, resp.Header)
	}
}

// fakeIdP is an upstream OIDC IdP served by fakeProvider.
func fakeIdP() *tenants.IdPInput {
	return &tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: "upstream-client", ClientSecret: "upstream-secret", IssuerURL: fakeIssuer}
}

func testConsent(t *testing.T, e *env) {
	tn := e.tenant("consent", fakeIdP(), nil)
	site := e.pathSite(tn)
	code, out := e.register(site, map[string]any{"redirect_uris": []string{testRedirect}, "client_name": `<script>alert("x")</script>Evil`})
	if code != 201 {
		t.Fatal(out)
	}
	cid := out["client_id"].(string)
	b := e.browser()
	_, ch := pkce()
	// The flow stops at the consent page.
	resp := e.authorize(b, site, authzParams(cid, ch))
	page := readPage(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(resp.Request.URL.Path, "/oauth/consent") {
		t.Fatalf("want the consent page, got %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if strings.Contains(page, "<script>alert") || !strings.Contains(page, "&lt;script&gt;") {
		t.Error("client name not escaped")
	}
	if !strings.Contains(page, "http://127.0.0.1:55555") || !strings.Contains(page, "mcp") {
		t.Error("consent page does not show the redirect host and scopes")
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("consent headers %v", resp.Header)
	}
	reqID := between(page, `name="request" value="`, `"`)
	csrf := between(page, `name="csrf" value="`, `"`)
	if reqID == "" || csrf == "" {
		t.Fatalf("form fields missing: %s", page)
	}
	post := func(b *http.Client, f url.Values) *http.Response {
		r, err := b.PostForm(site.Endpoint("consent"), f)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// CSRF: without the token, with a wrong one, or from another browser: refused.
	for name, r := range map[string]*http.Response{
		"no csrf":         post(b, url.Values{"request": {reqID}, "decision": {"approve"}}),
		"wrong csrf":      post(b, url.Values{"request": {reqID}, "csrf": {csrf + "x"}, "decision": {"approve"}}),
		"another browser": post(e.browser(), url.Values{"request": {reqID}, "csrf": {csrf}, "decision": {"approve"}}),
	} {
		if r.StatusCode < 400 || r.Header.Get("Location") != "" {
			t.Errorf("%s: %d %s", name, r.StatusCode, r.Header.Get("Location"))
		}
		r.Body.Close()
	}
	got := callbackParams(t, post(b, url.Values{"request": {reqID}, "csrf": {csrf}, "decision": {"approve"}}))
	if got.Get("code") == "" || got.Get("state") != "st-123" || got.Get("iss") != site.Issuer {
		t.Fatalf("approve: %v", got)
	}
	e.wantEvents(t, tn, tenants.ActConsentGranted, 1)
	// Remembered per user and client: the next flow skips the page.
	got = callbackParams(t, e.authorize(b, site, authzParams(cid, ch)))
	if got.Get("code") == "" {
		t.Fatalf("remembered consent: %v", got)
	}
	// A different user is asked again, and may deny.
	fakeNext.Store("user", "carol")
	defer fakeNext.Delete("user")
	b2 := e.browser()
	resp = e.authorize(b2, site, authzParams(cid, ch))
	page = readPage(t, resp)
	if !strings.Contains(resp.Request.URL.Path, "/oauth/consent") {
		t.Fatalf("other user: not asked (%s)", resp.Request.URL)
	}
	got = callbackParams(t, post(b2, url.Values{"request": {between(page, `name="request" value="`, `"`)}, "csrf": {between(page, `name="csrf" value="`, `"`)}, "decision": {"deny"}}))
	if got.Get("error") != "access_denied" || got.Get("state") != "st-123" || got.Get("iss") != site.Issuer || got.Get("code") != "" {
		t.Errorf("deny: %v", got)
	}
	e.wantEvents(t, tn, tenants.ActConsentDenied, 1)
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	j := strings.Index(s, b)
	if j < 0 {
		return ""
	}
	return s[:j]
}

func testSkipConsent(t *testing.T, e *env) {
	ctx := context.Background()
	for _, c := range []struct {
		slug    string
		setting bool
		client  bool
	}{{"skip-client", false, true}, {"skip-tenant", true, false}} {
		tn := e.tenant(c.slug, fakeIdP(), &tenants.Settings{SkipConsent: c.setting})
		site := e.pathSite(tn)
		if err := e.store.CreateClient(ctx, &tenants.Client{TenantID: tn.ID, ID: "pre-" + c.slug, Kind: tenants.ClientPreregistered, RedirectURIs: tenants.Strings{testRedirect},
			GrantTypes: tenants.Strings{"authorization_code", "refresh_token"}, TokenEndpointAuthMethod: "none", SkipConsent: c.client, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		_, ch := pkce()
		if got := callbackParams(t, e.authorize(e.browser(), site, authzParams("pre-"+c.slug, ch))); got.Get("code") == "" {
			t.Errorf("%s: pre-registered client asked for consent: %v", c.slug, got)
		}
		// The tenant setting does not cover DCR clients.
		cid := e.publicClient(site, "dcr")
		resp := e.authorize(e.browser(), site, authzParams(cid, ch))
		resp.Body.Close()
		if !strings.Contains(resp.Request.URL.Path, "/oauth/consent") {
			t.Errorf("%s: DCR client skipped consent", c.slug)
		}
	}
}

func testDevForm(t *testing.T, e *env) {
	tn, site, cid := e.withPublicClient("devform", "dev", &tenants.IdPInput{Type: tenants.IdPDev}, nil)
	b := e.browser()
	_, ch := pkce()
	resp := e.authorize(b, site, authzParams(cid, ch))
	page := readPage(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(page, `name="username"`) {
		t.Fatalf("dev form: %d %.300s", resp.StatusCode, page)
	}
	f := url.Values{"request": {between(page, `name="request" value="`, `"`)}, "csrf": {between(page, `name="csrf" value="`, `"`)}}
	bad := url.Values{"request": f["request"], "csrf": f["csrf"], "username": {"<bad name>"}}
	r, _ := b.PostForm(site.Endpoint("dev-login"), bad)
	if r.StatusCode != 400 {
		t.Errorf("bad username: %d", r.StatusCode)
	}
	r.Body.Close()
	f.Set("username", "dave")
	r, err := b.PostForm(site.Endpoint("dev-login"), f)
	if err != nil {
		t.Fatal(err)
	}
	// The dev IdP asks for consent like any other (TestSecurity_16).
	if !isConsentPage(r) {
		t.Fatalf("dev login: want the consent page, got %d at %s", r.StatusCode, r.Request.URL)
	}
	if got := callbackParams(t, e.approve(b, r)); got.Get("code") == "" {
		t.Fatalf("dev login: %v", got)
	}
	if ev := e.audit(tn, tenants.ActLoginSucceeded); len(ev) != 1 || ev[0].Subject == "" {
		t.Errorf("login.succeeded: %+v", ev)
	}
}

func testUpstream(t *testing.T, e *env) {
	tn := e.tenant("upstream", fakeIdP(), &tenants.Settings{SkipConsent: true})
	site := e.pathSite(tn)
	ctx := context.Background()
	if err := e.store.CreateClient(ctx, &tenants.Client{TenantID: tn.ID, ID: "pre", Kind: tenants.ClientPreregistered, RedirectURIs: tenants.Strings{testRedirect},
		TokenEndpointAuthMethod: "none", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	at, _ := e.tokens(site, "pre")
	_, c := jwtParts(t, at)
	g, err := e.store.GetGrant(ctx, tn.ID, c["gid"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if g.UpstreamIdP != tenants.IdPOIDC || g.UpstreamTokenSealed == "" || strings.Contains(g.UpstreamTokenSealed, "upstream-at-") {
		t.Fatalf("upstream token not sealed on the grant: %+v", g)
	}
	raw, err := e.deps.Sealer.Open(g.UpstreamTokenSealed, tenants.UpstreamTokenContext(tn.ID, g.ID))
	if err != nil || !strings.Contains(raw, "upstream-at-bob") {
		t.Fatalf("open upstream token: %v %q", err, raw)
	}
	cl, _ := e.store.GetClient(ctx, tn.ID, "pre")
	if cl.LastUsedAt == nil {
		t.Error("client last_used_at not updated by token use")
	}
	// A refused upstream login: login.failed with the reason, and a page.
	fakeNext.Store("user", "deny:domain_not_allowed")
	defer fakeNext.Delete("user")
	_, ch := pkce()
	resp := e.authorize(e.browser(), site, authzParams("pre", ch))
	page := readPage(t, resp)
	if resp.StatusCode < 400 || !strings.Contains(page, "not allowed") {
		t.Errorf("refused login: %d %.200s", resp.StatusCode, page)
	}
	ev := e.audit(tn, tenants.ActLoginFailed)
	if len(ev) != 1 || ev[0].Reason != "domain_not_allowed" {
		t.Errorf("login.failed: %+v", ev)
	}
	// The callback only continues in the browser that started the flow.
	fakeNext.Delete("user")
	b := e.browser()
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r := e.authorize(b, site, authzParams("pre", ch))
	r.Body.Close()
	cb := r.Header.Get("Location")
	if !strings.Contains(cb, "/oauth/callback") {
		t.Fatalf("want a redirect to the (fake) upstream, got %q", cb)
	}
	r2, err := e.browser().Get(cb)
	if err != nil {
		t.Fatal(err)
	}
	if r2.StatusCode < 400 || r2.Header.Get("Location") != "" {
		t.Errorf("callback in another browser: %d", r2.StatusCode)
	}
	r2.Body.Close()
}

func testCORS(t *testing.T, e *env) {
	site := e.pathSite(e.tenant("cors", nil, nil))
	for _, u := range []string{site.Endpoint("token"), site.Endpoint("register"), site.Endpoint("revoke"), site.ASMetadataURL()} {
		resp := e.send(http.MethodOptions, u, nil, http.Header{"Origin": {"https://inspector.example"}, "Access-Control-Request-Method": {"POST"}})
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "MCP-Protocol-Version") || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
			t.Errorf("%s preflight: %d %v", u, resp.StatusCode, h)
		}
	}
}

func testBodyLimit(t *testing.T, e *env) {
	site := e.pathSite(e.tenant("bodylimit", nil, nil))
	big := strings.Repeat("a", 70<<10)
	resp, out := e.post(site.Endpoint("token"), url.Values{"grant_type": {"authorization_code"}, "code": {big}}, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || out["error"] != "invalid_request" {
		t.Errorf("token: %d %v", resp.StatusCode, out)
	}
	r, err := e.client().Post(site.Endpoint("register"), "application/json", strings.NewReader(`{"client_name":"`+big+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("register: %d", r.StatusCode)
	}
}

func testAuditClean(t *testing.T, e *env) {
	tn := e.tenant("auditclean", nil, nil)
	site := e.pathSite(tn)
	code, out := e.register(site, map[string]any{"redirect_uris": []string{"https://app.example/cb"}, "token_endpoint_auth_method": "client_secret_basic"})
	if code != 201 {
		t.Fatal(out)
	}
	secret := out["client_secret"].(string)
	cid := e.publicClient(site, "audit")
	c, v := e.code(site, cid, nil)
	_, tok := e.exchange(site, cid, c, v)
	_, tok2 := e.refresh(site, cid, tok["refresh_token"].(string), nil)
	e.post(site.Endpoint("revoke"), url.Values{"token": {tok2["refresh_token"].(string)}, "client_id": {cid}}, nil)
	evs := e.audit(tn, "")
	seen := map[string]bool{}
	for _, ev := range evs {
		seen[ev.Action] = true
		b, _ := json.Marshal(ev)
		for _, s := range []string{secret, c, v, tok["access_token"].(string), tok["refresh_token"].(string), tok2["refresh_token"].(string)} {
			if strings.Contains(string(b), s) {
				t.Errorf("audit event %s holds a secret value", ev.Action)
			}
		}
	}
	for _, a := range []string{tenants.ActClientRegistered, tenants.ActAuthorizeStarted, tenants.ActLoginSucceeded, tenants.ActCodeIssued, tenants.ActTokenIssued,
		tenants.ActTokenRefreshed, tenants.ActTokenRevoked} {
		if !seen[a] {
			t.Errorf("no %s event", a)
		}
	}
}

func testRootFallback(t *testing.T, e *env) {
	_, site, cid := e.withPublicClient("rootfb", "root", nil, nil)
	v, ch := pkce()
	q := authzParams(cid, ch)
	q.Set("resource", site.Resource)
	b := e.browser()
	resp, err := b.Get(e.base + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	got := callbackParams(t, e.approve(b, resp))
	if got.Get("code") == "" || got.Get("iss") != site.Issuer {
		t.Fatalf("root /authorize by resource: %v", got)
	}
	// Root /token by client id.
	r, out := e.post(e.base+"/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {cid}, "code": {got.Get("code")}, "code_verifier": {v}, "redirect_uri": {testRedirect}}, nil)
	if r.StatusCode != 200 || out["access_token"] == nil {
		t.Fatalf("root /token: %d %v", r.StatusCode, out)
	}
	// Root /authorize by client id alone.
	q.Del("resource")
	resp, _ = b.Get(e.base + "/authorize?" + q.Encode())
	if got := callbackParams(t, e.approve(b, resp)); got.Get("code") == "" {
		t.Errorf("root /authorize by client id: %v", got)
	}
	// Nothing to go by: 404 page, no redirect.
	resp, _ = e.browser().Get(e.base + "/authorize?client_id=nope")
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unresolvable root /authorize: %d", resp.StatusCode)
	}
	if r, _ := e.post(e.base+"/register", url.Values{}, nil); r.StatusCode != 404 {
		t.Errorf("unresolvable root /register: %d", r.StatusCode)
	}
}

func testTwoTenants(t *testing.T, e *env) {
	a := e.tenant("tenant-a", nil, nil)
	b := e.tenant("tenant-b", nil, nil)
	sa, sb := e.pathSite(a), e.pathSite(b)
	ca := e.publicClient(sa, "a")
	at, rt := e.tokens(sa, ca)
	keyB := e.apiKey(b)
	e.wantActive(t, sb, keyB, at, false, "tenant B introspection accepted tenant A's access token")
	e.wantActive(t, sb, keyB, rt, false, "tenant B introspection accepted tenant A's refresh token")
	e.wantActive(t, sa, e.apiKey(a), at, true, "tenant A's own introspection")
	// Tenant A's client is unknown at tenant B's token endpoint.
	if r, out := e.refresh(sb, ca, rt, nil); r.StatusCode != 401 || out["error"] != "invalid_client" {
		t.Errorf("tenant A client at tenant B: %d %v", r.StatusCode, out)
	}
	// And the access token is refused by tenant B's resource (gateway).
	if resp := e.mcp(sb, http.Header{"Authorization": {"Bearer " + at}}); resp.StatusCode != 401 {
		t.Errorf("tenant B's MCP endpoint accepted tenant A's token: %d", resp.StatusCode)
	}
}
