// Package conformance is the storage conformance suite (dex style): the same
// tests run against every tenants.Store backend, SQLite and Postgres.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// NewStore opens a fresh, empty, migrated store for one test.
type NewStore func(t *testing.T) tenants.Store

// Run runs every conformance test against the backend.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s tenants.Store)
	}{
		{"TenantCRUD", testTenantCRUD},
		{"TenantSlugRace", testTenantSlugRace},
		{"TenantPaging", testTenantPaging},
		{"DeleteTenantRemovesEverything", testDeleteTenant},
		{"IdPs", testIdPs},
		{"APIKeys", testAPIKeys},
		{"SystemValues", testSystemValues},
		{"TenantIsolation", testIsolation},
		{"Clients", testClients},
		{"Users", testUsers},
		{"AuthCodeSingleUseRace", testAuthCodeRace},
		{"RefreshRotationRace", testRefreshRace},
		{"GrantRevocation", testGrantRevocation},
		{"SigningKeys", testSigningKeys},
		{"AuditEvents", testAudit},
		{"TimesCompareChronologically", testTimes},
	}
	for _, tc := range append(tests, extra...) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

var extra []struct {
	name string
	fn   func(t *testing.T, s tenants.Store)
}

// Register adds a test to the suite; area files (sweeps, …) call it from init.
func Register(name string, fn func(t *testing.T, s tenants.Store)) {
	extra = append(extra, struct {
		name string
		fn   func(t *testing.T, s tenants.Store)
	}{name, fn})
}

var ctx = context.Background()

// NewTenant creates a tenant with the given slug.
func NewTenant(t testing.TB, s tenants.Store, slug string) *tenants.Tenant {
	t.Helper()
	now := time.Now().UTC()
	tn := &tenants.Tenant{ID: tenants.RandomID(), Slug: slug, Name: slug, UpstreamMCPURL: "http://127.0.0.1:9/mcp", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatalf("create tenant %s: %v", slug, err)
	}
	return tn
}

// allPages follows list's cursors from the first page (pages of size) to
// the last and returns every item; it fails the test when list errs or the
// paging does not end within 20 pages.
func allPages[T any](t *testing.T, size int, list func(tenants.Page) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	pages := 0
	for items, err := range tenants.Pages(size, list) {
		must(t, err)
		if pages++; pages > 20 {
			t.Fatal("paging did not end")
		}
		all = append(all, items...)
	}
	return all
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testTenantCRUD(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "acme")
	ttl := 120
	tn.Settings.AccessTokenTTL = &ttl
	tn.Settings.ToolScopes = map[string]string{"delete": "admin"}
	must(t, s.UpdateTenant(ctx, tn))
	got, err := s.GetTenantBySlug(ctx, "acme")
	must(t, err)
	if got.ID != tn.ID || got.Settings.AccessTTL() != 120*time.Second || got.Settings.ToolScopes["delete"] != "admin" {
		t.Fatalf("round trip lost data: %+v", got)
	}
	if _, err := s.GetTenant(ctx, "nope"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("missing tenant: want ErrNotFound, got %v", err)
	}
	// Custom domains (claimed, verified, unique): testVerifiedCustomDomainsUnique.
}

func testTenantSlugRace(t *testing.T, s tenants.Store) {
	onlyOneWins(t, "creates of one slug", 8, func(int) error {
		now := time.Now().UTC()
		return s.CreateTenant(ctx, &tenants.Tenant{ID: tenants.RandomID(), Slug: "race", CreatedAt: now, UpdatedAt: now})
	}, tenants.ErrConflict)
}

