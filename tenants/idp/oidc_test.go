package idp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testidp"
)

// countingTransport counts requests per path, proving every upstream call
// goes through Config.HTTPClient.
type countingTransport struct {
	mu    sync.Mutex
	paths map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.paths[r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths[path]
}

func newCountingClient() (*http.Client, *countingTransport) {
	ct := &countingTransport{paths: map[string]int{}}
	return &http.Client{Transport: ct, Timeout: 10 * time.Second}, ct
}

// startMock runs mockoidc with S256 only (so a missing PKCE challenge would
// still be accepted, but a plain one would not).
func startMock(t *testing.T, mw ...func(http.Handler) http.Handler) *mockoidc.MockOIDC {
	t.Helper()
	return testidp.StartOIDC(t, func(m *mockoidc.MockOIDC) { m.CodeChallengeMethodsSupported = []string{"S256"} }, mw...)
}

const testRedirect = "http://127.0.0.1:9/oauth/callback"

func mockConfig(m *mockoidc.MockOIDC, hc *http.Client, typ string) Config {
	c := Config{
		IdP:          &tenants.IdPConfig{TenantID: "t1", Type: typ, ClientID: m.ClientID},
		ClientSecret: m.ClientSecret,
		RedirectURL:  testRedirect,
		HTTPClient:   hc,
	}
	if typ == tenants.IdPOIDC {
		c.IdP.IssuerURL = m.Issuer()
	} else {
		c.Endpoints = &Endpoints{Issuer: m.Issuer()}
	}
	return c
}

// browse plays the browser at the upstream authorize endpoint: it follows
// nothing, and returns the callback query the upstream redirected to.
func browse(t *testing.T, authURL string) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: HTTP %d %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), testRedirect) {
		t.Fatalf("redirected to %s, want %s", loc, testRedirect)
	}
	return loc.Query()
}

type flow struct {
	state, nonce, verifier string
}

// mockProvider starts mockoidc (with mw) and the generic OIDC provider
// configured against it.
func mockProvider(t *testing.T, mw ...func(http.Handler) http.Handler) (*mockoidc.MockOIDC, Provider) {
	t.Helper()
	m := startMock(t, mw...)
	hc, _ := newCountingClient()
	p := mustNew(t, context.Background(), mockConfig(m, hc, tenants.IdPOIDC))
	return m, p
}

// mustNew is New for a config the test expects to be good.
func mustNew(t *testing.T, ctx context.Context, cfg Config) Provider {
	t.Helper()
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// domainProviders makes typ providers against m, each limited to the
// allowed email domains it is given (none: any domain).
func domainProviders(t *testing.T, m *mockoidc.MockOIDC, typ string) func(domains ...string) Provider {
	hc, _ := newCountingClient()
	return func(domains ...string) Provider {
		t.Helper()
		cfg := mockConfig(m, hc, typ)
		cfg.IdP.AllowedDomains = domains
		return mustNew(t, context.Background(), cfg)
	}
}

// authorize starts a flow at p and returns it with the callback's query.
func authorize(t *testing.T, p Provider) (flow, url.Values) {
	t.Helper()
	f := newFlow()
	return f, browse(t, p.AuthCodeURL(f.state, f.nonce, f.verifier))
}

func newFlow() flow {
	return flow{state: tenants.RandomToken(), nonce: tenants.RandomToken(), verifier: oauth2.GenerateVerifier()}
}

func loginError(t *testing.T, err error, reason string) *LoginError {
	t.Helper()
	var le *LoginError
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T), want *LoginError %s", err, err, reason)
	}
	if le.Reason != reason {
		t.Fatalf("reason %q (%v), want %q", le.Reason, le, reason)
	}
	return le
}

