package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/limits"
	"github.com/gatehouse/gatehouse/web"
)

// testSecretKey is the GATEHOUSE_SECRET_KEY every test console starts with.
var testSecretKey = []byte("web-test-key-0123456789abcdefghi")

const (
	testAdminToken = "gha_test-admin-token"
	testPassword   = "correct horse battery"
)

// fast argon2id parameters: the tests check behaviour, not cost.
var fast = accounts.Params{Memory: 64, Time: 1, Threads: 1}

// env is a running console on a real store.
type env struct {
	t     *testing.T
	kit   *testkit.Kit
	srv   *httptest.Server
	d     *httpx.Deps
	store *gormstore.Store
	prov  *tenants.Provisioner
	acc   *accounts.Service
	ui    *ui
	// engine is the console's router (its routes list every page and form).
	engine *gin.Engine
	clock  *clock
	logs   *syncBuf
	opts   envOpts
	// handler serves srv; rekey swaps it like a restarted process.
	handler atomic.Pointer[http.Handler]
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

type envOpts struct {
	dsn          string
	noDev        bool
	tenantDomain string
	signupLimit  int
	loginLimit   int    // default 200: tests sign in often
	signup       string // accounts.Signup* (default open)
	platformIdPs []httpx.PlatformIdP
	publicURL    string // default: the test server's URL
}

// newEnv serves the console over services the test kit builds as the
// composition root does.
func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.signup == "" {
		o.signup = accounts.SignupOpen
	}
	logs := &syncBuf{}
	pages, err := web.Parse()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: &clock{now: time.Now()}, logs: logs, opts: o}
	// The server URL is known only after it starts; the handler is set late.
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*e.handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	publicURL := e.srv.URL
	if o.publicURL != "" {
		publicURL = o.publicURL
	}
	e.kit = testkit.New(t, testkit.Options{DSN: o.dsn, SecretKeys: [][]byte{testSecretKey}, PublicURL: publicURL,
		TenantDomain: o.tenantDomain, NoDevIdP: o.noDev, AdminToken: testAdminToken, Logs: logs,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, Limits: limits.NewMemory(e.clock.Now), // limits follow the test clock
		Wiring: wiring.Options{Accounts: func(a *accounts.Service) {
			a.PublicURL, a.Signup, a.Params, a.Now = e.srv.URL, o.signup, fast, e.clock.Now
		}}})
	e.kit.Deps.Pages, e.kit.Deps.PlatformIdPs = pages, o.platformIdPs
	e.adopt(e.kit.Deps)
	e.serve()
	return e
}

// adopt makes d the env's deps (a new process after rekey).
func (e *env) adopt(d *httpx.Deps) {
	e.d, e.store, e.prov, e.acc = d, e.kit.DB, d.Provisioner, d.Accounts
}

// serve builds the console over e.d and makes it the server's handler.
func (e *env) serve() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(httpx.RequestInfo())
	if e.opts.loginLimit == 0 {
		e.opts.loginLimit = 200
	}
	e.ui = newUI(e.d, &options{Now: e.clock.Now, SignupLimit: e.opts.signupLimit, LoginLimit: e.opts.loginLimit})
	e.ui.register(r)
	r.NoRoute(e.ui.notFoundPage())
	e.engine = r
	var h http.Handler = e.d.Sites.HostMode(r)
	e.handler.Store(&h)
}

// rekey restarts the console with secretKeys as GATEHOUSE_SECRET_KEY (the
// first seals and MACs; every one opens and verifies).
func (e *env) rekey(secretKeys ...[]byte) {
	e.t.Helper()
	e.adopt(e.kit.Rekey(secretKeys...))
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

var keyRE = regexp.MustCompile(`ghk_[A-Za-z0-9_-]{43}`)

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

// page GETs path, a page that must answer 200.
func (b *browser) page(path string) *resp {
	b.e.t.Helper()
	r := b.get(path)
	wantStatus(b.e.t, r, http.StatusOK)
	return r
}

// submit posts form to action with the CSRF token of page.
func (b *browser) submit(page, action string, form url.Values) *resp {
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf(page))
	return b.post(action, form)
}

// sessionCookieOf returns the browser's console session cookie value.
func (b *browser) sessionCookieOf() string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	return ""
}

// replaySession is GET path from a new browser that sends only the session
// cookie value (one copied, planted or kept past its end).
func (e *env) replaySession(value, path string) *resp {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
	return e.browser().do(req)
}