func testTenantPaging(t *testing.T, s tenants.Store) {
	for i := 0; i < 7; i++ {
		NewTenant(t, s, fmt.Sprintf("t%02d", i))
	}
	var seen []string
	for _, it := range allPages(t, 3, func(p tenants.Page) ([]tenants.Tenant, string, error) { return s.ListTenants(ctx, p) }) {
		seen = append(seen, it.Slug)
	}
	if len(seen) != 7 || seen[0] != "t00" || seen[6] != "t06" {
		t.Fatalf("paged %v", seen)
	}
	if _, _, err := s.ListTenants(ctx, tenants.Page{Cursor: "!!not-base64"}); !errors.Is(err, tenants.ErrBadCursor) {
		t.Fatalf("bad cursor: want ErrBadCursor, got %v", err)
	}
}

func testDeleteTenant(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "gone")
	keep := NewTenant(t, s, "kept")
	for _, id := range []string{tn.ID, keep.ID} {
		must(t, s.CreateAPIKey(ctx, &tenants.APIKey{ID: tenants.RandomID(), TenantID: id, Hash: tenants.HashSecret(tenants.RandomToken()), CreatedAt: time.Now().UTC()}))
		must(t, s.CreateClient(ctx, &tenants.Client{TenantID: id, ID: "c1", Kind: tenants.ClientDCR, CreatedAt: time.Now().UTC()}))
		must(t, s.InsertAuditEvents(ctx, []tenants.AuditEvent{{ID: tenants.OrderedID(time.Now()), TenantID: id, Time: time.Now(), Action: "admin.test"}}))
	}
	must(t, s.DeleteTenant(ctx, tn.ID))
	if keys, _ := s.ListAPIKeys(ctx, tn.ID); len(keys) != 0 {
		t.Fatal("api keys survived their tenant")
	}
	if _, err := s.GetClient(ctx, tn.ID, "c1"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatal("client survived its tenant")
	}
	if keys, _ := s.ListAPIKeys(ctx, keep.ID); len(keys) != 1 {
		t.Fatal("deleting one tenant touched another")
	}
	if _, err := s.GetClient(ctx, keep.ID, "c1"); err != nil {
		t.Fatal("deleting one tenant touched another's client")
	}
	if err := s.DeleteTenant(ctx, tn.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("second delete: want ErrNotFound, got %v", err)
	}
}

func testIdPs(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "idps")
	must(t, s.PutIdP(ctx, &tenants.IdPConfig{TenantID: tn.ID, Type: tenants.IdPGitHub, ClientID: "a", AllowedOrgs: tenants.Strings{"acme"}}))
	must(t, s.PutIdP(ctx, &tenants.IdPConfig{TenantID: tn.ID, Type: tenants.IdPGitHub, ClientID: "b"}))
	must(t, s.PutIdP(ctx, &tenants.IdPConfig{TenantID: tn.ID, Type: tenants.IdPDev}))
	list, err := s.ListIdPs(ctx, tn.ID)
	must(t, err)
	if len(list) != 2 || list[1].ClientID != "b" {
		t.Fatalf("idps: %+v", list)
	}
	must(t, s.ReplaceIdPs(ctx, tn.ID, []tenants.IdPConfig{{Type: tenants.IdPOIDC, IssuerURL: "https://id.example"}}))
	list, _ = s.ListIdPs(ctx, tn.ID)
	if len(list) != 1 || list[0].Type != tenants.IdPOIDC {
		t.Fatalf("replace: %+v", list)
	}
}

func testAPIKeys(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "keys")
	key := tenants.RandomToken()
	k := &tenants.APIKey{ID: tenants.RandomID(), TenantID: tn.ID, Name: "ci", Hash: tenants.HashSecret(key), CreatedAt: time.Now().UTC()}
	must(t, s.CreateAPIKey(ctx, k))
	got, err := s.GetAPIKeyByHash(ctx, tenants.HashSecret(key))
	must(t, err)
	if got.TenantID != tn.ID {
		t.Fatal("key found the wrong tenant")
	}
	must(t, s.TouchAPIKey(ctx, tn.ID, k.ID, time.Now()))
	if err := s.DeleteAPIKey(ctx, "other-tenant", k.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("delete through another tenant: want ErrNotFound, got %v", err)
	}
	must(t, s.DeleteAPIKey(ctx, tn.ID, k.ID))
}

