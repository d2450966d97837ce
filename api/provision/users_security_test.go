package provision_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// docs/SECURITY.md §12: uniqueness applies to verified custom domains only.
// A tenant's answer for setting a domain is the same whether the domain is
// free, claimed (unverified) by another tenant, or verified elsewhere — it
// reveals nothing — and only a verified domain resolves a host. Verifying
// a domain another tenant holds verified is the admin's 409.
func TestSecurity_12_CustomDomainClaims(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.mkTenant("acme", nil)
		e.mkTenant("bravo", map[string]any{"custom_domain": "mcp.bravo.example"})
		e.mkTenant("charlie", map[string]any{"custom_domain": "mcp.charlie.example"})
		if r := e.admin("PATCH", "/api/v1/tenants/bravo", map[string]any{"custom_domain_verified": true}); r.status != 200 {
			t.Fatalf("verify bravo: %d %s", r.status, r.body)
		}
		// Squatting at creation: bravo's and charlie's domains can be claimed.
		for i, d := range []string{"mcp.charlie.example", "mcp.bravo.example"} {
			m := e.mkTenant([]string{"squat-one", "squat-two"}[i], map[string]any{"custom_domain": d})
			if m["custom_domain_verified"] != false {
				t.Fatalf("claim of %s came back verified", d)
			}
		}
		key, _ := e.mkKey("acme")
		var bodies []map[string]any
		for _, d := range []string{"mcp.free.example", "mcp.charlie.example", "mcp.bravo.example"} {
			r := e.do(req{method: "PATCH", path: "/api/v1/tenants/acme", token: key, body: map[string]any{"custom_domain": d}})
			if r.status != http.StatusOK {
				t.Fatalf("setting %s: status %d %s — the answer depends on another tenant's claim", d, r.status, r.body)
			}
			m := r.json(t)
			if m["custom_domain"] != d || m["custom_domain_verified"] != false || m["host_mode"] != nil {
				t.Fatalf("setting %s: %s", d, r.body)
			}
			bodies = append(bodies, m)
		}
		// Only the verified holder resolves its host.
		site, ok, err := e.deps.Sites.ResolveHost(ctx, "mcp.bravo.example")
		if err != nil || !ok || site.Tenant.Slug != "bravo" {
			t.Fatalf("mcp.bravo.example resolves to %v %v %v", site.Tenant, ok, err)
		}
		if _, ok, _ := e.deps.Sites.ResolveHost(ctx, "mcp.charlie.example"); ok {
			t.Fatal("an unverified domain resolved a host")
		}
		// The admin cannot verify a second holder.
		r := e.admin("PATCH", "/api/v1/tenants/acme", map[string]any{"custom_domain_verified": true})
		fieldErr(t, r.problem(t, http.StatusConflict), "custom_domain", "verified for another tenant")
		// But may verify charlie's own claim even though others claim it too.
		if r := e.admin("PATCH", "/api/v1/tenants/charlie", map[string]any{"custom_domain_verified": true}); r.status != 200 {
			t.Fatalf("verify charlie: %d %s", r.status, r.body)
		}
	})
}

// docs/SECURITY.md §11: the API lists a tenant's users and revokes all of
// one user's access: every live grant (audited, announced on the bus so
// gateways drop cached liveness) and their consents; another tenant's user
// is a 404 like a missing one.
func TestSecurity_11_RevokeUserAPI(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.mkTenant("acme", nil)
		e.mkTenant("other", nil)
		acme, err := e.store.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		other, _ := e.store.GetTenantBySlug(ctx, "other")
		u := &tenants.User{TenantID: acme.ID, IdP: tenants.IdPDev, IdPSubject: "alice", Email: "alice@example.com", Name: "Alice"}
		if err := e.store.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		ou := &tenants.User{TenantID: other.ID, IdP: tenants.IdPDev, IdPSubject: "olga"}
		if err := e.store.UpsertUser(ctx, ou); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		var ids []string
		for _, c := range []string{"c1", "c2"} {
			g := &tenants.Grant{TenantID: acme.ID, ID: tenants.RandomID(), UserID: u.ID, Subject: u.ID, ClientID: c, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := e.store.CreateGrant(ctx, g); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, g.ID)
		}
		if err := e.store.PutConsent(ctx, &tenants.Consent{TenantID: acme.ID, UserID: u.ID, ClientID: "c1", Scopes: tenants.Strings{"mcp"}}); err != nil {
			t.Fatal(err)
		}
		key, _ := e.mkKey("acme")

		r := e.do(req{method: "GET", path: "/api/v1/tenants/acme/users", token: key})
		if r.status != 200 {
			t.Fatalf("list users: %d %s", r.status, r.body)
		}
		items := r.json(t)["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["email"] != "alice@example.com" {
			t.Fatalf("users: %s", r.body)
		}

		r = e.do(req{method: "POST", path: "/api/v1/tenants/acme/users/" + u.ID + "/revoke", token: key})
		if r.status != 200 || r.json(t)["revoked_grants"] != float64(2) {
			t.Fatalf("revoke user: %d %s", r.status, r.body)
		}
		for _, id := range ids {
			g, err := e.store.GetGrant(ctx, acme.ID, id)
			if err != nil || g.RevokedAt == nil || g.RevokedReason != tenants.RevokedUserAccess {
				t.Fatalf("grant %s after revoking the user: %+v %v", id, g, err)
			}
			if !e.bus.has(tenants.TopicGrantRevoked, acme.ID+" "+id) {
				t.Fatalf("no grant.revoked notice for %s", id)
			}
		}
		if _, err := e.store.GetConsent(ctx, acme.ID, u.ID, "c1"); err == nil {
			t.Fatal("consent survived")
		}
		if evs := e.audit(acme.ID, tenants.ActGrantRevoked); len(evs) != 2 {
			t.Fatalf("grant.revoked events: %d", len(evs))
		}
		if evs := e.audit(acme.ID, "admin.user.revoked"); len(evs) != 1 {
			t.Fatalf("admin.user.revoked events: %d", len(evs))
		}
		// Again: nothing left, still 200.
		r = e.do(req{method: "POST", path: "/api/v1/tenants/acme/users/" + u.ID + "/revoke", token: key})
		if r.status != 200 || r.json(t)["revoked_grants"] != float64(0) {
			t.Fatalf("second revoke: %d %s", r.status, r.body)
		}
		for _, id := range []string{"nope", ou.ID} {
			r = e.do(req{method: "POST", path: "/api/v1/tenants/acme/users/" + id + "/revoke", token: key})
			r.problem(t, http.StatusNotFound)
		}
		// Another tenant's key sees 404 on both routes and changes nothing;
		// a hostile id is a 404, never a 500.
		otherKey, _ := e.mkKey("other")
		e.do(req{method: "GET", path: "/api/v1/tenants/acme/users", token: otherKey}).problem(t, http.StatusNotFound)
		e.do(req{method: "POST", path: "/api/v1/tenants/acme/users/" + u.ID + "/revoke", token: otherKey}).problem(t, http.StatusNotFound)
		for _, id := range []string{strings.Repeat("x", 5000), "%27%3B--"} {
			e.do(req{method: "POST", path: "/api/v1/tenants/acme/users/" + id + "/revoke", token: key}).problem(t, http.StatusNotFound)
		}
	})
}
