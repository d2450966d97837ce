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
	e := newEnv(t, envOpts{})
	ten, owner := e.tenant("acme", "Acme")
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
	b := e.browser()
	b.login(owner)
	page := b.get("/console/t/acme/grants")
	wantStatus(t, page, http.StatusOK)
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