func testSystemValues(t *testing.T, s tenants.Store) {
	ok, err := s.PutSystemValueIfAbsent(ctx, "admin", "h1")
	must(t, err)
	ok2, err := s.PutSystemValueIfAbsent(ctx, "admin", "h2")
	must(t, err)
	v, _ := s.GetSystemValue(ctx, "admin")
	if !ok || ok2 || v != "h1" {
		t.Fatalf("if-absent: %v %v %q", ok, ok2, v)
	}
	must(t, s.PutSystemValue(ctx, "admin", "h3"))
	if v, _ := s.GetSystemValue(ctx, "admin"); v != "h3" {
		t.Fatalf("put: %q", v)
	}
}

// Every tenant-scoped lookup with another tenant's id finds nothing.
func testIsolation(t *testing.T, s tenants.Store) {
	a, b := NewTenant(t, s, "alpha"), NewTenant(t, s, "bravo")
	now := time.Now().UTC()
	must(t, s.CreateClient(ctx, &tenants.Client{TenantID: a.ID, ID: "shared-id", Kind: tenants.ClientDCR, CreatedAt: now}))
	g := &tenants.Grant{TenantID: a.ID, ID: tenants.RandomID(), ClientID: "shared-id", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, s.CreateGrant(ctx, g))
	must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: a.ID, Hash: "h", GrantID: g.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}))
	must(t, s.CreateAuthCode(ctx, &tenants.AuthCode{TenantID: a.ID, Hash: "c", GrantID: g.ID, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
	if _, err := s.GetClient(ctx, b.ID, "shared-id"); !errors.Is(err, tenants.ErrNotFound) {
		t.Error("client visible to another tenant")
	}
	if _, err := s.GetGrant(ctx, b.ID, g.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Error("grant visible to another tenant")
	}
	if _, err := s.GetRefreshToken(ctx, b.ID, "h"); !errors.Is(err, tenants.ErrNotFound) {
		t.Error("refresh token visible to another tenant")
	}
	if _, err := s.ConsumeAuthCode(ctx, b.ID, "c", now); !errors.Is(err, tenants.ErrNotFound) {
		t.Error("code redeemable at another tenant")
	}
	if err := s.RevokeGrant(ctx, b.ID, g.ID, "x", now); !errors.Is(err, tenants.ErrNotFound) {
		t.Error("grant revocable through another tenant")
	}
	if got, _ := s.GetGrant(ctx, a.ID, g.ID); got.RevokedAt != nil {
		t.Error("another tenant revoked the grant")
	}
	if items, _, _ := s.ListGrants(ctx, b.ID, tenants.Page{}); len(items) != 0 {
		t.Error("grant listed for another tenant")
	}
	// The same client id may exist in two tenants independently.
	must(t, s.CreateClient(ctx, &tenants.Client{TenantID: b.ID, ID: "shared-id", Kind: tenants.ClientDCR, CreatedAt: now}))
	ids, err := s.FindClientTenants(ctx, "shared-id")
	must(t, err)
	if len(ids) != 2 {
		t.Errorf("FindClientTenants: %v", ids)
	}
}

func testClients(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "clients")
	now := time.Now().UTC()
	c := &tenants.Client{TenantID: tn.ID, ID: "c1", Kind: tenants.ClientDCR, RedirectURIs: tenants.Strings{"https://a/cb"}, MetadataHash: "m1", CreatedAt: now}
	must(t, s.CreateClient(ctx, c))
	if err := s.CreateClient(ctx, &tenants.Client{TenantID: tn.ID, ID: "c1", CreatedAt: now}); !errors.Is(err, tenants.ErrConflict) {
		t.Fatalf("duplicate client id: want ErrConflict, got %v", err)
	}
	got, err := s.FindClientByMetadataHash(ctx, tn.ID, "m1")
	must(t, err)
	if got.ID != "c1" || got.RedirectURIs[0] != "https://a/cb" {
		t.Fatalf("by metadata: %+v", got)
	}
	g := &tenants.Grant{TenantID: tn.ID, ID: tenants.RandomID(), ClientID: "c1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, s.CreateGrant(ctx, g))
	if n, _ := s.CountLiveGrantsForClient(ctx, tn.ID, "c1", now); n != 1 {
		t.Fatalf("live grants: %d", n)
	}
	// A client's own grant (client_credentials) is found by resource and
	// exact scopes while live past the asked instant; the newest wins.
	own := func(exp time.Time, scopes ...string) *tenants.Grant {
		g := &tenants.Grant{TenantID: tn.ID, ID: tenants.RandomID(), ClientID: "c1", Subject: "c1", Scopes: scopes, Resource: "https://r/mcp",
			CreatedAt: now, ExpiresAt: exp}
		must(t, s.CreateGrant(ctx, g))
		return g
	}
	older, newer := own(now.Add(2*time.Hour), "mcp"), own(now.Add(3*time.Hour), "mcp")
	own(now.Add(5*time.Hour), "mcp", "read")
	if got, err := s.FindClientGrant(ctx, tn.ID, "c1", "https://r/mcp", tenants.Strings{"mcp"}, now.Add(time.Hour)); err != nil || got.ID != newer.ID {
		t.Fatalf("client grant: %+v %v", got, err)
	}
	if _, err := s.FindClientGrant(ctx, tn.ID, "c1", "https://r/mcp", tenants.Strings{"mcp"}, now.Add(4*time.Hour)); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("a grant ending before liveUntil was found: %v", err)
	}
	if _, err := s.FindClientGrant(ctx, tn.ID, "c1", "https://other/mcp", tenants.Strings{"mcp"}, now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("another resource's grant was found: %v", err)
	}
	must(t, s.RevokeGrant(ctx, tn.ID, newer.ID, "test", now))
	if got, err := s.FindClientGrant(ctx, tn.ID, "c1", "https://r/mcp", tenants.Strings{"mcp"}, now); err != nil || got.ID != older.ID {
		t.Fatalf("after revoking the newest: %+v %v", got, err)
	}
	// A user's grant of the same client is never a client grant.
	ug := &tenants.Grant{TenantID: tn.ID, ID: tenants.RandomID(), UserID: "u1", ClientID: "c1", Subject: "c1", Scopes: tenants.Strings{"mcp", "x"},
		Resource: "https://r/mcp", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, s.CreateGrant(ctx, ug))
	if _, err := s.FindClientGrant(ctx, tn.ID, "c1", "https://r/mcp", tenants.Strings{"mcp", "x"}, now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("a user's grant was found as the client's own: %v", err)
	}
	must(t, s.DeleteClient(ctx, tn.ID, "c1"))
	if g2, _ := s.GetGrant(ctx, tn.ID, g.ID); g2.RevokedAt == nil {
		t.Fatal("deleting a client must revoke its grants")
	}
}

func testUsers(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "users")
	u := &tenants.User{TenantID: tn.ID, IdP: "github", IdPSubject: "42", Email: "a@x"}
	must(t, s.UpsertUser(ctx, u))
	u2 := &tenants.User{TenantID: tn.ID, IdP: "github", IdPSubject: "42", Email: "b@x"}
	must(t, s.UpsertUser(ctx, u2))
	if u.ID != u2.ID || u2.Email != "b@x" {
		t.Fatalf("upsert must find the same user and update it: %+v %+v", u, u2)
	}
	other := NewTenant(t, s, "users2")
	u3 := &tenants.User{TenantID: other.ID, IdP: "github", IdPSubject: "42"}
	must(t, s.UpsertUser(ctx, u3))
	if u3.ID == u.ID {
		t.Fatal("users are per tenant")
	}
}

