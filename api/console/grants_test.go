package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Grants show the person and the client by name, newest first; sign-ins
// whose code was never exchanged are hidden unless asked for.
func TestGrantsByNameAndCodeStageHidden(t *testing.T) {
	e, ten, b := acmeOwner(t)
	ctx := context.Background()
	_, cl, err := e.prov.CreatePreregisteredClient(ctx, ten, tenants.PreregisteredClientInput{ClientName: "Claude", RedirectURIs: []string{"https://claude.ai/api/mcp/auth_callback"}})
	if err != nil {
		t.Fatal(err)
	}
	usr := &tenants.User{TenantID: ten.ID, IdP: tenants.IdPDev, IdPSubject: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}
	if err := e.store.UpsertUser(ctx, usr); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	older := &tenants.Grant{TenantID: ten.ID, ID: "g-older", UserID: usr.ID, Subject: usr.ID, ClientID: cl.ID, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}
	newer := &tenants.Grant{TenantID: ten.ID, ID: "a-newer", UserID: usr.ID, Subject: usr.ID, ClientID: cl.ID, CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}
	stale := &tenants.Grant{TenantID: ten.ID, ID: "m-codestage", UserID: usr.ID, Subject: usr.ID, ClientID: cl.ID, CreatedAt: now.Add(-10 * time.Minute), ExpiresAt: now.Add(-9 * time.Minute)}
	for _, g := range []*tenants.Grant{older, newer, stale} {
		if err := e.store.CreateGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	page := b.page("/console/t/acme/grants")
	if !strings.Contains(page.Body, "Ada Lovelace") || !strings.Contains(page.Body, "Claude") {
		t.Fatalf("grants not shown by name:\n%.3000s", page.Body)
	}
	if strings.Contains(page.Body, "m-codestage") || !strings.Contains(page.Body, "1 sign-ins that never finished") {
		t.Fatal("code-stage grant not hidden")
	}
	if i, j := strings.Index(page.Body, "/grants/a-newer/"), strings.Index(page.Body, "/grants/g-older/"); i < 0 || j < 0 || i > j {
		t.Fatal("grants not newest first")
	}
	all := b.get("/console/t/acme/grants?all=1")
	if strings.Count(all.Body, `<tr>`) < 4 {
		t.Fatalf("all=1 does not show the code-stage grant:\n%.3000s", all.Body)
	}
}

// A user's page lists their clients and grants by name, newest first, in
// words ("2 hours ago"); one grant is revoked from it, then all of the
// user's access; another user's grants never appear; a viewer may read it
// but not revoke.
func TestUserDetailPage(t *testing.T) {
	e, ten, b := acmeOwner(t)
	ctx := context.Background()
	mkClient := func(name string) *tenants.Client {
		_, cl, err := e.prov.CreatePreregisteredClient(ctx, ten, tenants.PreregisteredClientInput{ClientName: name, RedirectURIs: []string{"https://claude.ai/api/mcp/auth_callback"}})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	claude, cursor := mkClient("Claude"), mkClient("Cursor")
	ada := &tenants.User{TenantID: ten.ID, IdP: tenants.IdPDev, IdPSubject: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}
	bob := &tenants.User{TenantID: ten.ID, IdP: tenants.IdPDev, IdPSubject: "bob", Name: "Bob Other", Email: "bob@example.com"}
	for _, u := range []*tenants.User{ada, bob} {
		if err := e.store.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	used := now.Add(-3 * time.Hour)
	grants := []*tenants.Grant{
		{TenantID: ten.ID, ID: "z-old", UserID: ada.ID, Subject: ada.ID, ClientID: claude.ID, CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(time.Hour), LastUsedAt: &used},
		{TenantID: ten.ID, ID: "a-new", UserID: ada.ID, Subject: ada.ID, ClientID: cursor.ID, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)},
		{TenantID: ten.ID, ID: "bob-grant", UserID: bob.ID, Subject: bob.ID, ClientID: claude.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	}
	for _, g := range grants {
		if err := e.store.CreateGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	users := b.get("/console/t/acme/users")
	if !strings.Contains(users.Body, `href="/console/t/acme/users/`+ada.ID+`"`) {
		t.Fatalf("users list does not link the user's page:\n%.3000s", users.Body)
	}
	page := b.page("/console/t/acme/users/" + ada.ID)
	for _, want := range []string{"Ada Lovelace", "ada@example.com", "Claude", "Cursor", "last used 3 hours ago", "Revoke all of this user's access"} {
		if !strings.Contains(page.Body, want) {
			t.Fatalf("user page lacks %q:\n%.4000s", want, page.Body)
		}
	}
	if strings.Contains(page.Body, "bob-grant") {
		t.Fatal("another user's grant is on the page")
	}
	if i, j := strings.Index(page.Body, "/grants/a-new/"), strings.Index(page.Body, "/grants/z-old/"); i < 0 || j < 0 || i > j {
		t.Fatal("grants not newest first")
	}
	// Revoke one grant from the page: back on the page, that one revoked.
	r := b.submit("/console/t/acme/users/"+ada.ID, "/console/t/acme/grants/z-old/revoke", map[string][]string{"user": {ada.ID}})
	wantRedirect(t, r, "/console/t/acme/users/"+ada.ID)
	if g, _ := e.store.GetGrant(ctx, ten.ID, "z-old"); g.RevokedAt == nil {
		t.Fatal("grant not revoked")
	}
	if g, _ := e.store.GetGrant(ctx, ten.ID, "a-new"); g.RevokedAt != nil {
		t.Fatal("the other grant was revoked too")
	}
	// A viewer reads the page but cannot revoke.
	vb := e.viewerBrowser(ten)
	vp := vb.page("/console/t/acme/users/" + ada.ID)
	if strings.Contains(vp.Body, "Revoke all of this user") {
		t.Fatal("a viewer is offered revoke-all")
	}
	wantStatus(t, vb.submit("/console/t/acme/users/"+ada.ID, "/console/t/acme/users/"+ada.ID+"/revoke", nil), http.StatusForbidden)
	// Revoke all: every grant of the user, none of Bob's.
	r = b.submit("/console/t/acme/users/"+ada.ID, "/console/t/acme/users/"+ada.ID+"/revoke", map[string][]string{"from": {"user"}})
	wantRedirect(t, r, "/console/t/acme/users/"+ada.ID)
	if g, _ := e.store.GetGrant(ctx, ten.ID, "a-new"); g.RevokedAt == nil {
		t.Fatal("revoke all left a grant live")
	}
	if g, _ := e.store.GetGrant(ctx, ten.ID, "bob-grant"); g.RevokedAt != nil {
		t.Fatal("revoke all revoked another user's grant")
	}
	wantStatus(t, b.get("/console/t/acme/users/no-such-user"), http.StatusNotFound)
	e.tenant("other", "Other")
	wantStatus(t, b.get("/console/t/other/users/"+ada.ID), http.StatusNotFound)
}

// Token lifetimes are set in seconds and read in hours and days.
func TestSettingsLifetimesInWords(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, b := e.ownerBrowser("acme", "Acme")
	page := b.get("/console/t/acme/settings").Body
	for _, want := range []string{"Default: 1 hour", "Default: 30 days", "Default: 14 days", "Default: 1 minute"} {
		if !strings.Contains(page, want) {
			t.Errorf("settings page lacks %q", want)
		}
	}
	r := b.submit("/console/t/acme/settings", "/console/t/acme/settings", map[string][]string{"name": {"Acme"}, "upstream_mcp_url": {"http://127.0.0.1:9/mcp"}, "settings.access_token_ttl": {"7200"}})
	wantStatus(t, r, http.StatusSeeOther)
	if page := b.get("/console/t/acme/settings").Body; !strings.Contains(page, ">2 hours</p>") {
		t.Error("a set lifetime is not shown in words")
	}
}