func TestOIDCLoginFlowPKCEAndNonce(t *testing.T) {
	m := startMock(t)
	hc, ct := newCountingClient()
	ctx := context.Background()
	p := mustNew(t, ctx, mockConfig(m, hc, tenants.IdPOIDC))
	if p.Type() != "oidc" {
		t.Fatalf("type %q", p.Type())
	}
	f := newFlow()
	au, _ := url.Parse(p.AuthCodeURL(f.state, f.nonce, f.verifier))
	q := au.Query()
	// RFC 7636 §4.3: S256 challenge of our verifier; OIDC Core §3.1.2.1 nonce.
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") != oauth2.S256ChallengeFromVerifier(f.verifier) {
		t.Fatalf("PKCE not sent: %v", q)
	}
	if q.Get("nonce") != f.nonce || q.Get("state") != f.state || q.Get("client_id") != m.ClientID ||
		q.Get("redirect_uri") != testRedirect || q.Get("response_type") != "code" || q.Get("scope") != "openid email profile" {
		t.Fatalf("authorize params: %v", q)
	}
	if !strings.HasPrefix(au.String(), m.AuthorizationEndpoint()) {
		t.Fatalf("authorize URL %s not from discovery", au)
	}
	cb := browse(t, au.String())
	if cb.Get("state") != f.state {
		t.Fatalf("state %q", cb.Get("state"))
	}
	id, tok, err := p.Exchange(ctx, cb.Get("code"), f.nonce, f.verifier)
	if err != nil {
		t.Fatal(err)
	}
	want := &Identity{Subject: "1234567890", Email: "jane.doe@example.com", EmailVerified: true, Username: "jane.doe"}
	if id.Subject != want.Subject || id.Email != want.Email || !id.EmailVerified || id.Username != want.Username {
		t.Fatalf("identity %+v, want %+v", id, want)
	}
	// docs/SECURITY.md §10: users are keyed by the configured issuer too.
	if id.Issuer != m.Issuer() {
		t.Fatalf("identity issuer %q, want %q", id.Issuer, m.Issuer())
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v", tok)
	}
	for _, path := range []string{"/oidc/.well-known/openid-configuration", "/oidc/token", "/oidc/.well-known/jwks.json"} {
		if ct.count(path) == 0 {
			t.Errorf("%s not fetched through Config.HTTPClient", path)
		}
	}
}

// RFC 7636 §4.6: the upstream checks our verifier; a wrong one fails the
// exchange, so the challenge really was sent and bound to the code.
func TestOIDCPKCEWrongVerifierRefused(t *testing.T) {
	_, p := mockProvider(t)
	f, cb := authorize(t, p)
	_, _, err := p.Exchange(context.Background(), cb.Get("code"), f.nonce, oauth2.GenerateVerifier())
	le := loginError(t, err, ReasonUpstreamError)
	if strings.Contains(le.Error(), cb.Get("code")) {
		t.Fatalf("error text carries the code: %v", le)
	}
}

// OIDC Core §3.1.3.7 step 11: an id_token whose nonce is not this flow's is
// refused (a replayed or injected code).
func TestOIDCNonceMismatchRefused(t *testing.T) {
	_, p := mockProvider(t)
	f, cb := authorize(t, p)
	_, _, err := p.Exchange(context.Background(), cb.Get("code"), "another-flows-nonce", f.verifier)
	loginError(t, err, ReasonNonceMismatch)
}

// A code is single use upstream; the error surfaced must not echo it
// (mockoidc's error_description does: "Invalid code: <code>").
func TestOIDCCodeReuseErrorIsSafe(t *testing.T) {
	_, p := mockProvider(t)
	f, cb := authorize(t, p)
	if _, _, err := p.Exchange(context.Background(), cb.Get("code"), f.nonce, f.verifier); err != nil {
		t.Fatal(err)
	}
	_, _, err := p.Exchange(context.Background(), cb.Get("code"), f.nonce, f.verifier)
	le := loginError(t, err, ReasonUpstreamError)
	if strings.Contains(le.Error(), cb.Get("code")) || strings.Contains(le.Message, cb.Get("code")) {
		t.Fatalf("error text carries the code: %q", le.Error())
	}
	if !strings.Contains(le.Error(), "invalid_grant") {
		t.Fatalf("error should name the OAuth error code: %q", le.Error())
	}
}

