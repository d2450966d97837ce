package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
)

func TestSignupValidationRerendersWithFieldErrorsAndWritesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.browser()
	r := b.submit("/signup", "/signup", url.Values{"name": {"X"}, "slug": {"A!"}, "upstream_mcp_url": {"ftp://nope"}, "idp_type": {"dev"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	for _, want := range []string{"must be 3-40 characters", "must be an absolute http(s) URL", `value="ftp://nope"`, `aria-invalid="true"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("re-rendered form lacks %q", want)
		}
	}
	// A reserved slug and a taken slug are field errors too.
	e.tenant("taken", "Taken")
	r = b.submit("/signup", "/signup", url.Values{"name": {"X"}, "slug": {"taken"}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"dev"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "already taken") {
		t.Error("taken slug not reported")
	}
	ts, _, _ := e.store.ListTenants(context.Background(), tenants.Page{})
	if len(ts) != 1 {
		t.Fatalf("tenants after failed signups: %d", len(ts))
	}
	if r := b.get("/signup/done"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("failed signup logged in: %d", r.StatusCode)
	}
}

// Without the dev IdP the form requires a real IdP's settings, and a
// missing client id writes nothing.
func TestSignupWithoutDevIdPAsksForIdPSettings(t *testing.T) {
	e := newEnv(t, envOpts{noDev: true})
	b := e.browser()
	page := b.get("/signup")
	if strings.Contains(page.Body, `value="dev"`) {
		t.Fatal("dev IdP offered where it is disabled")
	}
	r := b.submit("/signup", "/signup", url.Values{"name": {"Acme"}, "slug": {"acme"}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"dev"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "dev IdP is disabled") {
		t.Fatalf("no dev-disabled message:\n%s", r.Body)
	}
	r = b.submit("/signup", "/signup", url.Values{"name": {"Acme"}, "slug": {"acme"}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"oidc"}, "idp_issuer_url": {"https://login.example.com"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "is required for oidc") {
		t.Fatal("missing client id not reported")
	}
	if _, err := e.store.GetTenantBySlug(context.Background(), "acme"); err == nil {
		t.Fatal("tenant half-written")
	}
	r = b.submit("/signup", "/signup", url.Values{"name": {"Acme"}, "slug": {"acme"}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"github"},
		"idp_client_id": {"Iv1.abc"}, "idp_client_secret": {"gh-secret-value"}, "idp_allowed_orgs": {"acme-inc"}})
	wantStatus(t, r, http.StatusSeeOther)
	ten, err := e.store.GetTenantBySlug(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	idp, err := e.store.GetIdP(context.Background(), ten.ID, "github")
	if err != nil || idp.ClientID != "Iv1.abc" || idp.ClientSecretSealed == "" || strings.Contains(idp.ClientSecretSealed, "gh-secret-value") {
		t.Fatalf("idp stored wrong: %+v %v", idp, err)
	}
}

func TestSignupRateLimitedPerIP(t *testing.T) {
	e := newEnv(t, envOpts{signupLimit: 2})
	b := e.browser()
	for i, slug := range []string{"one", "two"} {
		r := b.submit("/signup", "/signup", url.Values{"name": {"T"}, "slug": {slug + "-team"}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"dev"}})
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("signup %d: %d", i, r.StatusCode)
		}
	}
	r := b.submit("/signup", "/signup", url.Values{"name": {"T"}, "slug": {"three-team"}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"dev"}})
	wantStatus(t, r, http.StatusTooManyRequests)
	if _, err := e.store.GetTenantBySlug(context.Background(), "three-team"); err == nil {
		t.Fatal("rate-limited signup created a tenant")
	}
	// The window passes: signups work again.
	e.clock.now = e.clock.now.Add(2 * time.Hour)
	r = b.submit("/signup", "/signup", url.Values{"name": {"T"}, "slug": {"three-team"}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"dev"}})
	wantStatus(t, r, http.StatusSeeOther)
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, key := e.tenant("acme", "Acme")
	b := e.browser()
	// Not logged in: console pages send to the login page.
	r := b.get("/console/t/acme")
	wantStatus(t, r, http.StatusSeeOther)
	if !strings.HasPrefix(r.Header.Get("Location"), "/console/login") {
		t.Fatalf("redirect %q", r.Header.Get("Location"))
	}
	// A wrong key is refused.
	r = b.submit("/console/login", "/console/login", url.Values{"token": {"ghk_wrong"}})
	wantStatus(t, r, http.StatusUnauthorized)
	// The right key logs in; the cookie is sealed, HttpOnly, Lax, ≤ 12 h.
	r = b.submit("/console/login", "/console/login", url.Values{"token": {key}, "next": {"/console/t/acme/audit"}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/console/t/acme/audit" {
		t.Fatalf("next not honoured: %q", loc)
	}
	var sc *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.MaxAge > int((12*time.Hour)/time.Second) || sc.Secure {
		t.Fatalf("session cookie: %+v", sc)
	}
	if strings.Contains(sc.Value, key) || strings.Contains(sc.Value, "acme") {
		t.Fatal("session cookie is not opaque")
	}
	r = b.get("/console")
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/console/t/acme" {
		t.Fatalf("tenant key home: %q", loc)
	}
	wantStatus(t, b.get("/console/t/acme"), http.StatusOK)
	// Logout ends it.
	r = b.submit("/console/t/acme", "/console/logout", nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, b.get("/console/t/acme"), http.StatusSeeOther)

	// The admin token lists every tenant.
	e.tenant("beta", "Beta Team")
	a := e.browser()
	a.login(testAdminToken)
	r = a.get("/console")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{"Acme", "Beta Team", e.srv.URL + "/t/beta/mcp"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("admin tenant list lacks %q", want)
		}
	}
}

func TestLoginNextIsNeverAnOpenRedirect(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, key := e.tenant("acme", "Acme")
	for _, next := range []string{"//evil.example/console", "https://evil.example/", "/console\\@evil.example", "javascript:alert(1)"} {
		b := e.browser()
		r := b.submit("/console/login", "/console/login", url.Values{"token": {key}, "next": {next}})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/console" {
			t.Errorf("next %q redirected to %q", next, loc)
		}
	}
}

func TestSessionExpiresAfter12Hours(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, key := e.tenant("acme", "Acme")
	b := e.browser()
	b.login(key)
	wantStatus(t, b.get("/console/t/acme"), http.StatusOK)
	e.clock.now = e.clock.now.Add(12*time.Hour + time.Second)
	// The cookie's Max-Age would drop it too; the server must not rely on that.
	u, _ := url.Parse(e.srv.URL)
	var val string
	for _, c := range b.jar.Cookies(u) {
		if c.Name == sessionCookie {
			val = c.Value
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/console/t/acme", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: val})
	wantStatus(t, e.browser().do(req), http.StatusSeeOther)
}

// CSRF: every console POST needs the session-bound token; a missing, wrong
// or foreign token is 403 and changes nothing.
func TestCSRFMissingOrWrongIsForbiddenAndChangesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, key := e.tenant("acme", "Acme")
	b := e.browser()
	b.login(key)
	other := e.browser()
	other.login(key)
	foreign := other.csrf("/console/t/acme/keys")

	cases := map[string]url.Values{
		"missing": {"name": {"x"}},
		"wrong":   {"name": {"x"}, "csrf": {"not-the-token"}},
		"foreign": {"name": {"x"}, "csrf": {foreign}}, // another session's token
	}
	for name, form := range cases {
		r := b.post("/console/t/acme/api-keys", form)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s token: status %d", name, r.StatusCode)
		}
	}
	if n := e.apiKeyCount(ten); n != 1 {
		t.Fatalf("API keys changed by rejected posts: %d", n)
	}
	// Settings and grant revocation are guarded the same way.
	r := b.post("/console/t/acme/settings", url.Values{"settings.access_token_ttl": {"120"}})
	wantStatus(t, r, http.StatusForbidden)
	got, _ := e.store.GetTenant(context.Background(), ten.ID)
	if got.Settings.AccessTokenTTL != nil {
		t.Fatal("settings changed by a rejected post")
	}
	// A cross-site Origin is refused even with a valid token.
	form := url.Values{"name": {"x"}, "csrf": {b.csrf("/console/t/acme/keys")}}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/console/t/acme/api-keys", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	wantStatus(t, b.do(req), http.StatusForbidden)
	// Login and signup forms are protected too (login CSRF).
	fresh := e.browser()
	wantStatus(t, fresh.post("/console/login", url.Values{"token": {key}}), http.StatusForbidden)
	wantStatus(t, fresh.post("/signup", url.Values{"name": {"x"}, "slug": {"xyz"}, "upstream_mcp_url": {"https://x.example/mcp"}}), http.StatusForbidden)
	// With the right token it works.
	r = b.submit("/console/t/acme/keys", "/console/t/acme/api-keys", url.Values{"name": {"ok"}})
	wantStatus(t, r, http.StatusSeeOther)
	if n := e.apiKeyCount(ten); n != 2 {
		t.Fatalf("API key not created with a valid token: %d", n)
	}
}

// A tenant key never sees another tenant: its pages and forms answer 404,
// exactly like a slug that does not exist.
func TestTenantKeyCannotOpenAnotherTenant(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, keyA := e.tenant("alpha", "Alpha")
	beta, _ := e.tenant("beta", "Beta")
	b := e.browser()
	b.login(keyA)
	missing := b.get("/console/t/nonexistent")
	wantStatus(t, missing, http.StatusNotFound)
	for _, p := range []string{"", "/settings", "/clients", "/grants", "/audit", "/doctor", "/keys"} {
		r := b.get("/console/t/beta" + p)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GET beta%s: %d", p, r.StatusCode)
		}
		if strings.Contains(r.Body, "Beta") {
			t.Errorf("GET beta%s leaks the tenant name", p)
		}
	}
	csrf := b.csrf("/console/t/alpha")
	r := b.post("/console/t/beta/api-keys", url.Values{"csrf": {csrf}, "name": {"stolen"}})
	wantStatus(t, r, http.StatusNotFound)
	if n := e.apiKeyCount(beta); n != 1 {
		t.Fatal("a foreign tenant key created a key")
	}
	// The admin sees both.
	a := e.browser()
	a.login(testAdminToken)
	wantStatus(t, a.get("/console/t/beta"), http.StatusOK)
}

func TestHostileNamesAreEscaped(t *testing.T) {
	e := newEnv(t, envOpts{})
	const evil = `<script>alert(1)</script>`
	b := e.browser()
	r := b.submit("/signup", "/signup", url.Values{"name": {evil + " Team"}, "slug": {"evil"}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"dev"}})
	wantStatus(t, r, http.StatusSeeOther)
	ten, err := e.store.GetTenantBySlug(context.Background(), "evil")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.prov.CreatePreregisteredClient(context.Background(), ten, tenants.PreregisteredClientInput{ClientName: evil,
		RedirectURIs: []string{"https://app.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	e.d.Auditor.Record(context.Background(), tenants.AuditEvent{TenantID: ten.ID, Action: tenants.ActMCPDenied, Reason: tenants.ReasonNoHeader,
		UserAgent: evil, Outcome: tenants.OutcomeFailure})
	pages := map[string]*resp{"done": b.get("/signup/done")}
	for _, p := range []string{"", "/clients", "/audit", "/doctor", "/settings"} {
		pages["console"+p] = b.get("/console/t/evil" + p)
	}
	a := e.browser()
	a.login(testAdminToken)
	pages["admin list"] = a.get("/console")
	for name, r := range pages {
		wantStatus(t, r, http.StatusOK)
		if strings.Contains(r.Body, "<script>alert") {
			t.Errorf("%s: hostile name rendered unescaped", name)
		}
	}
	if !strings.Contains(pages["console/clients"].Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("client name not shown escaped")
	}
	if !strings.Contains(pages["console"].Body, "&lt;script&gt;alert(1)&lt;/script&gt; Team") {
		t.Error("team name not shown escaped")
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, key := e.tenant("acme", "Acme")
	b := e.browser()
	b.login(key)
	for _, p := range []string{"/", "/signup", "/console/login", "/console/t/acme", "/console/t/acme/keys", "/console/t/nope"} {
		r := b.get(p)
		if r.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", p, r.Header.Get("X-Frame-Options"))
		}
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", p, csp)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", p, r.Header.Get("Cache-Control"))
		}
		// No inline script anywhere: the CSP would block it anyway.
		if strings.Contains(r.Body, "<script>") || strings.Contains(r.Body, " onclick=") {
			t.Errorf("%s: inline script in the page", p)
		}
	}
	r := b.get("/static/app.css")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Header.Get("Cache-Control"), "max-age=31536000") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("static headers: %v", r.Header)
	}
	wantStatus(t, b.get("/static/app.js"), http.StatusOK)
	wantStatus(t, b.get("/static/nope.css"), http.StatusNotFound)
	wantStatus(t, b.get("/static/../web.go"), http.StatusNotFound)
}

// Deleting an API key ends every console session that stands on it, even
// sessions of other browsers (the key is re-checked on each request).
func TestDeletedAPIKeyEndsSession(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, key := e.tenant("acme", "Acme")
	key2, ak2, err := e.prov.CreateAPIKey(context.Background(), ten, "second")
	if err != nil {
		t.Fatal(err)
	}
	b1, b2 := e.browser(), e.browser()
	b1.login(key)
	b2.login(key2)
	wantStatus(t, b2.get("/console/t/acme"), http.StatusOK)
	r := b1.submit("/console/t/acme/keys", "/console/t/acme/api-keys/"+ak2.ID+"/delete", nil)
	wantStatus(t, r, http.StatusSeeOther)
	r = b2.get("/console/t/acme")
	wantStatus(t, r, http.StatusSeeOther)
	if !strings.HasPrefix(r.Header.Get("Location"), "/console/login") {
		t.Fatalf("session of a deleted key not ended: %q", r.Header.Get("Location"))
	}
	wantStatus(t, b1.get("/console/t/acme"), http.StatusOK)
	// Deleting the key you stand on logs you out.
	var self string
	keys, _ := e.store.ListAPIKeys(context.Background(), ten.ID)
	for _, k := range keys {
		self = k.ID
	}
	r = b1.submit("/console/t/acme/keys", "/console/t/acme/api-keys/"+self+"/delete", nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, b1.get("/console/t/acme"), http.StatusSeeOther)
}

// A changed admin token ends admin sessions.
func TestChangedAdminTokenEndsAdminSessions(t *testing.T) {
	e := newEnv(t, envOpts{})
	a := e.browser()
	a.login(testAdminToken)
	wantStatus(t, a.get("/console"), http.StatusOK)
	e.d.AdminTokenHash = tenants.HashSecret("gha_new-token")
	wantStatus(t, a.get("/console"), http.StatusSeeOther)
}

// Cookies are Secure when the public URL is https (and only then: a local
// http deployment would otherwise never get its session back).
func TestCookiesSecureWhenPublicURLIsHTTPS(t *testing.T) {
	for url, want := range map[string]bool{"https://connect.example.com": true, "http://localhost:8080": false} {
		u := newUI(&httpx.Deps{PublicURL: url}, nil)
		for _, c := range []*http.Cookie{u.cookie(sessionCookie, "v", "/", sessionTTL), u.cookie(flashCookie, "v", "/signup", flashTTL), u.cookie(preCookie, "v", "/", 0)} {
			if c.Secure != want || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("%s: cookie %s: %+v", url, c.Name, c)
			}
		}
	}
}