func testAuthCodeRace(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "codes")
	now := time.Now().UTC()
	must(t, s.CreateAuthCode(ctx, &tenants.AuthCode{TenantID: tn.ID, Hash: "code", GrantID: "g", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
	onlyOneWins(t, "redemptions of one code", 6, func(int) error {
		_, err := s.ConsumeAuthCode(ctx, tn.ID, "code", time.Now())
		return err
	}, tenants.ErrConflict)
}

func testRefreshRace(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "refresh")
	now := time.Now().UTC()
	must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: tn.ID, Hash: "r0", GrantID: "g", CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}))
	onlyOneWins(t, "rotations of one refresh token", 5, func(i int) error {
		next := &tenants.RefreshToken{TenantID: tn.ID, Hash: fmt.Sprintf("r1-%d", i), GrantID: "g", Generation: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
		return s.RotateRefreshToken(ctx, tn.ID, "r0", next, time.Now())
	}, tenants.ErrConflict)
	old, err := s.GetRefreshToken(ctx, tn.ID, "r0")
	must(t, err)
	if old.RotatedAt == nil || old.SuccessorHash == "" {
		t.Fatal("rotated token must point at its successor")
	}
	if _, err := s.GetRefreshToken(ctx, tn.ID, old.SuccessorHash); err != nil {
		t.Fatalf("successor missing: %v", err)
	}
}