// tamperIDToken rewrites the id_token's payload in token responses while
// on is set, keeping the original signature.
func tamperIDToken(on *bool, mu *sync.Mutex) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			active := *on
			mu.Unlock()
			if !active || r.URL.Path != mockoidc.TokenEndpoint {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var body map[string]any
			if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &body) == nil {
				if raw, ok := body["id_token"].(string); ok {
					parts := strings.Split(raw, ".")
					payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
					payload = bytes.Replace(payload, []byte(`"sub":"1234567890"`), []byte(`"sub":"0000000001"`), 1)
					parts[1] = base64.RawURLEncoding.EncodeToString(payload)
					body["id_token"] = strings.Join(parts, ".")
				}
				b, _ := json.Marshal(body)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(b)
				return
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}
}

// OIDC Core §3.1.3.7 step 6: an id_token whose signature does not verify
// against the issuer's JWKS is refused.
func TestOIDCTamperedIDTokenRefused(t *testing.T) {
	var mu sync.Mutex
	on := true
	_, p := mockProvider(t, tamperIDToken(&on, &mu))
	f, cb := authorize(t, p)
	_, _, err := p.Exchange(context.Background(), cb.Get("code"), f.nonce, f.verifier)
	loginError(t, err, ReasonBadIDToken)

	// Same server untampered: the login works (the refusal was the tamper).
	mu.Lock()
	on = false
	mu.Unlock()
	f = newFlow()
	cb = browse(t, p.AuthCodeURL(f.state, f.nonce, f.verifier))
	if _, _, err := p.Exchange(context.Background(), cb.Get("code"), f.nonce, f.verifier); err != nil {
		t.Fatal(err)
	}
}

// An id_token for another client (aud) is refused: the tenant's provider
// is configured with a client id the upstream did not issue to.
func TestOIDCWrongAudienceRefused(t *testing.T) {
	m := startMock(t)
	hc, _ := newCountingClient()
	p := mustNew(t, context.Background(), mockConfig(m, hc, tenants.IdPOIDC))
	f, cb := authorize(t, p)
	// Build a provider that expects another audience, same upstream.
	o := p.(*oidcProvider)
	other := *o
	other.verifier = o.p.Verifier(&oidc.Config{ClientID: "someone-else"})
	_, _, err := other.Exchange(context.Background(), cb.Get("code"), f.nonce, f.verifier)
	loginError(t, err, ReasonBadIDToken)
}

