package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

var logoutCSRF = regexp.MustCompile(`action="/console/logout"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]*)"`)

// docs/SECURITY.md §14: logout ends the session server-side — a copy of the
// cookie taken before logout no longer opens the console — and the logout
// button works from every page, signup included (it used to fail there
// with a CSRF error: the signup form's token replaced the session's).
func TestSecurity_14_LogoutEndsSessionServerSide(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, key := e.tenant("acme", "Acme")
	for _, page := range []string{"/console/t/acme", "/signup", "/", "/console/t/acme/settings", "/console/t/acme/grants", "/console/t/acme/users", "/account", "/console?list=1", "/console/teams/new", "/no-such-page"} {
		t.Run(page, func(t *testing.T) {
			b := e.signedIn(key)
			stolen := b.sessionCookieOf()
			if stolen == "" {
				t.Fatal("no session cookie after login")
			}
			r := b.get(page)
			m := logoutCSRF.FindStringSubmatch(r.Body)
			if m == nil {
				t.Fatalf("%s (status %d) has no logout form", page, r.StatusCode)
			}
			r = b.post("/console/logout", url.Values{"csrf": {m[1]}})
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console/login" {
				t.Fatalf("logout from %s: status %d %q", page, r.StatusCode, r.Header.Get("Location"))
			}
			// The attacker's copy of the cookie is dead too.
			if r := e.replaySession(stolen, "/console/t/acme"); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("copied cookie still opens the console after logout: %d", r.StatusCode)
			}
		})
	}
	// Logging out again (session already ended, or none): still a clean
	// redirect, never a CSRF error page.
	b := e.browser()
	if r := b.post("/console/logout", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout without a session: %d", r.StatusCode)
	}
	// A live session still needs its CSRF token to be ended (no forced
	// logout from another site).
	b.login(key)
	if r := b.post("/console/logout", url.Values{"csrf": {"forged"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("logout with a forged token: %d", r.StatusCode)
	}
	wantStatus(t, b.get("/console/t/acme"), http.StatusOK)
}

// docs/SECURITY.md §11: the console's Users page lists who signed in and
// revokes all of one user's access (the same call as the API), CSRF-bound.
func TestSecurity_11_ConsoleRevokeUser(t *testing.T) {
	e, tn, b := acmeOwner(t)
	ctx := t.Context()
	usr := &tenants.User{TenantID: tn.ID, IdP: tenants.IdPDev, IdPSubject: "alice", Name: "Alice Example", Email: "alice@example.com"}
	if err := e.store.UpsertUser(ctx, usr); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	g := &tenants.Grant{TenantID: tn.ID, ID: tenants.RandomID(), UserID: usr.ID, Subject: usr.ID, ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.store.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	r := b.page("/console/t/acme/users")
	for _, want := range []string{"Alice Example", "alice@example.com", "/console/t/acme/users/" + usr.ID + "/revoke"} {
		if !strings.Contains(r.Body, want) {
			t.Fatalf("users page lacks %q", want)
		}
	}
	// Without the CSRF token: refused, nothing revoked.
	wantStatus(t, b.post("/console/t/acme/users/"+usr.ID+"/revoke", url.Values{}), http.StatusForbidden)
	if got, _ := e.store.GetGrant(ctx, tn.ID, g.ID); got.RevokedAt != nil {
		t.Fatal("revoked without CSRF token")
	}
	r = b.submit("/console/t/acme/users", "/console/t/acme/users/"+usr.ID+"/revoke", nil)
	wantStatus(t, r, http.StatusSeeOther)
	got, err := e.store.GetGrant(ctx, tn.ID, g.ID)
	if err != nil || got.RevokedAt == nil || got.RevokedReason != tenants.RevokedUserAccess {
		t.Fatalf("grant after console revoke: %+v %v", got, err)
	}
	if r := b.get("/console/t/acme/users"); !strings.Contains(r.Body, "1 grants") {
		t.Fatal("no confirmation shown")
	}
	wantStatus(t, b.submit("/console/t/acme/users", "/console/t/acme/users/nope/revoke", nil), http.StatusNotFound)
}
