package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/web"
)

const testAdminToken = "gha_test-admin-token"

// testSecretKey is the GATEHOUSE_SECRET_KEY every test console starts with.
var testSecretKey = []byte("web-test-key-0123456789abcdefghi")

// env is a running console on a real store.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	d     *httpx.Deps
	store *gormstore.Store
	prov  *tenants.Provisioner
	ui    *ui
	clock *clock
	opts  envOpts
	// handler serves srv; rekey swaps it like a restarted process.
	handler atomic.Pointer[http.Handler]
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

type envOpts struct {
	dsn          string
	noDev        bool
	tenantDomain string
	signupLimit  int
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.dsn == "" {
		o.dsn = testdb.SQLite(t)
	}
	store, err := gormstore.Open(context.Background(), o.dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sealer, err := tenants.NewSealer([][]byte{testSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	pages, err := web.Parse()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, clock: &clock{now: time.Now()}, opts: o}
	// The server URL is known only after it starts; the handler is set late.
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*e.handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.d = &httpx.Deps{Store: store, Sealer: sealer, Keys: keys.New(store, sealer, nil),
		Auditor: &tenants.SyncAuditor{Store: store, Logger: logger}, Logger: logger,
		Sites:     httpx.NewSites(store, e.srv.URL, o.tenantDomain),
		PublicURL: e.srv.URL, TenantDomain: o.tenantDomain, AllowDevIdP: !o.noDev,
		AdminTokenHash: tenants.HashSecret(testAdminToken), Version: "test", Pages: pages}
	e.prov = &tenants.Provisioner{Store: store, Sealer: sealer, Auditor: e.d.Auditor, AllowDevIdP: true}
	e.serve()
	return e
}

// serve builds the console over e.d and makes it the server's handler.
func (e *env) serve() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(httpx.RequestInfo())
	e.ui = newUI(e.d, &options{Now: e.clock.Now, SignupLimit: e.opts.signupLimit})
	e.ui.register(r)
	var h http.Handler = e.d.Sites.HostMode(r)
	e.handler.Store(&h)
}

// rekey restarts the console with secretKeys as GATEHOUSE_SECRET_KEY (the
// first seals and MACs; every one opens and verifies).
func (e *env) rekey(secretKeys ...[]byte) {
	e.t.Helper()
	sealer, err := tenants.NewSealer(secretKeys)
	if err != nil {
		e.t.Fatal(err)
	}
	d := *e.d
	d.Sealer, d.Keys = sealer, keys.New(e.store, sealer, nil)
	e.d = &d
	e.prov.Sealer = sealer
	e.serve()
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, jar: jar, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	*http.Response
	Body string
}

func (b *browser) do(req *http.Request) *resp {
	b.e.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return &resp{Response: res, Body: string(body)}
}

func (b *browser) get(path string) *resp {
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) *resp {
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// logoutFormRE matches the layout's logout form, whose token is the
// session's even on pages with a pre-session form.
var logoutFormRE = regexp.MustCompile(`(?s)<form method="post" action="/console/logout".*?</form>`)

// csrf fetches path and returns the CSRF token of its first form (the
// layout's logout form aside, unless it is the only one).
func (b *browser) csrf(path string) string {
	b.e.t.Helper()
	r := b.get(path)
	m := csrfRE.FindStringSubmatch(logoutFormRE.ReplaceAllString(r.Body, ""))
	if m == nil {
		m = csrfRE.FindStringSubmatch(r.Body) // only the logout form: the session's token
	}
	if m == nil {
		b.e.t.Fatalf("no csrf field on %s (status %d)", path, r.StatusCode)
	}
	return m[1]
}

// submit posts form to action with the CSRF token of page.
func (b *browser) submit(page, action string, form url.Values) *resp {
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf(page))
	return b.post(action, form)
}

func (b *browser) login(token string) {
	b.e.t.Helper()
	r := b.submit("/console/login", "/console/login", url.Values{"token": {token}})
	if r.StatusCode != http.StatusSeeOther {
		b.e.t.Fatalf("login: status %d: %s", r.StatusCode, r.Body)
	}
}

// tenant creates a tenant with an API key through the domain.
func (e *env) tenant(slug, name string) (*tenants.Tenant, string) {
	e.t.Helper()
	t, err := e.prov.CreateTenant(context.Background(), tenants.TenantInput{Slug: slug, Name: name, UpstreamMCPURL: "http://127.0.0.1:9/mcp"})
	if err != nil {
		e.t.Fatal(err)
	}
	key, _, err := e.prov.CreateAPIKey(context.Background(), t, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return t, key
}

func (e *env) apiKeyCount(t *tenants.Tenant) int {
	e.t.Helper()
	ks, err := e.store.ListAPIKeys(context.Background(), t.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(ks)
}

func wantStatus(t *testing.T, r *resp, code int) {
	t.Helper()
	if r.StatusCode != code {
		t.Fatalf("%s %s: status %d, want %d; body:\n%.2000s", r.Request.Method, r.Request.URL.Path, r.StatusCode, code, r.Body)
	}
}
