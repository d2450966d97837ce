package console

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
)

func startMockOIDC(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

// The IdP card's Test button runs discovery and the authorization request
// and shows each step; a viewer may not run it.
func TestIdPCardTestButton(t *testing.T) {
	m := startMockOIDC(t)
	e := newEnv(t, envOpts{})
	ten, owner := e.tenant("acme", "Acme")
	e.prov.AllowPrivateFetch = true // mockoidc is on loopback, over http
	if _, err := e.prov.PutIdP(context.Background(), ten, tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: m.ClientID, ClientSecret: m.ClientSecret, IssuerURL: m.Issuer()}, true); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login(owner)
	page := b.get("/console/t/acme/settings")
	for _, want := range []string{"OpenID Connect", m.ClientID, m.Issuer(), e.srv.URL + "/t/acme/oauth/callback", "/idp/oidc/test"} {
		if !strings.Contains(page.Body, want) {
			t.Fatalf("IdP card lacks %q", want)
		}
	}
	r := b.submit("/console/t/acme/settings", "/console/t/acme/idp/oidc/test", nil)
	wantStatus(t, r, http.StatusSeeOther)
	page = b.get("/console/t/acme/settings")
	if !strings.Contains(page.Body, "passed") || !strings.Contains(page.Body, "accepted the sign-in request") {
		t.Fatalf("test result:\n%.4000s", page.Body)
	}
	// A wrong client ID fails the test with the reason.
	if _, err := e.prov.PutIdP(context.Background(), ten, tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: "wrong-client", IssuerURL: m.Issuer()}, true); err != nil {
		t.Fatal(err)
	}
	b.submit("/console/t/acme/settings", "/console/t/acme/idp/oidc/test", nil)
	page = b.get("/console/t/acme/settings")
	if !strings.Contains(page.Body, "failed") || !strings.Contains(page.Body, "check the client ID") {
		t.Fatalf("failed test result:\n%.4000s", page.Body)
	}
	wantStatus(t, b.submit("/console/t/acme/settings", "/console/t/acme/idp/github/test", nil), http.StatusNotFound)
	viewer := e.account("v@example.com", "")
	e.member(ten, viewer, tenants.RoleViewer)
	vb := e.browser()
	vb.login(viewer.Email)
	wantStatus(t, vb.submit("/console/t/acme/settings", "/console/t/acme/idp/oidc/test", nil), http.StatusForbidden)
}

// Console sign-in with the platform OIDC provider (GATEHOUSE_PLATFORM_IDP_OIDC_*),
// against mockoidc: a new verified account on first sign-in, the same
// account after; the callback refuses a state from another browser.
func TestPlatformOIDCSignIn(t *testing.T) {
	m := startMockOIDC(t)
	idps := []httpx.PlatformIdP{{Label: "Mock SSO", ClientSecret: m.ClientSecret,
		Config: tenants.IdPConfig{Type: tenants.IdPOIDC, ClientID: m.ClientID, IssuerURL: m.Issuer()}}}
	e := newEnv(t, envOpts{platformIdPs: idps})
	e.account("first@example.com", "")
	login := func() (*browser, *resp) {
		b := e.browser()
		page := b.get("/console/login")
		if !strings.Contains(page.Body, "Sign in with Mock SSO") {
			t.Fatalf("no IdP button:\n%.2000s", page.Body)
		}
		r := b.get("/console/login/idp/oidc?next=/account")
		wantStatus(t, r, http.StatusSeeOther)
		// Play the browser at the provider: mockoidc signs its queued user in.
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(r.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		cb, _ := url.Parse(res.Header.Get("Location"))
		return b, b.get(cb.RequestURI())
	}
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-ada", Email: "ada@example.com", EmailVerified: true, PreferredUsername: "ada"})
	b, r := login()
	wantStatus(t, r, http.StatusSeeOther)
	if r.Header.Get("Location") != "/account" {
		t.Fatalf("after IdP sign-in: %q", r.Header.Get("Location"))
	}
	page := b.get("/account")
	wantStatus(t, page, http.StatusOK)
	if !strings.Contains(page.Body, "ada@example.com") || !strings.Contains(page.Body, "idp:oidc") {
		t.Fatalf("account page:\n%.3000s", page.Body)
	}
	a, err := e.store.GetAccountByEmail(context.Background(), "ada@example.com")
	if err != nil || !a.Verified() {
		t.Fatalf("account: %v %+v", err, a)
	}
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-ada", Email: "ada@example.com", EmailVerified: true})
	_, r = login()
	wantStatus(t, r, http.StatusSeeOther)
	if n, _ := e.store.CountAccounts(context.Background()); n != 2 {
		t.Fatalf("accounts after a second sign-in: %d", n)
	}
	// A callback this browser did not start is refused.
	wantStatus(t, e.browser().get("/console/login/idp/oidc/callback?state=x&code=y"), http.StatusBadRequest)
	// An unverified email does not sign in.
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-eve", Email: "first@example.com", EmailVerified: false})
	_, r = login()
	wantStatus(t, r, http.StatusForbidden)
}
