package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// CSRF: every signed-in POST needs the session-bound token; a missing,
// wrong or foreign token is 403 and changes nothing.
func TestCSRFMissingOrWrongIsForbiddenAndChangesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, owner := e.tenant("acme", "Acme")
	b := e.signedIn(owner)
	other := e.signedIn(owner)
	foreign := other.csrf("/console/t/acme/keys")
	for name, form := range map[string]url.Values{
		"missing": {"name": {"x"}},
		"wrong":   {"name": {"x"}, "csrf": {"not-the-token"}},
		"foreign": {"name": {"x"}, "csrf": {foreign}},
	} {
		if r := b.post("/console/t/acme/api-keys", form); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s token: status %d", name, r.StatusCode)
		}
	}
	if n := e.apiKeyCount(ten); n != 0 {
		t.Fatalf("API keys changed by rejected posts: %d", n)
	}
	wantStatus(t, b.post("/console/t/acme/settings", url.Values{"settings.access_token_ttl": {"120"}}), http.StatusForbidden)
	wantStatus(t, b.post("/account/password", url.Values{"current_password": {testPassword}, "password": {"a whole new passphrase"}}), http.StatusForbidden)
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
	// Forms before sign-in are protected too (login CSRF).
	fresh := e.browser()
	wantStatus(t, fresh.post("/console/login", url.Values{"email": {owner}, "password": {testPassword}}), http.StatusForbidden)
	wantStatus(t, fresh.post("/signup", url.Values{"email": {"x@example.com"}, "password": {testPassword}}), http.StatusForbidden)
	wantStatus(t, fresh.post("/account/forgot", url.Values{"email": {owner}}), http.StatusForbidden)
	r := b.submit("/console/t/acme/keys", "/console/t/acme/api-keys", url.Values{"name": {"ok"}})
	wantStatus(t, r, http.StatusSeeOther)
	if n := e.apiKeyCount(ten); n != 1 {
		t.Fatalf("API key not created with a valid token: %d", n)
	}
}

// XSS: hostile team, account and client names are shown escaped.
func TestHostileNamesAreEscaped(t *testing.T) {
	e := newEnv(t, envOpts{})
	const evil = `<script>alert(1)</script>`
	ten, owner := e.tenant("evil", evil+" Team")
	a, _ := e.store.GetAccountByEmail(context.Background(), owner)
	a.Name = evil
	_ = e.store.UpdateAccount(context.Background(), a)
	if _, _, err := e.prov.CreatePreregisteredClient(context.Background(), ten, tenants.PreregisteredClientInput{ClientName: evil,
		RedirectURIs: []string{"https://app.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	e.d.Auditor.Record(context.Background(), tenants.AuditEvent{TenantID: ten.ID, Action: tenants.ActMCPDenied, Reason: tenants.ReasonNoHeader,
		UserAgent: evil, Actor: "account:" + evil, Outcome: tenants.OutcomeFailure})
	b := e.signedIn(owner)
	pages := map[string]*resp{}
	for _, p := range []string{"", "/clients", "/audit", "/doctor", "/settings", "/members"} {
		pages["console"+p] = b.get("/console/t/evil" + p)
	}
	pages["account"] = b.get("/account")
	_, op := e.operator()
	pages["operator"] = op.get("/console/operator")
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

// Clickjacking and the rest of the page headers, on every kind of page.
func TestSecurityHeaders(t *testing.T) {
	_, _, b := acmeOwner(t)
	for _, p := range []string{"/", "/signup", "/console/login", "/account", "/console/t/acme", "/console/t/acme/keys", "/console/t/nope", "/no-such-page"} {
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
		if strings.Contains(r.Body, "<script>") || strings.Contains(r.Body, " onclick=") {
			t.Errorf("%s: inline script in the page", p)
		}
	}
	r := b.page("/static/app.css")
	if !strings.Contains(r.Header.Get("Cache-Control"), "max-age=31536000") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("static headers: %v", r.Header)
	}
	wantStatus(t, b.get("/static/app.js"), http.StatusOK)
	wantStatus(t, b.get("/static/nope.css"), http.StatusNotFound)
	wantStatus(t, b.get("/static/../web.go"), http.StatusNotFound)
}

// Cookies are Secure when the public URL is https (and only then: a local
// http deployment would otherwise never get its session back).
func TestCookiesSecureWhenPublicURLIsHTTPS(t *testing.T) {
	for url, want := range map[string]bool{"https://connect.example.com": true, "http://localhost:8080": false} {
		u := newUI(&httpx.Deps{PublicURL: url}, nil)
		for _, c := range []*http.Cookie{u.cookie(sessionCookie, "v", "/", accounts.SessionTTL), u.cookie(flashCookie, "v", "/console", flashTTL),
			u.cookie(preCookie, "v", "/", 0), u.cookie(totpCookie, "v", "/console/login", pendingTTL)} {
			if c.Secure != want || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("%s: cookie %s: %+v", url, c.Name, c)
			}
		}
	}
}

// Issue 9, hole 13: after a GATEHOUSE_SECRET_KEY rotation (new key first,
// old key kept) the console keeps working: sessions (stored by hash, no
// MAC), session CSRF tokens of forms on screen, and the sign-in form's
// pre-session CSRF token made under the old key.
func TestSecurity_13_ConsoleSurvivesSecretKeyRotation(t *testing.T) {
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": testdb.SQLite, "postgres": testdb.Postgres} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOpts{dsn: dsn(t)})
			_, owner := e.tenant("acme", "Acme")
			admin := e.signedIn(owner)
			sessionCSRF := admin.csrf("/console/t/acme")
			visitor := e.browser()
			loginCSRF := visitor.csrf("/console/login")

			e.rekey([]byte("web-test-key-rotated-0123456789a"), testSecretKey)

			if r := admin.get("/console/t/acme"); r.StatusCode != http.StatusOK {
				t.Errorf("session after a key rotation: %d (Location %q)", r.StatusCode, r.Header.Get("Location"))
			}
			if r := admin.post("/console/logout", url.Values{"csrf": {sessionCSRF}}); r.StatusCode != http.StatusSeeOther {
				t.Errorf("session CSRF token after a key rotation: %d %.200s", r.StatusCode, r.Body)
			}
			if r := visitor.post("/console/login", url.Values{"csrf": {loginCSRF}, "email": {owner}, "password": {testPassword}}); r.StatusCode != http.StatusSeeOther {
				t.Errorf("login form CSRF token after a key rotation: %d %.200s", r.StatusCode, r.Body)
			}
		})
	}
}
