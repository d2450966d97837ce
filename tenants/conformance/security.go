package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Storage rules of docs/SECURITY.md §10-§14, on every backend.
func init() {
	Register("UsersKeyedByIssuer", testUsersKeyedByIssuer)
	Register("UserGrantsAndConsents", testUserGrantsAndConsents)
	Register("VerifiedCustomDomainsUnique", testVerifiedCustomDomainsUnique)
}

// §10: the same subject at two issuers of one IdP type is two users.
func testUsersKeyedByIssuer(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "issuers")
	a := &tenants.User{TenantID: tn.ID, IdP: tenants.IdPOIDC, IdPIssuer: "https://idp-a.example", IdPSubject: "42", Email: "a@a.example"}
	must(t, s.UpsertUser(ctx, a))
	b := &tenants.User{TenantID: tn.ID, IdP: tenants.IdPOIDC, IdPIssuer: "https://idp-b.example", IdPSubject: "42", Email: "b@b.example"}
	must(t, s.UpsertUser(ctx, b))
	if a.ID == b.ID {
		t.Fatal("one subject at two issuers became one user")
	}
	again := &tenants.User{TenantID: tn.ID, IdP: tenants.IdPOIDC, IdPIssuer: "https://idp-a.example", IdPSubject: "42", Email: "a2@a.example",
		Orgs: tenants.Strings{"acme"}}
	must(t, s.UpsertUser(ctx, again))
	if again.ID != a.ID || again.Email != "a2@a.example" || len(again.Orgs) != 1 || again.Orgs[0] != "acme" {
		t.Fatalf("same issuer and subject must update the user: %+v", again)
	}
	got, err := s.GetUser(ctx, tn.ID, b.ID)
	must(t, err)
	if got.IdPIssuer != "https://idp-b.example" || got.Email != "b@b.example" {
		t.Fatalf("user b changed: %+v", got)
	}
	var ids []string
	for _, u := range allPages(t, 1, func(p tenants.Page) ([]tenants.User, string, error) { return s.ListUsers(ctx, tn.ID, p) }) {
		ids = append(ids, u.ID)
	}
	if len(ids) != 2 {
		t.Fatalf("ListUsers: %v", ids)
	}
}

// §11: a user's live grants are listed (not others', not ended ones), and
// their consents and pending authorizations go together.
func testUserGrantsAndConsents(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "usergrants")
	now := time.Now().UTC()
	mk := func(id, user string, revoked bool, exp time.Time) {
		g := &tenants.Grant{TenantID: tn.ID, ID: id, UserID: user, Subject: user, ClientID: "c", CreatedAt: now, ExpiresAt: exp}
		must(t, s.CreateGrant(ctx, g))
		if revoked {
			must(t, s.RevokeGrant(ctx, tn.ID, id, "test", now))
		}
	}
	mk("g1", "u1", false, now.Add(time.Hour))
	mk("g2", "u1", false, now.Add(time.Hour))
	mk("g3", "u1", true, now.Add(time.Hour))
	mk("g4", "u1", false, now.Add(-time.Minute))
	mk("g5", "u2", false, now.Add(time.Hour))
	gs, err := s.ListLiveGrantsForUser(ctx, tn.ID, "u1", now)
	must(t, err)
	if len(gs) != 2 || gs[0].ID != "g1" || gs[1].ID != "g2" {
		t.Fatalf("live grants of u1: %+v", gs)
	}
	must(t, s.PutConsent(ctx, &tenants.Consent{TenantID: tn.ID, UserID: "u1", ClientID: "c", Scopes: tenants.Strings{"mcp"}}))
	must(t, s.PutConsent(ctx, &tenants.Consent{TenantID: tn.ID, UserID: "u2", ClientID: "c", Scopes: tenants.Strings{"mcp"}}))
	must(t, s.CreatePending(ctx, &tenants.PendingAuthorization{TenantID: tn.ID, ID: "p1", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.DeleteConsentsForUser(ctx, tn.ID, "u1"))
	if _, err := s.GetConsent(ctx, tn.ID, "u1", "c"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("u1's consent survived: %v", err)
	}
	if _, err := s.GetPending(ctx, tn.ID, "p1"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("u1's pending authorization survived: %v", err)
	}
	if _, err := s.GetConsent(ctx, tn.ID, "u2", "c"); err != nil {
		t.Fatalf("u2's consent went too: %v", err)
	}
}

// §12: any number of tenants may claim a domain; only one may hold it
// verified, and only a verified one resolves.
func testVerifiedCustomDomainsUnique(t *testing.T, s tenants.Store) {
	d := "mcp.shared.example"
	a, b, c := NewTenant(t, s, "dom-a"), NewTenant(t, s, "dom-b"), NewTenant(t, s, "dom-c")
	for _, tn := range []*tenants.Tenant{a, b} {
		tn.CustomDomain = &d
		must(t, s.UpdateTenant(ctx, tn))
	}
	if _, err := s.GetTenantByDomain(ctx, d); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("unverified claims must not resolve: %v", err)
	}
	b.CustomDomainVerified = true
	must(t, s.UpdateTenant(ctx, b))
	a.CustomDomainVerified = true
	if err := s.UpdateTenant(ctx, a); !errors.Is(err, tenants.ErrConflict) {
		t.Fatalf("second verified holder: want ErrConflict, got %v", err)
	}
	// A new tenant may still claim it (unverified), even at creation.
	now := time.Now().UTC()
	dd := d
	must(t, s.CreateTenant(ctx, &tenants.Tenant{ID: tenants.RandomID(), Slug: "dom-d", Name: "d", CustomDomain: &dd, CreatedAt: now, UpdatedAt: now}))
	c.CustomDomain = &dd
	must(t, s.UpdateTenant(ctx, c))
	got, err := s.GetTenantByDomain(ctx, d)
	must(t, err)
	if got.ID != b.ID {
		t.Fatalf("domain resolves to %s, want the verified holder", got.Slug)
	}
}
