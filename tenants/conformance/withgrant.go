package conformance

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

func init() {
	Register("RefreshTokenWithGrant", testRefreshTokenWithGrant)
	Register("RotateRefreshTokenKeepsEveryField", testRotateKeepsFields)
	Register("ConsumeAuthCodeWithGrant", testConsumeAuthCodeWithGrant)
}

// testRefreshTokenWithGrant: the refresh path's one read joins the token,
// its grant and the grant's user, each within the token's tenant.
func testRefreshTokenWithGrant(t *testing.T, s tenants.Store) {
	a, b := NewTenant(t, s, "rtg-a"), NewTenant(t, s, "rtg-b")
	now := time.Now().UTC().Truncate(time.Second)
	ua := &tenants.User{TenantID: a.ID, IdP: "github", IdPSubject: "7", Email: "a@example.com"}
	must(t, s.UpsertUser(ctx, ua))
	// Tenant b holds a grant and a user with the same ids as tenant a's: a
	// join that forgot the tenant would find them.
	ub := &tenants.User{TenantID: b.ID, ID: ua.ID, IdP: "github", IdPSubject: "7", Email: "b@example.com"}
	must(t, s.UpsertUser(ctx, ub))
	ga := &tenants.Grant{TenantID: a.ID, ID: "g", UserID: ua.ID, Subject: "alice", ClientID: "c", Scopes: tenants.Strings{"read", "write"},
		Resource: "https://a.example/mcp", CreatedAt: now, ExpiresAt: now.Add(time.Hour), UpstreamIdP: "github"}
	must(t, s.CreateGrant(ctx, ga))
	must(t, s.CreateGrant(ctx, &tenants.Grant{TenantID: b.ID, ID: "g", UserID: ub.ID, Subject: "bob", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	rt := &tenants.RefreshToken{TenantID: a.ID, Hash: "h", GrantID: "g", ClientID: "c", Generation: 3, CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(30 * time.Minute), DPoPJKT: "jkt"}
	must(t, s.CreateRefreshToken(ctx, rt))

	got, err := s.GetRefreshTokenWithGrant(ctx, a.ID, "h")
	must(t, err)
	if got.Grant == nil || got.Grant.Subject != "alice" || got.Grant.TenantID != a.ID || !slices.Equal(got.Grant.Scopes, ga.Scopes) ||
		got.Grant.Resource != ga.Resource || got.Grant.UpstreamIdP != "github" || !got.Grant.ExpiresAt.Equal(ga.ExpiresAt) {
		t.Fatalf("grant: %+v", got.Grant)
	}
	if got.UserEmail != "a@example.com" {
		t.Fatalf("user email %q, want tenant a's user's", got.UserEmail)
	}
	if got.Token.ClientID != "c" || got.Token.Generation != 3 || got.Token.DPoPJKT != "jkt" || got.Token.GrantID != "g" ||
		!got.Token.IdleExpiresAt.Equal(rt.IdleExpiresAt) || got.Token.RotatedAt != nil {
		t.Fatalf("token: %+v", got.Token)
	}
	if _, err := s.GetRefreshTokenWithGrant(ctx, b.ID, "h"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("another tenant's token: %v, want ErrNotFound", err)
	}
	if _, err := s.GetRefreshTokenWithGrant(ctx, a.ID, "nope"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("unknown token: %v, want ErrNotFound", err)
	}

	// A grant without a user (client_credentials shape) has no email.
	must(t, s.CreateGrant(ctx, &tenants.Grant{TenantID: a.ID, ID: "g-client", Subject: "c", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: a.ID, Hash: "h-client", GrantID: "g-client", CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}))
	if got, err := s.GetRefreshTokenWithGrant(ctx, a.ID, "h-client"); err != nil || got.Grant == nil || got.UserEmail != "" {
		t.Fatalf("grant without a user: %+v, %v", got, err)
	}

	// A grant whose user id exists only in tenant b has no email in tenant a.
	must(t, s.UpsertUser(ctx, &tenants.User{TenantID: b.ID, ID: "only-in-b", IdP: "github", IdPSubject: "8", Email: "b8@example.com"}))
	must(t, s.CreateGrant(ctx, &tenants.Grant{TenantID: a.ID, ID: "g-b-user", UserID: "only-in-b", Subject: "x", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: a.ID, Hash: "h-b-user", GrantID: "g-b-user", CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}))
	if got, err := s.GetRefreshTokenWithGrant(ctx, a.ID, "h-b-user"); err != nil || got.UserEmail != "" {
		t.Fatalf("another tenant's user joined: %+v, %v", got, err)
	}

	// A token whose grant is gone (only tenant b has a grant "g2") comes
	// back without a grant.
	must(t, s.CreateGrant(ctx, &tenants.Grant{TenantID: b.ID, ID: "g2", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: a.ID, Hash: "h-orphan", GrantID: "g2", CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}))
	if got, err := s.GetRefreshTokenWithGrant(ctx, a.ID, "h-orphan"); err != nil || got.Grant != nil || got.Token.Hash != "h-orphan" {
		t.Fatalf("token without its grant: %+v, %v", got, err)
	}
}

// testRotateKeepsFields: the successor a rotation inserts holds every field
// it was given, and the rotated token names it (inside a transaction and
// outside one).
func testRotateKeepsFields(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "rotate-fields")
	now := time.Now().UTC().Truncate(time.Second)
	must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: tn.ID, Hash: "r0", GrantID: "g", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}))
	check := func(old string, next *tenants.RefreshToken) {
		t.Helper()
		got, err := s.GetRefreshToken(ctx, tn.ID, next.Hash)
		must(t, err)
		if got.GrantID != next.GrantID || got.ClientID != next.ClientID || got.Generation != next.Generation || got.DPoPJKT != next.DPoPJKT ||
			!got.CreatedAt.Equal(next.CreatedAt) || !got.ExpiresAt.Equal(next.ExpiresAt) || !got.IdleExpiresAt.Equal(next.IdleExpiresAt) ||
			got.RotatedAt != nil || got.SuccessorHash != "" {
			t.Fatalf("successor %+v, want %+v", got, next)
		}
		prev, err := s.GetRefreshToken(ctx, tn.ID, old)
		must(t, err)
		if prev.RotatedAt == nil || prev.SuccessorHash != next.Hash {
			t.Fatalf("rotated token %+v must name %s", prev, next.Hash)
		}
	}
	r1 := &tenants.RefreshToken{TenantID: tn.ID, Hash: "r1", GrantID: "g", ClientID: "c", Generation: 1, CreatedAt: now.Add(time.Second),
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(20 * time.Minute), DPoPJKT: "thumb"}
	must(t, s.RotateRefreshToken(ctx, tn.ID, "r0", r1, now))
	check("r0", r1)
	r2 := &tenants.RefreshToken{TenantID: tn.ID, Hash: "r2", GrantID: "g", ClientID: "c", Generation: 2, CreatedAt: now.Add(2 * time.Second),
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(25 * time.Minute)}
	must(t, s.InTx(ctx, func(tx tenants.Store) error { return tx.RotateRefreshToken(ctx, tn.ID, "r1", r2, now) }))
	check("r1", r2)
	// Rotating a rotated token is ErrConflict and inserts nothing.
	r3 := &tenants.RefreshToken{TenantID: tn.ID, Hash: "r3", GrantID: "g", CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
	if err := s.RotateRefreshToken(ctx, tn.ID, "r1", r3, now); !errors.Is(err, tenants.ErrConflict) {
		t.Fatalf("second rotation: %v, want ErrConflict", err)
	}
	if _, err := s.GetRefreshToken(ctx, tn.ID, "r3"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("a lost rotation inserted its successor: %v", err)
	}
}

