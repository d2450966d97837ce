package oauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/api"
	"github.com/gatehouse/gatehouse/api/demo"
	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/tenants/limits"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// testProviders builds upstream IdPs for every test env: the fake upstream
// for issuer https://fake-idp.test, the real providers otherwise.
func testProviders(ctx context.Context, cfg idp.Config) (idp.Provider, error) {
	if cfg.IdP != nil && cfg.IdP.IssuerURL == fakeIssuer {
		return &fakeProvider{redirect: cfg.RedirectURL}, nil
	}
	if cfg.IdP != nil && cfg.IdP.Type == tenants.IdPGitHub && githubEndpoints != nil {
		cfg.Endpoints = githubEndpoints
	}
	return idp.New(ctx, cfg)
}

// githubEndpoints points GitHub tenants at a test GitHub (set by that test).
var githubEndpoints *idp.Endpoints

// backends runs fn on SQLite and on Postgres.
var backends = testkit.Backends

type envOpts struct {
	tenantDomain string // host mode (TLS server, *.example.com certificate)
	cimdTrust    *httptest.Server
	private      *bool // AllowPrivateFetch (default true)
	// limits replaces the default in-memory limiter (benchmarks run more
	// flows per minute from one address than the per-client limits allow).
	limits limits.Limiter
	// bus, when set, is the replicas' bus: the caches it keeps current
	// are on, as in production. auditInMemory keeps audit events out of
	// the database (production enqueues them on Redis).
	bus           tenants.Bus
	auditInMemory bool
	// trustLoopbackProxy believes X-Forwarded-For from 127.0.0.1 (loads
	// that spread client addresses past the per-IP limits).
	trustLoopbackProxy bool
}

type env struct {
	t   testing.TB
	kit *testkit.Kit
	// auditor sees every audit event and fails the test on a leaked secret.
	auditor *testkit.Auditor
	store   *gormstore.Store
	deps    *httpx.Deps
	srv     *httptest.Server
	base    string
	prov    *tenants.Provisioner
	up      *httptest.Server // demo upstream MCP server
	// follow lists other hosts (upstream IdPs) the browser follows redirects to.
	follow map[string]bool
	// key is the secret key the env started with (restart rotates it).
	key []byte
	// handler serves srv; restart swaps it like a redeployed process.
	handler *atomic.Pointer[http.Handler]
	// anyTLSName lets the clients reach hosts the test certificate does not
	// name (custom domains in host mode).
	anyTLSName bool
	opts       envOpts
}

// newEnv serves the whole platform (api.New) over services the test kit
// builds as the composition root does.
func newEnv(t testing.TB, dsn string, o envOpts) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	scheme := "http"
	if o.tenantDomain != "" {
		scheme = "https"
	}
	base := scheme + "://" + srv.Listener.Addr().String()
	if o.tenantDomain != "" {
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		base = "https://" + o.tenantDomain + ":" + port
	}
	allowPrivate := true
	if o.private != nil {
		allowPrivate = *o.private
	}
	ko := testkit.Options{DSN: dsn, PublicURL: base, TenantDomain: o.tenantDomain, AllowPrivateFetch: allowPrivate,
		// HTTPClient nil: upstream IdP calls go through the outbound address
		// policy client (idp.NewHTTPClient) with the private-fetch switch.
		Limits: o.limits, Wiring: wiring.Options{NewProvider: testProviders}, Bus: o.bus, AuditInMemory: o.auditInMemory}
	if o.cimdTrust != nil {
		ko.CIMDClient = trustingClient(o.cimdTrust)
	}
	k := testkit.New(t, ko)
	e := &env{t: t, kit: k, store: k.DB, deps: k.Deps, srv: srv, base: base, key: k.Key, handler: &atomic.Pointer[http.Handler]{},
		prov: k.Deps.Provisioner, auditor: k.Audit}
	e.opts = o
	e.handler.Store(e.platform())
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*e.handler.Load()).ServeHTTP(w, r) })
	if o.tenantDomain != "" {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	e.up = httptest.NewServer(demo.Handler())
	t.Cleanup(e.up.Close)
	return e
}

