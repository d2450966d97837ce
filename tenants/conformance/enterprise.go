package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Enterprise conformance (docs/RULES.md §11): trusted enterprise IdPs are per
// tenant and unique per issuer; a single-use identifier is used once across
// concurrent callers (replicas), per tenant, until it expires.

func init() {
	Register("EnterpriseIdPs", testEnterpriseIdPs)
	Register("UseJTIOnceUnderRace", testUseJTIRace)
	Register("UseJTIExpiryAndSweep", testUseJTIExpiry)
}

func testEnterpriseIdPs(t *testing.T, s tenants.Store) {
	a := NewTenant(t, s, "ent-a")
	b := NewTenant(t, s, "ent-b")
	now := time.Now().UTC().Truncate(time.Second)
	e := &tenants.EnterpriseIdP{TenantID: a.ID, ID: tenants.RandomID(), Issuer: "https://acme.okta.example",
		AllowedClients: tenants.Strings{"c1", "c2"}, Scopes: tenants.Strings{"mcp"}, CreatedAt: now}
	must(t, s.CreateEnterpriseIdP(ctx, e))
	dup := *e
	dup.ID = tenants.RandomID()
	if err := s.CreateEnterpriseIdP(ctx, &dup); !errors.Is(err, tenants.ErrConflict) {
		t.Fatalf("same issuer twice in one tenant: want ErrConflict, got %v", err)
	}
	other := *e
	other.TenantID, other.ID = b.ID, tenants.RandomID()
	must(t, s.CreateEnterpriseIdP(ctx, &other)) // another tenant may trust the same issuer
	got, err := s.FindEnterpriseIdP(ctx, a.ID, "https://acme.okta.example")
	must(t, err)
	if got.ID != e.ID || len(got.AllowedClients) != 2 || got.AllowedClients[1] != "c2" || !got.Scopes.Contains("mcp") {
		t.Fatalf("found %+v", got)
	}
	if _, err := s.FindEnterpriseIdP(ctx, a.ID, "https://acme.okta.example/"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("issuer must match exactly: %v", err)
	}
	if _, err := s.GetEnterpriseIdP(ctx, b.ID, e.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("another tenant's IdP by id: %v", err)
	}
	list, err := s.ListEnterpriseIdPs(ctx, a.ID)
	must(t, err)
	if len(list) != 1 || list[0].ID != e.ID {
		t.Fatalf("list: %+v", list)
	}
	if err := s.DeleteEnterpriseIdP(ctx, b.ID, e.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("delete through another tenant: %v", err)
	}
	must(t, s.DeleteEnterpriseIdP(ctx, a.ID, e.ID))
	if list, _ := s.ListEnterpriseIdPs(ctx, a.ID); len(list) != 0 {
		t.Fatalf("after delete: %+v", list)
	}
	if list, _ := s.ListEnterpriseIdPs(ctx, b.ID); len(list) != 1 {
		t.Fatalf("delete touched another tenant: %+v", list)
	}
	must(t, s.DeleteTenant(ctx, b.ID))
	if _, err := s.GetEnterpriseIdP(ctx, b.ID, other.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("IdP survived its tenant: %v", err)
	}
}

func testUseJTIRace(t *testing.T, s tenants.Store) {
	a := NewTenant(t, s, "jti-a")
	b := NewTenant(t, s, "jti-b")
	now := time.Now().UTC()
	key := tenants.JTIKey("id-jag", "https://idp.example", "j1")
	onlyOneWins(t, "uses of one ID-JAG", 8, func(int) error {
		return s.UseJTI(ctx, a.ID, key, now.Add(time.Minute), now)
	}, tenants.ErrReplayed)
	// Another tenant, or another kind of use, is another key space.
	must(t, s.UseJTI(ctx, b.ID, key, now.Add(time.Minute), now))
	must(t, s.UseJTI(ctx, a.ID, tenants.JTIKey("dpop", "https://idp.example", "j1"), now.Add(time.Minute), now))
}

func testUseJTIExpiry(t *testing.T, s tenants.Store) {
	a := NewTenant(t, s, "jti-exp")
	now := time.Now().UTC().Truncate(time.Second)
	k1, k2 := tenants.JTIKey("id-jag", "i", "old"), tenants.JTIKey("id-jag", "i", "live")
	must(t, s.UseJTI(ctx, a.ID, k1, now.Add(-time.Minute), now.Add(-2*time.Minute)))
	must(t, s.UseJTI(ctx, a.ID, k2, now.Add(time.Hour), now))
	if err := s.UseJTI(ctx, a.ID, k2, now.Add(time.Hour), now.Add(30*time.Minute)); !errors.Is(err, tenants.ErrReplayed) {
		t.Fatalf("unexpired key reused: %v", err)
	}
	n, err := s.DeleteExpiredJTIs(ctx, now, 100)
	must(t, err)
	if n != 1 {
		t.Fatalf("swept %d, want 1 (the expired one only)", n)
	}
	if err := s.UseJTI(ctx, a.ID, k2, now.Add(time.Hour), now); !errors.Is(err, tenants.ErrReplayed) {
		t.Fatalf("the sweep removed a live key: %v", err)
	}
	// An expired row not yet swept does not block a later use of the key.
	must(t, s.UseJTI(ctx, a.ID, k1, now.Add(-time.Second), now.Add(-time.Minute)))
	must(t, s.UseJTI(ctx, a.ID, k1, now.Add(time.Minute), now))
}