func testGrantRevocation(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "grants")
	now := time.Now().UTC()
	g := &tenants.Grant{TenantID: tn.ID, ID: "g1", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, s.CreateGrant(ctx, g))
	must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: tn.ID, Hash: "r", GrantID: "g1", CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}))
	must(t, s.RevokeGrant(ctx, tn.ID, "g1", "test", now))
	got, _ := s.GetGrant(ctx, tn.ID, "g1")
	if got.Live(now) || got.RevokedReason != "test" {
		t.Fatalf("revoked grant: %+v", got)
	}
	if _, err := s.GetRefreshToken(ctx, tn.ID, "r"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatal("refresh token of a revoked grant survived")
	}
	must(t, s.RevokeGrant(ctx, tn.ID, "g1", "again", now)) // idempotent
	// TouchGrant moves last use and expiry of a live grant, and never
	// un-revokes a revoked one.
	later := now.Add(2 * time.Hour)
	must(t, s.TouchGrant(ctx, tn.ID, "g1", now, &later))
	if got, _ := s.GetGrant(ctx, tn.ID, "g1"); got.RevokedAt == nil {
		t.Fatal("TouchGrant un-revoked a grant")
	}
	g2 := &tenants.Grant{TenantID: tn.ID, ID: "g2", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateGrant(ctx, g2))
	must(t, s.TouchGrant(ctx, tn.ID, "g2", now, &later))
	if got, _ := s.GetGrant(ctx, tn.ID, "g2"); !got.Live(now.Add(time.Hour)) || got.LastUsedAt == nil {
		t.Fatalf("TouchGrant did not extend a live grant: %+v", got)
	}
}

func testSigningKeys(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "sk")
	now := time.Now().UTC()
	must(t, s.CreateSigningKey(ctx, &tenants.SigningKey{TenantID: tn.ID, KID: "k1", Alg: "ES256", State: tenants.KeyActive, PrivateSealed: "x", PublicJWK: "{}", CreatedAt: now.Add(-time.Hour)}))
	must(t, s.CreateSigningKey(ctx, &tenants.SigningKey{TenantID: tn.ID, KID: "k2", Alg: "ES256", State: tenants.KeyNext, PrivateSealed: "y", PublicJWK: "{}", CreatedAt: now}))
	keys, err := s.ListSigningKeys(ctx, tn.ID)
	must(t, err)
	if len(keys) != 2 || keys[0].KID != "k2" {
		t.Fatalf("keys newest first: %+v", keys)
	}
	keys[1].State = tenants.KeyRetired
	del := now.Add(time.Hour)
	keys[1].DeleteAfter = &del
	must(t, s.UpdateSigningKey(ctx, &keys[1]))
	must(t, s.DeleteSigningKey(ctx, tn.ID, "k2"))
	keys, _ = s.ListSigningKeys(ctx, tn.ID)
	if len(keys) != 1 || keys[0].State != tenants.KeyRetired || keys[0].DeleteAfter == nil {
		t.Fatalf("after update/delete: %+v", keys)
	}
}