// platform is the whole platform's handler over e.deps, built as the
// composition root does: with a bus, the services are subscribed to it and
// the gateway is built here.
func (e *env) platform() *http.Handler {
	e.t.Helper()
	opts := &api.Options{}
	if e.opts.trustLoopbackProxy {
		opts.TrustedProxies = []string{"127.0.0.1/32"}
	}
	if e.deps.Bus != nil {
		opts.Registry = prometheus.NewRegistry()
		opts.Gateway = gateway.New(e.deps, opts.Registry, nil)
		e.kit.Subscribe(opts.Gateway)
	}
	h, err := api.New(e.deps, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return &h
}

// restart replaces the running server by a new process over the same
// database and URL, configured with secretKeys (GATEHOUSE_SECRET_KEY: the
// first seals and MACs, every one opens and verifies).
func (e *env) restart(secretKeys ...[]byte) {
	e.t.Helper()
	e.deps = e.kit.Rekey(secretKeys...)
	e.prov = e.deps.Provisioner
	e.handler.Store(e.platform())
}

// trustingClient is a client trusting srv's certificate (the CIMD resolver
// still refuses to follow its redirects).
func trustingClient(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	return &http.Client{Transport: tr}
}

// tenant creates a tenant; idpIn nil means the dev IdP with auto_login "alice".
func (e *env) tenant(slug string, idpIn *tenants.IdPInput, st *tenants.Settings) *tenants.Tenant {
	e.t.Helper()
	if idpIn == nil {
		idpIn = &tenants.IdPInput{Type: tenants.IdPDev, AutoLogin: "alice@example.com"}
	}
	t, err := e.prov.CreateTenant(context.Background(), tenants.TenantInput{Slug: slug, Name: "Tenant " + slug, UpstreamMCPURL: e.up.URL, IdP: idpIn, Settings: st})
	if err != nil {
		e.t.Fatal(err)
	}
	e.deps.Sites.Invalidate()
	return t
}

func (e *env) pathSite(t *tenants.Tenant) tenants.Site { return e.deps.Sites.Path(t) }

// client is an HTTP client for the test server (host mode: every host
// dials the server, TLS trusted).
func (e *env) client() *http.Client {
	tr := &http.Transport{}
	if e.srv.TLS != nil {
		tr = e.srv.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.InsecureSkipVerify = e.anyTLSName
		addr := e.srv.Listener.Addr().String()
		d := &net.Dialer{}
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{Transport: tr}
}

// browser follows redirects on the server's hosts and stops at any other
// (the client's redirect URI), keeping cookies.
func (e *env) browser() *http.Client {
	c := e.client()
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !e.ours(req.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return c
}

func (e *env) ours(u *url.URL) bool {
	if e.follow[u.Host] {
		return true
	}
	if e.srv.TLS != nil {
		return strings.HasSuffix(u.Hostname(), e.deps.TenantDomain) && u.Scheme == "https"
	}
	return u.Host == e.srv.Listener.Addr().String()
}

// pkce returns a verifier and its S256 challenge.
func pkce() (string, string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	s := sha256.Sum256([]byte(v))
	return v, base64.RawURLEncoding.EncodeToString(s[:])
}

// doJSON sends a request (with body as JSON unless nil, and the bearer
// token unless "") and decodes a JSON answer.
func (e *env) doJSON(method, u, bearer string, body any) (*http.Response, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	hdr := http.Header{}
	if body != nil {
		hdr.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		hdr.Set("Authorization", "Bearer "+bearer)
	}
	resp := e.send(method, u, rd, hdr)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// send does one request to the test server with the headers of each hdr in
// turn (a later one wins) and fails the test when no response comes; the
// caller closes the body.
func (e *env) send(method, u string, body io.Reader, hdrs ...http.Header) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, hdr := range hdrs {
		for k, v := range hdr {
			req.Header[k] = v
		}
	}
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// registerClient registers a DCR client and returns the response.
func (e *env) register(site tenants.Site, body map[string]any) (int, map[string]any) {
	e.t.Helper()
	resp, out := e.doJSON(http.MethodPost, site.Endpoint("register"), "", body)
	return resp.StatusCode, out
}

const testRedirect = "http://127.0.0.1:55555/callback"

// publicClient registers a public client with testRedirect.
func (e *env) publicClient(site tenants.Site, name string) string {
	e.t.Helper()
	code, out := e.register(site, map[string]any{"redirect_uris": []string{testRedirect}, "client_name": name, "token_endpoint_auth_method": "none"})
	if code != http.StatusCreated {
		e.t.Fatalf("register: %d %v", code, out)
	}
	return out["client_id"].(string)
}

// withPublicClient is a tenant (see tenant) at its path-mode site with one
// public client (see publicClient): where most flow tests start.
func (e *env) withPublicClient(slug, clientName string, idpIn *tenants.IdPInput, st *tenants.Settings) (*tenants.Tenant, tenants.Site, string) {
	e.t.Helper()
	tn := e.tenant(slug, idpIn, st)
	site := e.pathSite(tn)
	return tn, site, e.publicClient(site, clientName)
}

// authzParams are the usual authorization request parameters.
func authzParams(clientID, challenge string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {testRedirect}, "state": {"st-123"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
}

// authorize runs an authorization request in browser b and returns the final
// response (a redirect to the client, or a page).
func (e *env) authorize(b *http.Client, site tenants.Site, q url.Values) *http.Response {
	e.t.Helper()
	resp, err := b.Get(site.Endpoint("authorize") + "?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// callbackParams parses the Location of a redirect to the client.
func callbackParams(t testing.TB, resp *http.Response) url.Values {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("want a redirect to the client, got %d: %.300s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), "http://127.0.0.1:") && !strings.Contains(loc.String(), "://") {
		t.Fatalf("unexpected redirect %s", loc)
	}
	return loc.Query()
}

// isConsentPage reports whether resp is the authorization server's consent page.
func isConsentPage(resp *http.Response) bool {
	return resp.StatusCode == http.StatusOK && strings.HasSuffix(resp.Request.URL.Path, "/oauth/consent")
}

// approve answers a consent page in browser b the way a user of a real
// client does: it posts the page's own form (its action, request id and
// CSRF token) with "approve". Any other response is returned as it is.
func (e *env) approve(b *http.Client, resp *http.Response) *http.Response {
	e.t.Helper()
	if !isConsentPage(resp) {
		return resp
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	field := func(a, b string) string {
		i := strings.Index(page, a)
		if i < 0 {
			e.t.Fatalf("consent page without %s: %.300s", a, page)
		}
		rest := page[i+len(a):]
		return html.UnescapeString(rest[:strings.Index(rest, b)])
	}
	action, _ := resp.Request.URL.Parse(field(`<form method="post" action="`, `"`))
	r, err := b.PostForm(action.String(), url.Values{"request": {field(`name="request" value="`, `"`)},
		"csrf": {field(`name="csrf" value="`, `"`)}, "decision": {"approve"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// code runs a full dev-IdP authorization for a public client; the user
// approves the consent page when it is shown.
func (e *env) code(site tenants.Site, clientID string, extra url.Values) (code, verifier string) {
	e.t.Helper()
	v, ch := pkce()
	q := authzParams(clientID, ch)
	for k, vs := range extra {
		q[k] = vs
	}
	b := e.browser()
	got := callbackParams(e.t, e.approve(b, e.authorize(b, site, q)))
	if got.Get("code") == "" {
		e.t.Fatalf("no code: %v", got)
	}
	return got.Get("code"), v
}

// post posts a form and decodes a JSON answer.
func (e *env) post(endpoint string, form url.Values, hdr http.Header) (*http.Response, map[string]any) {
	e.t.Helper()
	resp := e.send(http.MethodPost, endpoint, strings.NewReader(form.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, hdr)
	defer resp.Body.Close()
	var out map[string]any
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &out)
	return resp, out
}

// exchange redeems a code at the token endpoint.
func (e *env) exchange(site tenants.Site, clientID, code, verifier string) (*http.Response, map[string]any) {
	return e.post(site.Endpoint("token"), url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {code},
		"code_verifier": {verifier}, "redirect_uri": {testRedirect}}, nil)
}

// tokens runs authorize + exchange and returns access and refresh tokens.
func (e *env) tokens(site tenants.Site, clientID string) (string, string) {
	e.t.Helper()
	code, v := e.code(site, clientID, nil)
	resp, out := e.exchange(site, clientID, code, v)
	if resp.StatusCode != 200 {
		e.t.Fatalf("exchange: %d %v", resp.StatusCode, out)
	}
	rt, _ := out["refresh_token"].(string)
	return out["access_token"].(string), rt
}

func (e *env) refresh(site tenants.Site, clientID, rt string, extra url.Values) (*http.Response, map[string]any) {
	f := url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {rt}}
	for k, v := range extra {
		f[k] = v
	}
	return e.post(site.Endpoint("token"), f, nil)
}

// apiKey makes a tenant API key (for introspection).
func (e *env) apiKey(t *tenants.Tenant) string {
	key, _, err := e.prov.CreateAPIKey(context.Background(), t, tenants.APIKeyInput{Name: "test"})
	e.auditor.Watch(key)
	if err != nil {
		e.t.Fatal(err)
	}
	return key
}

func (e *env) introspect(site tenants.Site, key, token string) map[string]any {
	e.t.Helper()
	resp, out := e.post(site.Endpoint("introspect"), url.Values{"token": {token}}, http.Header{"Authorization": {"Bearer " + key}})
	if resp.StatusCode != 200 {
		e.t.Fatalf("introspect: %d %v", resp.StatusCode, out)
	}
	return out
}

// audit lists a tenant's audit events with an action.
func (e *env) audit(t *tenants.Tenant, action string) []tenants.AuditEvent {
	e.t.Helper()
	items, _, err := e.store.ListAuditEvents(context.Background(), t.ID, tenants.AuditFilter{Action: action, Page: tenants.Page{Limit: 200}})
	if err != nil {
		e.t.Fatal(err)
	}
	return items
}

// wantActive checks what introspection at site (with API key) says of
// token: active or not; what says which token, for the message.
func (e *env) wantActive(t testing.TB, site tenants.Site, key, token string, active bool, what string) {
	t.Helper()
	if got := e.introspect(site, key, token); got["active"] != active {
		t.Errorf("%s: introspection active %v, want %v: %v", what, got["active"], active, got)
	}
}

// wantEvents checks that tenant tn's audit log holds n events of action.
func (e *env) wantEvents(t testing.TB, tn *tenants.Tenant, action string, n int) {
	t.Helper()
	if got := len(e.audit(tn, action)); got != n {
		t.Errorf("%s events: %d, want %d", action, got, n)
	}
}

func jwtParts(t testing.TB, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	var h, c map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &c) != nil {
		t.Fatalf("bad JWT %q", tok)
	}
	return h, c
}

// fakeProvider is an upstream IdP that logs in immediately: AuthCodeURL
// sends the browser straight back to the callback with code "ok:<user>".
// Code "deny:<reason>" answers a LoginError.
const fakeIssuer = "https://fake-idp.test"

type fakeProvider struct{ redirect string }

var fakeSeen sync.Map // nonce → verifier, to check they round-trip

func (f *fakeProvider) Type() string { return tenants.IdPOIDC }

func (f *fakeProvider) AuthCodeURL(state, nonce, verifier string) string {
	fakeSeen.Store(nonce, verifier)
	user := "bob"
	if v, ok := fakeNext.Load("user"); ok {
		user = v.(string)
	}
	return f.redirect + "?" + url.Values{"state": {state}, "code": {user}}.Encode()
}

var fakeNext sync.Map

func (f *fakeProvider) Exchange(ctx context.Context, code, nonce, verifier string) (*idp.Identity, *idp.Token, error) {
	if v, ok := fakeSeen.Load(nonce); !ok || v.(string) != verifier {
		return nil, nil, &idp.LoginError{Reason: "nonce_mismatch", Message: "nonce or verifier did not round-trip"}
	}
	if r, ok := strings.CutPrefix(code, "deny:"); ok {
		return nil, nil, &idp.LoginError{Reason: r, Message: "your account is not allowed here"}
	}
	return &idp.Identity{Subject: "sub-" + code, Email: code + "@corp.example", EmailVerified: true, Name: code},
		&idp.Token{AccessToken: "upstream-at-" + code, RefreshToken: "upstream-rt-" + code, TokenType: "Bearer"}, nil
}

func (f *fakeProvider) Refresh(ctx context.Context, t *idp.Token) (*idp.Token, error) { return t, nil }

func testdbSQLite(t *testing.T) string { return testdb.SQLite(t) }