func TestOIDCRefresh(t *testing.T) {
	m := startMock(t)
	hc, _ := newCountingClient()
	ctx := context.Background()
	p := mustNew(t, ctx, mockConfig(m, hc, tenants.IdPOIDC))
	f, cb := authorize(t, p)
	_, tok, err := p.Exchange(ctx, cb.Get("code"), f.nonce, f.verifier)
	if err != nil {
		t.Fatal(err)
	}
	m.FastForward(time.Minute) // new iat, so a new access token
	// A fresh provider, as a worker would build it.
	p2 := mustNew(t, ctx, mockConfig(m, hc, tenants.IdPOIDC))
	nt, err := p2.Refresh(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if nt.AccessToken == "" || nt.AccessToken == tok.AccessToken || nt.RefreshToken == "" {
		t.Fatalf("refresh gave %+v", nt)
	}
	// Refreshing before expiry still reaches the upstream (workers renew ahead).
	if nt.Expiry.Before(time.Now()) {
		t.Fatalf("refreshed token already expired: %v", nt.Expiry)
	}

	// A garbage refresh token fails, and the error does not carry it.
	_, err = p2.Refresh(ctx, &Token{AccessToken: "x", RefreshToken: "not-a-refresh-token-123", Expiry: time.Now().Add(time.Minute)})
	if err == nil || strings.Contains(err.Error(), "not-a-refresh-token-123") {
		t.Fatalf("bad refresh: %v", err)
	}
}

func TestRefreshWithoutRefreshToken(t *testing.T) {
	m := startMock(t)
	hc, ct := newCountingClient()
	p := mustNew(t, context.Background(), mockConfig(m, hc, tenants.IdPOIDC))
	before := ct.count("/oidc/token")
	// No refresh token, no expiry: returned unchanged, nothing sent.
	in := &Token{AccessToken: "a", TokenType: "bearer"}
	out, err := p.Refresh(context.Background(), in)
	if err != nil || *out != *in {
		t.Fatalf("got %+v %v", out, err)
	}
	// Expiring but not refreshable.
	_, err = p.Refresh(context.Background(), &Token{AccessToken: "a", Expiry: time.Now().Add(time.Minute)})
	if !errors.Is(err, ErrNoRefreshToken) {
		t.Fatalf("got %v, want ErrNoRefreshToken", err)
	}
	if ct.count("/oidc/token") != before {
		t.Fatal("token endpoint called without a refresh token")
	}
}

func queueUser(m *mockoidc.MockOIDC, email string, verified bool) {
	m.QueueUser(&mockoidc.MockUser{Subject: "u-" + email, Email: email, EmailVerified: verified, PreferredUsername: "someone"})
}

func loginAs(t *testing.T, p Provider) (*Identity, error) {
	t.Helper()
	f, cb := authorize(t, p)
	id, _, err := p.Exchange(context.Background(), cb.Get("code"), f.nonce, f.verifier)
	return id, err
}

func TestOIDCAllowedDomains(t *testing.T) {
	m := startMock(t)
	mk := domainProviders(t, m, tenants.IdPOIDC)
	// Listed domain (case-insensitive) passes.
	queueUser(m, "ann@Example.COM", true)
	if id, err := loginAs(t, mk("example.com")); err != nil || id.Email != "ann@Example.COM" {
		t.Fatalf("%+v %v", id, err)
	}
	queueUser(m, "ann@example.com", true)
	if _, err := loginAs(t, mk("other.org", "EXAMPLE.com")); err != nil {
		t.Fatal(err)
	}
	// Another domain, and a subdomain, are refused.
	queueUser(m, "bob@evil.com", true)
	_, err := loginAs(t, mk("example.com"))
	loginError(t, err, ReasonDomainNotAllowed)
	queueUser(m, "bob@sub.example.com", true)
	_, err = loginAs(t, mk("example.com"))
	loginError(t, err, ReasonDomainNotAllowed)
	// Unverified email with a restriction: refused even in an allowed domain.
	queueUser(m, "eve@example.com", false)
	_, err = loginAs(t, mk("example.com"))
	loginError(t, err, ReasonEmailUnverified)
	// Without a restriction an unverified email logs in, but is not kept.
	queueUser(m, "eve@example.com", false)
	id, err := loginAs(t, mk())
	if err != nil || id.Email != "" || id.EmailVerified || id.Subject != "u-eve@example.com" {
		t.Fatalf("%+v %v", id, err)
	}
}

// userinfoUser has no email in its id_token, only at userinfo.
type userinfoUser struct {
	sub, uiSub, email string
}

func (u *userinfoUser) ID() string { return u.sub }

func (u *userinfoUser) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]any{"sub": u.uiSub, "email": u.email, "email_verified": "true", "name": "From Userinfo"})
}

func (u *userinfoUser) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return base, nil
}

// OIDC Core §5.3: email from userinfo when the id_token has none, and only
// when userinfo's sub matches (§5.3.2).
func TestOIDCUserinfoFallback(t *testing.T) {
	m := startMock(t)
	p := domainProviders(t, m, tenants.IdPOIDC)("example.com")
	m.QueueUser(&userinfoUser{sub: "s1", uiSub: "s1", email: "ui@example.com"})
	id, err := loginAs(t, p)
	if err != nil || id.Email != "ui@example.com" || !id.EmailVerified || id.Name != "From Userinfo" {
		t.Fatalf("%+v %v", id, err)
	}
	m.QueueUser(&userinfoUser{sub: "s2", uiSub: "someone-else", email: "ui@example.com"})
	_, err = loginAs(t, p)
	loginError(t, err, ReasonEmailUnverified)
}

