package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

var keyRE = regexp.MustCompile(`ghk_[A-Za-z0-9_-]{43}`)

// signupFlow is run on SQLite and Postgres: signup creates the tenant and its
// first API key, logs the browser in, and shows the key exactly once.
func signupFlow(t *testing.T, e *env) {
	b := e.browser()
	r := b.get("/signup")
	wantStatus(t, r, http.StatusOK)
	r = b.submit("/signup", "/signup", url.Values{"name": {"Acme Corp"}, "slug": {"acme"}, "upstream_mcp_url": {"https://mcp.acme.example/mcp"}, "idp_type": {"dev"}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/signup/done" {
		t.Fatalf("redirect to %q", loc)
	}
	var sessionC, flashC *http.Cookie
	for _, c := range r.Cookies() {
		switch c.Name {
		case sessionCookie:
			sessionC = c
		case flashCookie:
			flashC = c
		}
	}
	if sessionC == nil || flashC == nil {
		t.Fatal("signup did not set the session and flash cookies")
	}
	if !sessionC.HttpOnly || sessionC.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie attributes: %+v", sessionC)
	}
	if strings.Contains(flashC.Value, "ghk_") {
		t.Fatal("flash cookie carries the key in the clear")
	}
	ten, err := e.store.GetTenantBySlug(context.Background(), "acme")
	if err != nil {
		t.Fatalf("tenant not created: %v", err)
	}
	if ten.Name != "Acme Corp" || ten.UpstreamMCPURL != "https://mcp.acme.example/mcp" {
		t.Fatalf("tenant fields: %+v", ten)
	}
	idps, _ := e.store.ListIdPs(context.Background(), ten.ID)
	if len(idps) != 1 || idps[0].Type != tenants.IdPDev {
		t.Fatalf("idps: %+v", idps)
	}
	if n := e.apiKeyCount(ten); n != 1 {
		t.Fatalf("api keys: %d", n)
	}

	done := b.get("/signup/done")
	wantStatus(t, done, http.StatusOK)
	key := keyRE.FindString(done.Body)
	if key == "" {
		t.Fatalf("key not shown on the result page:\n%s", done.Body)
	}
	k, err := e.store.GetAPIKeyByHash(context.Background(), tenants.HashSecret(key))
	if err != nil || k.TenantID != ten.ID {
		t.Fatalf("shown key is not the tenant's key: %v", err)
	}
	if !strings.Contains(done.Body, e.srv.URL+"/t/acme/mcp") {
		t.Fatal("path-mode connector URL not shown")
	}
	if !strings.Contains(done.Body, `data-copy="`+key+`"`) {
		t.Fatal("no copy button for the key")
	}

	// A reload does not show the key again: not with the same browser
	// (the flash cookie was cleared) …
	again := b.get("/signup/done")
	wantStatus(t, again, http.StatusOK)
	if strings.Contains(again.Body, key) || keyRE.MatchString(again.Body) {
		t.Fatal("reload showed the key again")
	}
	if !strings.Contains(again.Body, e.srv.URL+"/t/acme/mcp") {
		t.Fatal("reload lost the connector URL")
	}
	// … nor by replaying the flash cookie the signup set (server-side single use).
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/signup/done", nil)
	req.AddCookie(sessionC)
	req.AddCookie(flashC)
	rr := e.browser().do(req)
	wantStatus(t, rr, http.StatusOK)
	if keyRE.MatchString(rr.Body) {
		t.Fatal("replaying the flash cookie showed the key again")
	}

	// The browser is logged in to the new tenant's console.
	ov := b.get("/console/t/acme")
	wantStatus(t, ov, http.StatusOK)
	if !strings.Contains(ov.Body, "Acme Corp") {
		t.Fatal("overview does not name the tenant")
	}
}

func TestSignupCreatesTenantAndKeyShownOnceSQLite(t *testing.T) {
	e := newEnv(t, envOpts{})
	signupFlow(t, e)
}

func TestSignupCreatesTenantAndKeyShownOncePostgres(t *testing.T) {
	e := newEnv(t, envOpts{dsn: testdb.Postgres(t)})
	signupFlow(t, e)
}
