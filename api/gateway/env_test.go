package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

type env struct {
	t       testing.TB
	store   tenants.Store
	keys    *keys.Manager
	sealer  *tenants.Sealer
	deps    *httpx.Deps
	gw      *gateway.Gateway
	srv     *httptest.Server
	base    string
	audit   *testkit.Auditor
	reg     *prometheus.Registry
	prov    *tenants.Provisioner
	options *gateway.Options
}

type envOpts struct {
	dsn          string // default: a fresh SQLite file
	store        tenants.Store
	gw           *gateway.Options
	liveTTL      time.Duration // grant liveness cache (default access.DefaultLiveTTL)
	bus          tenants.Bus
	tenantDomain string
	secretKey    []byte
	logs         io.Writer // default: discarded
	mcpQuota     httpx.MCPQuota
}

// newEnv serves the gateway alone, built and subscribed by the test kit as
// the composition root does.
func newEnv(t testing.TB, o *envOpts) *env {
	t.Helper()
	if o == nil {
		o = &envOpts{}
	}
	gin.SetMode(gin.ReleaseMode)
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	logw := o.logs
	if logw == nil {
		logw = io.Discard
	}
	ko := testkit.Options{DSN: o.dsn, Store: o.store, PublicURL: base, TenantDomain: o.tenantDomain, Bus: o.bus,
		Logger: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug})), AuditInMemory: true, MCPQuota: o.mcpQuota, Wiring: wiring.Options{Verifier: &access.Options{LiveTTL: o.liveTTL}}}
	if o.secretKey != nil {
		ko.SecretKeys = [][]byte{o.secretKey}
	}
	if o.gw != nil {
		ko.Wiring.Verifier.Now = o.gw.Now
	}
	k := testkit.New(t, ko)
	e := &env{t: t, store: k.Store, keys: k.Keys, sealer: k.Sealer, deps: k.Deps, srv: srv, base: base, audit: k.Audit,
		reg: prometheus.NewRegistry(), prov: k.Deps.Provisioner, options: o.gw}
	r := gin.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.Use(httpx.Recover(k.Logger), httpx.RequestInfo(), httpx.AccessLog(k.Logger))
	e.gw = gateway.New(e.deps, e.reg, o.gw)
	k.Subscribe(e.gw)
	e.gw.Mount(r)
	e.srv.Config.Handler = e.deps.Sites.HostMode(r)
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// tenant creates a tenant pointing at upstream.
func (e *env) tenant(slug, upstream string, s *tenants.Settings) *tenants.Tenant {
	e.t.Helper()
	tn, err := e.prov.CreateTenant(context.Background(), tenants.TenantInput{Slug: slug, Name: "Tenant " + slug, UpstreamMCPURL: upstream, Settings: s})
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

func (e *env) pathSite(tn *tenants.Tenant) tenants.Site { return tenants.PathSite(e.base, tn) }

func (e *env) mcpURL(tn *tenants.Tenant) string { return e.pathSite(tn).Resource }

type tokOpts struct {
	scope   string
	ttl     time.Duration
	iat     time.Time
	site    *tenants.Site
	upToken string // sealed into the grant as the upstream IdP token
}

// token makes a user, a grant and an access token for site (default the
// tenant's path-mode site).
func (e *env) token(tn *tenants.Tenant, o *tokOpts) (string, *tenants.Grant) {
	e.t.Helper()
	if o == nil {
		o = &tokOpts{}
	}
	ctx := context.Background()
	site := e.pathSite(tn)
	if o.site != nil {
		site = *o.site
	}
	scope := o.scope
	if scope == "" {
		scope = "mcp"
	}
	now := time.Now()
	if !o.iat.IsZero() {
		now = o.iat
	}
	ttl := o.ttl
	if ttl == 0 {
		ttl = time.Hour
	}
	u := &tenants.User{TenantID: tn.ID, ID: tenants.RandomID(), IdP: tenants.IdPDev, IdPSubject: "alice-" + tenants.RandomID()[:6],
		Email: "alice@example.com", CreatedAt: now, LastLoginAt: now}
	if err := e.store.UpsertUser(ctx, u); err != nil {
		e.t.Fatal(err)
	}
	g := &tenants.Grant{TenantID: tn.ID, ID: tenants.RandomID(), UserID: u.ID, Subject: u.ID, ClientID: "client-" + tn.Slug,
		Scopes: tenants.Strings(strings.Fields(scope)), Resource: site.Resource, CreatedAt: now, ExpiresAt: time.Now().Add(24 * time.Hour)}
	if o.upToken != "" {
		sealed, err := e.sealer.Seal(`{"access_token":"`+o.upToken+`","token_type":"Bearer","expiry":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`,
			tenants.UpstreamTokenContext(tn.ID, g.ID))
		if err != nil {
			e.t.Fatal(err)
		}
		g.UpstreamTokenSealed = sealed
	}
	if err := e.store.CreateGrant(ctx, g); err != nil {
		e.t.Fatal(err)
	}
	tok, err := tokens.IssueAccessToken(ctx, e.keys, site, tokens.AccessClaims{
		Subject: u.ID, Audience: site.Resource, ClientID: g.ClientID, Scope: scope, JTI: tenants.RandomID(),
		IssuedAt: now.Unix(), ExpiresAt: now.Add(ttl).Unix(), GrantID: g.ID, Email: u.Email,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, g
}

// bearerClient adds the token to every request (as an MCP client does).
func bearerClient(tok string) *http.Client {
	return &http.Client{Transport: &bearerRT{tok: tok, base: http.DefaultTransport}}
}

type bearerRT struct {
	tok  string
	base http.RoundTripper
	// onResponse observes each response (tests synchronise on it).
	onResponse func(*http.Request, *http.Response)
}

func (b *bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	resp, err := b.base.RoundTrip(r)
	if err == nil && b.onResponse != nil {
		b.onResponse(r, resp)
	}
	return resp, err
}

// do sends a raw request to the gateway.
func (e *env) do(method, url, body string, hdr map[string]string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// series is the series of metric name whose labels have the values in
// want (nil when there is none).
func (e *env) series(name string, want map[string]string) *dto.Metric {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if l[k] != v {
					continue metrics
				}
			}
			return m
		}
	}
	return nil
}

// counter reads one series of gatehouse_mcp_requests_total.
func (e *env) counter(slug, outcome, reason string) float64 {
	e.t.Helper()
	return e.series("gatehouse_mcp_requests_total", map[string]string{"tenant": slug, "outcome": outcome, "reason": reason}).GetCounter().GetValue()
}

// serveMCP serves h as a tenant's MCP server until the test ends and
// returns its /mcp URL.
func serveMCP(t testing.TB, h http.Handler) string {
	us := httptest.NewServer(h)
	t.Cleanup(us.Close)
	return us.URL + "/mcp"
}

// upstreamRec wraps an upstream handler and records what it received.
type upstreamRec struct {
	mu   sync.Mutex
	reqs []recReq
	next http.Handler
}

type recReq struct {
	Method string
	Header http.Header
	Body   string
}

func (u *upstreamRec) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body string
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		r.Body = io.NopCloser(strings.NewReader(body))
	}
	u.mu.Lock()
	u.reqs = append(u.reqs, recReq{Method: r.Method, Header: r.Header.Clone(), Body: body})
	u.mu.Unlock()
	u.next.ServeHTTP(w, r)
}

func (u *upstreamRec) all() []recReq {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recReq(nil), u.reqs...)
}