// hdUser is a Google account with a hosted domain claim.
type hdUser struct {
	email, hd string
	verified  bool
}

func (u *hdUser) ID() string { return "g-" + u.email }

func (u *hdUser) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]any{"sub": u.ID(), "email": u.email})
}

type hdClaims struct {
	*mockoidc.IDTokenClaims
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	HD            string `json:"hd,omitempty"`
	Name          string `json:"name"`
}

func (u *hdUser) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &hdClaims{IDTokenClaims: base, Email: u.email, EmailVerified: u.verified, HD: u.hd, Name: "G User"}, nil
}

// Google runs through the OIDC path with its issuer pointed at mockoidc
// (Endpoints.Issuer): offline access + consent for a refresh token, hd
// hint, email_verified required, Workspace (hd) check with allowed domains.
func TestGoogleViaMockOIDC(t *testing.T) {
	m := startMock(t)
	mk := domainProviders(t, m, tenants.IdPGoogle)
	p := mk("corp.example")
	if p.Type() != "google" {
		t.Fatalf("type %q", p.Type())
	}
	f := newFlow()
	q, _ := url.Parse(p.AuthCodeURL(f.state, f.nonce, f.verifier))
	v := q.Query()
	if v.Get("access_type") != "offline" || v.Get("prompt") != "consent" || v.Get("hd") != "corp.example" ||
		v.Get("nonce") != f.nonce || v.Get("code_challenge_method") != "S256" || v.Get("scope") != "openid email profile" {
		t.Fatalf("google authorize params: %v", v)
	}
	if v := mustQuery(t, mk().AuthCodeURL("s", "n", "v")); v.Has("hd") {
		t.Fatalf("hd hint without a single domain: %v", v)
	}

	m.QueueUser(&hdUser{email: "ann@corp.example", hd: "corp.example", verified: true})
	id, err := loginAs(t, p)
	if err != nil || id.Email != "ann@corp.example" || id.Name != "G User" {
		t.Fatalf("%+v %v", id, err)
	}
	// A verified corp.example address on a non-Workspace account: refused.
	m.QueueUser(&hdUser{email: "ann@corp.example", verified: true})
	_, err = loginAs(t, p)
	loginError(t, err, ReasonDomainNotAllowed)
	// Gmail accounts have no hd and pass when gmail.com is allowed.
	m.QueueUser(&hdUser{email: "joe@gmail.com", verified: true})
	if _, err := loginAs(t, mk("gmail.com")); err != nil {
		t.Fatal(err)
	}
	// Unverified email: refused even with no domain restriction.
	m.QueueUser(&hdUser{email: "joe@gmail.com", verified: false})
	_, err = loginAs(t, mk())
	loginError(t, err, ReasonEmailUnverified)
}

func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// Discovery runs once per issuer (and client) within DiscoveryTTL.
func TestDiscoveryCachedWithTTL(t *testing.T) {
	m := startMock(t)
	hc, ct := newCountingClient()
	var mu sync.Mutex
	now := time.Now()
	withProviderClock(t, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })

	const disc = "/oidc/.well-known/openid-configuration"
	for i := 0; i < 3; i++ {
		if _, err := New(context.Background(), mockConfig(m, hc, tenants.IdPOIDC)); err != nil {
			t.Fatal(err)
		}
	}
	if n := ct.count(disc); n != 1 {
		t.Fatalf("discovered %d times, want 1", n)
	}
	mu.Lock()
	now = now.Add(DiscoveryTTL + time.Second)
	mu.Unlock()
	if _, err := New(context.Background(), mockConfig(m, hc, tenants.IdPOIDC)); err != nil {
		t.Fatal(err)
	}
	if n := ct.count(disc); n != 2 {
		t.Fatalf("discovered %d times after TTL, want 2", n)
	}
}