// login signs in with email and the test password.
func (b *browser) login(email string) {
	b.e.t.Helper()
	r := b.submit("/console/login", "/console/login", url.Values{"email": {email}, "password": {testPassword}})
	if r.StatusCode != http.StatusSeeOther {
		b.e.t.Fatalf("login: status %d: %.2000s", r.StatusCode, r.Body)
	}
}

// signedIn returns a new browser signed in as email.
func (e *env) signedIn(email string) *browser {
	e.t.Helper()
	b := e.browser()
	b.login(email)
	return b
}

// account creates a verified account with the test password.
func (e *env) account(email, name string) *tenants.Account {
	e.t.Helper()
	hash, err := accounts.HashPassword(testPassword, fast)
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC()
	a := &tenants.Account{ID: tenants.RandomID(), Email: email, Name: name, PasswordHash: hash, EmailVerifiedAt: &now, CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateAccount(context.Background(), a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// member gives a the role in t.
func (e *env) member(t *tenants.Tenant, a *tenants.Account, role string) {
	e.t.Helper()
	if err := e.store.PutMembership(context.Background(), &tenants.Membership{TenantID: t.ID, AccountID: a.ID, Role: role}); err != nil {
		e.t.Fatal(err)
	}
}

// operator creates an operator account and returns a browser signed in as it.
func (e *env) operator() (*tenants.Account, *browser) {
	e.t.Helper()
	a := e.account("operator@example.com", "Olive Operator")
	a.PlatformRole = tenants.PlatformOperator
	if err := e.store.UpdateAccount(context.Background(), a); err != nil {
		e.t.Fatal(err)
	}
	return a, e.signedIn(a.Email)
}

// tenant creates a team and its owner account; it returns the team and the
// owner's email (sign in with e.signedIn).
func (e *env) tenant(slug, name string) (*tenants.Tenant, string) {
	e.t.Helper()
	t, err := e.prov.CreateTenant(context.Background(), tenants.TenantInput{Slug: slug, Name: name, UpstreamMCPURL: "http://127.0.0.1:9/mcp"})
	if err != nil {
		e.t.Fatal(err)
	}
	owner := e.account("owner-"+slug+"@example.com", "Owner of "+name)
	e.member(t, owner, tenants.RoleOwner)
	return t, owner.Email
}

// ownerBrowser creates a team and returns it with a browser signed in as
// its owner.
func (e *env) ownerBrowser(slug, name string) (*tenants.Tenant, *browser) {
	e.t.Helper()
	t, owner := e.tenant(slug, name)
	return t, e.signedIn(owner)
}

// acmeOwner starts a console with the team acme and returns it with a
// browser signed in as the team's owner: where most page tests begin.
func acmeOwner(t *testing.T) (*env, *tenants.Tenant, *browser) {
	t.Helper()
	e := newEnv(t, envOpts{})
	ten, b := e.ownerBrowser("acme", "Acme")
	return e, ten, b
}

// viewerBrowser adds a viewer to t and returns a browser signed in as it.
func (e *env) viewerBrowser(t *tenants.Tenant) *browser {
	e.t.Helper()
	a := e.account("vic-"+t.Slug+"@example.com", "Vic Viewer")
	e.member(t, a, tenants.RoleViewer)
	return e.signedIn(a.Email)
}

var linkRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/[a-z/]+\?token=[A-Za-z0-9_-]+`)

// lastLink is the token of the newest link mailed to addr under path (the
// outbox an operator reads when no SMTP server is configured).
func (e *env) lastLink(addr, path string) string {
	e.t.Helper()
	items, _, err := e.store.ListOutboxMessages(context.Background(), tenants.Page{Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range items {
		if items[i].To != addr {
			continue
		}
		for _, l := range linkRE.FindAllString(e.acc.OpenOutboxBody(&items[i]), -1) {
			if strings.Contains(l, path+"?") {
				_, tok, _ := strings.Cut(l, "token=")
				return tok
			}
		}
	}
	e.t.Fatalf("no %s link mailed to %s", path, addr)
	return ""
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

// wantRedirect fails unless r is a 303 to location.
func wantRedirect(t *testing.T, r *resp, location string) {
	t.Helper()
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != location {
		t.Fatalf("%s %s: redirected to %q, want %q", r.Request.Method, r.Request.URL.Path, got, location)
	}
}
