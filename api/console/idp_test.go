package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testidp"
)

// The IdP card's Test button runs discovery and the authorization request
// and shows each step; a viewer may not run it.
func TestIdPCardTestButton(t *testing.T) {
	m := testidp.StartOIDC(t, nil)
	e, ten, b := acmeOwner(t)
	e.prov.AllowPrivateFetch = true // mockoidc is on loopback, over http
	if _, err := e.prov.PutIdP(context.Background(), ten, tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: m.ClientID, ClientSecret: m.ClientSecret, IssuerURL: m.Issuer()}, true); err != nil {
		t.Fatal(err)
	}
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
	vb := e.signedIn(viewer.Email)
	wantStatus(t, vb.submit("/console/t/acme/settings", "/console/t/acme/idp/oidc/test", nil), http.StatusForbidden)
}

// Console sign-in with the platform OIDC provider (GATEHOUSE_PLATFORM_IDP_OIDC_*),
// against mockoidc: a new verified account on first sign-in, the same
// account after; the callback refuses a state from another browser.
func TestPlatformOIDCSignIn(t *testing.T) {
	m := testidp.StartOIDC(t, nil)
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
	wantRedirect(t, r, "/account")
	page := b.page("/account")
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

// Remove takes one provider off the team (admin+, CSRF, confirmation,
// audited) and revokes the access of the people it let in; the last
// provider stays; a viewer may not remove.
func TestIdPRemoveButton(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, owner := e.tenant("acme", "Acme")
	ctx := context.Background()
	if _, err := e.prov.PutIdP(ctx, ten, tenants.IdPInput{Type: tenants.IdPGitHub, ClientID: "gh-client", ClientSecret: "gh-secret"}, false); err != nil {
		t.Fatal(err)
	}
	usr := &tenants.User{TenantID: ten.ID, IdP: tenants.IdPGitHub, IdPSubject: "42", Name: "Gita Hub"}
	if err := e.store.UpsertUser(ctx, usr); err != nil {
		t.Fatal(err)
	}
	g := &tenants.Grant{TenantID: ten.ID, ID: "g-gh", UserID: usr.ID, Subject: usr.ID, ClientID: "c", CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)}
	if err := e.store.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	vb := e.viewerBrowser(ten)
	if strings.Contains(vb.get("/console/t/acme/settings").Body, "/idp/github/remove") {
		t.Fatal("a viewer is offered Remove")
	}
	wantStatus(t, vb.submit("/console/t/acme/settings", "/console/t/acme/idp/github/remove", nil), http.StatusForbidden)

	b := e.signedIn(owner)
	page := b.get("/console/t/acme/settings")
	if !strings.Contains(page.Body, `action="/console/t/acme/idp/github/remove" class="inline confirm" data-confirm=`) {
		t.Fatalf("no confirmed Remove form on the GitHub card:\n%.4000s", page.Body)
	}
	// Without the CSRF token nothing is removed.
	wantStatus(t, b.post("/console/t/acme/idp/github/remove", url.Values{}), http.StatusForbidden)
	if _, err := e.store.GetIdP(ctx, ten.ID, tenants.IdPGitHub); err != nil {
		t.Fatal("removed without a CSRF token")
	}
	wantStatus(t, b.submit("/console/t/acme/settings", "/console/t/acme/idp/github/remove", nil), http.StatusSeeOther)
	if _, err := e.store.GetIdP(ctx, ten.ID, tenants.IdPGitHub); err == nil {
		t.Fatal("GitHub still configured")
	}
	if got, _ := e.store.GetGrant(ctx, ten.ID, "g-gh"); got.RevokedAt == nil {
		t.Fatal("the GitHub user's grant survived the removal")
	}
	if evs, _, _ := e.store.ListAuditEvents(ctx, ten.ID, tenants.AuditFilter{Action: tenants.ActIdPRemoved}); len(evs) != 1 || evs[0].Actor != "account:"+owner {
		t.Fatalf("audit: %+v", evs)
	}
	if !strings.Contains(b.get("/console/t/acme/settings").Body, "GitHub removed") {
		t.Fatal("no notice after removal")
	}
	// The last provider stays; an unknown one is 404.
	wantStatus(t, b.submit("/console/t/acme/settings", "/console/t/acme/idp/dev/remove", nil), http.StatusConflict)
	wantStatus(t, b.submit("/console/t/acme/settings", "/console/t/acme/idp/google/remove", nil), http.StatusNotFound)
}

// The IdP form shows only the chosen provider's fields; hidden ones are
// disabled too, so they are not submitted.
func TestIdPFormShowsChosenProviderFields(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, b := e.ownerBrowser("acme", "Acme")
	visible := func(body, field string) bool {
		i := strings.Index(body, `name="`+field+`"`)
		if i < 0 {
			t.Fatalf("no field %s", field)
		}
		fs := strings.LastIndex(body[:i], "<fieldset")
		tag := body[fs : fs+strings.Index(body[fs:], ">")]
		return !strings.Contains(tag, "hidden")
	}
	for typ, want := range map[string]map[string]bool{
		"":       {"idp_auto_login": true, "idp_client_id": false, "idp_issuer_url": false, "idp_allowed_orgs": false},
		"github": {"idp_auto_login": false, "idp_client_id": true, "idp_issuer_url": false, "idp_allowed_orgs": true},
		"oidc":   {"idp_auto_login": false, "idp_client_id": true, "idp_issuer_url": true, "idp_allowed_orgs": false},
		"google": {"idp_client_secret": true, "idp_issuer_url": false, "idp_allowed_domains": true},
	} {
		page := b.get("/console/t/acme/settings?" + url.Values{"idp_type": {typ}}.Encode())
		for field, on := range want {
			if visible(page.Body, field) != on {
				t.Errorf("type %q: field %s visible=%v, want %v", typ, field, !on, on)
			}
		}
	}
}