// Provisioning trims a trailing slash from issuer_url; an issuer configured
// with one still discovers (the published issuer is used).
func TestOIDCIssuerTrailingSlash(t *testing.T) {
	m := startMock(t)
	hc, _ := newCountingClient()
	cfg := mockConfig(m, hc, tenants.IdPOIDC)
	cfg.IdP.IssuerURL = m.Issuer() + "/"
	p := mustNew(t, context.Background(), cfg)
	if _, err := loginAs(t, p); err != nil {
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(context.Background(), Config{}); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("nil IdP: %v", err)
	}
	if _, err := New(context.Background(), Config{IdP: &tenants.IdPConfig{Type: tenants.IdPDev}}); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("dev: %v", err)
	}
	// An unreachable issuer is a transient error, not a LoginError (the
	// refresh worker treats LoginErrors as permanent).
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := New(context.Background(), Config{IdP: &tenants.IdPConfig{Type: tenants.IdPOIDC, ClientID: "c", IssuerURL: srv.URL}})
	var le *LoginError
	if err == nil || errors.As(err, &le) {
		t.Fatalf("unreachable issuer: %v", err)
	}
}

// multiAudUser's id_token names a second audience and an azp.
type multiAudUser struct{ azp string }

func (u *multiAudUser) ID() string                        { return "multi" }
func (u *multiAudUser) Userinfo([]string) ([]byte, error) { return []byte(`{"sub":"multi"}`), nil }
func (u *multiAudUser) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	base.Audience = append(base.Audience, "another-client")
	return &struct {
		*mockoidc.IDTokenClaims
		AZP string `json:"azp,omitempty"`
	}{base, u.azp}, nil
}

// OIDC Core §3.1.3.7 steps 4-5: with several audiences, azp must be our
// client id.
func TestOIDCMultipleAudiencesNeedAZP(t *testing.T) {
	m, p := mockProvider(t)
	m.QueueUser(&multiAudUser{azp: "another-client"})
	_, err := loginAs(t, p)
	loginError(t, err, ReasonBadIDToken)
	m.QueueUser(&multiAudUser{azp: m.ClientID})
	if _, err := loginAs(t, p); err != nil {
		t.Fatal(err)
	}
}

// docs/SECURITY.md §11: while allowed_domains is set, every refresh reads
// the user's claims again and applies the rule as it stands: an address
// outside the (possibly narrowed) domains is refused for good.
func TestSecurity_11_OIDCDomainRecheckedAtRefresh(t *testing.T) {
	m := startMock(t)
	hc, ct := newCountingClient()
	ctx := context.Background()
	cfg := mockConfig(m, hc, tenants.IdPOIDC)
	cfg.IdP.AllowedDomains = tenants.Strings{"example.com"}
	p := mustNew(t, ctx, cfg)
	f, cb := authorize(t, p)
	_, tok, err := p.Exchange(ctx, cb.Get("code"), f.nonce, f.verifier)
	if err != nil {
		t.Fatal(err)
	}
	m.FastForward(time.Minute)
	nt, err := p.Refresh(ctx, tok)
	if err != nil {
		t.Fatalf("refresh of an allowed user: %v", err)
	}
	// The tenant narrowed its domains; the next refresh refuses.
	narrowed := mockConfig(m, hc, tenants.IdPOIDC)
	narrowed.IdP.AllowedDomains = tenants.Strings{"acme.example"}
	p2 := mustNew(t, ctx, narrowed)
	m.FastForward(time.Minute)
	before := ct.count("/oidc/token")
	_, err = p2.Refresh(ctx, nt)
	loginError(t, err, ReasonDomainNotAllowed)
	if n := ct.count("/oidc/token"); n <= before {
		t.Fatalf("token endpoint calls %d -> %d: the refusal did not come from a refresh", before, n)
	}
}