func testAudit(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "audit")
	base := time.Now().UTC().Add(-time.Hour)
	var evs []tenants.AuditEvent
	for i := 0; i < 25; i++ {
		at := base.Add(time.Duration(i) * time.Minute)
		action := "token.issued"
		if i%5 == 0 {
			action = "mcp.denied"
		}
		evs = append(evs, tenants.AuditEvent{ID: tenants.OrderedID(at), TenantID: tn.ID, Time: at, Action: action, ClientID: "c", Details: tenants.JSONMap{"i": i}})
	}
	must(t, s.InsertAuditEvents(ctx, evs))
	must(t, s.InsertAuditEvents(ctx, evs[:3])) // retried batch: no duplicates
	if n, _ := s.CountAuditEvents(ctx, tn.ID); n != 25 {
		t.Fatalf("count after retried batch: %d", n)
	}
	items, next, err := s.ListAuditEvents(ctx, tn.ID, tenants.AuditFilter{Page: tenants.Page{Limit: 10}})
	must(t, err)
	if len(items) != 10 || next == "" || !items[0].Time.After(items[9].Time) {
		t.Fatalf("newest first page: %d items, next %q", len(items), next)
	}
	items2, _, _ := s.ListAuditEvents(ctx, tn.ID, tenants.AuditFilter{Page: tenants.Page{Limit: 10, Cursor: next}})
	if len(items2) != 10 || items2[0].ID >= items[9].ID {
		t.Fatal("second page must continue after the first")
	}
	denied, _, _ := s.ListAuditEvents(ctx, tn.ID, tenants.AuditFilter{Action: "mcp.denied"})
	if len(denied) != 5 {
		t.Fatalf("filter by action: %d", len(denied))
	}
	ranged, _, _ := s.ListAuditEvents(ctx, tn.ID, tenants.AuditFilter{After: base.Add(10 * time.Minute), Before: base.Add(15 * time.Minute)})
	if len(ranged) != 5 {
		t.Fatalf("time range [10m,15m): %d events", len(ranged))
	}
	n, err := s.DeleteAuditEventsBefore(ctx, tn.ID, base.Add(10*time.Minute), 4)
	must(t, err)
	if n != 4 {
		t.Fatalf("bounded prune deleted %d; want 4", n)
	}
	n, _ = s.DeleteAuditEventsBefore(ctx, tn.ID, base.Add(10*time.Minute), 100)
	if n != 6 {
		t.Fatalf("second prune deleted %d; want 6", n)
	}
}

// Expiry sweeps compare times in SQL; that must be chronological on every
// backend, sub-second differences included.
func testTimes(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "times")
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	offsets := []time.Duration{0, 100 * time.Millisecond, 120 * time.Millisecond, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
	for i, off := range offsets {
		must(t, s.InsertAuditEvents(ctx, []tenants.AuditEvent{{ID: fmt.Sprintf("t%02d", i), TenantID: tn.ID, Time: base.Add(off), Action: "x"}}))
	}
	for i, off := range offsets {
		items, _, err := s.ListAuditEvents(ctx, tn.ID, tenants.AuditFilter{Before: base.Add(off)})
		must(t, err)
		if len(items) != i {
			t.Errorf("events before +%v: %d; want %d", off, len(items), i)
		}
	}
}