// testConsumeAuthCodeWithGrant: consuming a code reads it with its grant and
// user, each within the code's tenant; a second redemption returns the code
// with ErrConflict.
func testConsumeAuthCodeWithGrant(t *testing.T, s tenants.Store) {
	a, b := NewTenant(t, s, "acg-a"), NewTenant(t, s, "acg-b")
	now := time.Now().UTC().Truncate(time.Second)
	u := &tenants.User{TenantID: a.ID, IdP: "dev", IdPSubject: "alice", Email: "alice@example.com"}
	must(t, s.UpsertUser(ctx, u))
	must(t, s.UpsertUser(ctx, &tenants.User{TenantID: b.ID, ID: "only-in-b", IdP: "dev", IdPSubject: "bob", Email: "bob@example.com"}))
	must(t, s.CreateGrant(ctx, &tenants.Grant{TenantID: a.ID, ID: "g", UserID: u.ID, Subject: "alice", ClientID: "c", Scopes: tenants.Strings{"mcp"},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.CreateGrant(ctx, &tenants.Grant{TenantID: b.ID, ID: "g", Subject: "bob", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.CreateGrant(ctx, &tenants.Grant{TenantID: a.ID, ID: "g-b-user", UserID: "only-in-b", Subject: "x", ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	code := func(hash, grantID string) {
		must(t, s.CreateAuthCode(ctx, &tenants.AuthCode{TenantID: a.ID, Hash: hash, GrantID: grantID, ClientID: "c", RedirectURI: "https://app.example/cb",
			CodeChallenge: "ch", Resource: "https://a.example/mcp", Scopes: tenants.Strings{"mcp"}, UserID: u.ID, Issuer: "https://a.example",
			CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
	}
	code("c1", "g")
	code("c-b-user", "g-b-user")
	code("c-orphan", "g-missing")

	got, err := s.ConsumeAuthCode(ctx, a.ID, "c1", now)
	must(t, err)
	if got.Code.UsedAt == nil || got.Code.ClientID != "c" || got.Code.RedirectURI != "https://app.example/cb" || got.Code.CodeChallenge != "ch" ||
		got.Code.Issuer != "https://a.example" || !slices.Equal(got.Code.Scopes, tenants.Strings{"mcp"}) || !got.Code.ExpiresAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("code: %+v", got.Code)
	}
	if got.Grant == nil || got.Grant.TenantID != a.ID || got.Grant.Subject != "alice" || got.UserEmail != "alice@example.com" {
		t.Fatalf("grant %+v, email %q: want tenant a's", got.Grant, got.UserEmail)
	}
	again, err := s.ConsumeAuthCode(ctx, a.ID, "c1", now)
	if !errors.Is(err, tenants.ErrConflict) || again == nil || again.Code.GrantID != "g" {
		t.Fatalf("second redemption: %+v, %v; want the code with ErrConflict", again, err)
	}
	if _, err := s.ConsumeAuthCode(ctx, b.ID, "c-b-user", now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("another tenant's code: %v", err)
	}
	if got, err := s.ConsumeAuthCode(ctx, a.ID, "c-b-user", now); err != nil || got.Grant == nil || got.UserEmail != "" {
		t.Fatalf("another tenant's user joined: %+v, %v", got, err)
	}
	if got, err := s.ConsumeAuthCode(ctx, a.ID, "c-orphan", now); err != nil || got.Grant != nil || got.Code.GrantID != "g-missing" {
		t.Fatalf("code without its grant: %+v, %v", got, err)
	}
}
