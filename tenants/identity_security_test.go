package tenants_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// recBus records bus notices.
type recBus struct {
	mu   sync.Mutex
	msgs []string
}

func (b *recBus) Publish(_ context.Context, topic, payload string) error {
	b.mu.Lock()
	b.msgs = append(b.msgs, topic+"|"+payload)
	b.mu.Unlock()
	return nil
}
func (b *recBus) Subscribe(string, func(string)) {}

func (b *recBus) has(msg string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if m == msg {
			return true
		}
	}
	return false
}

type recAudit struct {
	mu  sync.Mutex
	evs []tenants.AuditEvent
}

func (a *recAudit) Record(_ context.Context, ev tenants.AuditEvent) {
	a.mu.Lock()
	a.evs = append(a.evs, ev)
	a.mu.Unlock()
}

func (a *recAudit) revoked(grantID string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.evs {
		if e.Action == tenants.ActGrantRevoked && e.Details["grant_id"] == grantID {
			return e.Reason
		}
	}
	return ""
}

type secFixture struct {
	t     *testing.T
	s     tenants.Store
	prov  *tenants.Provisioner
	bus   *recBus
	audit *recAudit
	tn    *tenants.Tenant
}

func forBackends(t *testing.T, fn func(t *testing.T, f *secFixture)) {
	testdb.EachStore(t, func(t *testing.T, s *gormstore.Store) {
		f := &secFixture{t: t, s: s, bus: &recBus{}, audit: &recAudit{}}
		f.prov = &tenants.Provisioner{Store: s, Sealer: sealer(t, key(3)), Auditor: f.audit, Bus: f.bus, AllowDevIdP: true}
		var err error
		f.tn, err = f.prov.CreateTenant(context.Background(), tenants.TenantInput{Slug: "acme", UpstreamMCPURL: "http://127.0.0.1:9/mcp",
			IdP: &tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: "cid", IssuerURL: "https://idp-a.example"}})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, f)
	})
}

// user signs a user in (store level, as CompleteLogin does) with a live
// grant and a consent.
func (f *secFixture) user(idp, issuer, sub, email string, orgs ...string) (*tenants.User, *tenants.Grant) {
	f.t.Helper()
	ctx := context.Background()
	u := &tenants.User{TenantID: f.tn.ID, IdP: idp, IdPIssuer: issuer, IdPSubject: sub, Email: email, Orgs: orgs}
	if err := f.s.UpsertUser(ctx, u); err != nil {
		f.t.Fatal(err)
	}
	now := time.Now().UTC()
	g := &tenants.Grant{TenantID: f.tn.ID, ID: tenants.RandomID(), UserID: u.ID, Subject: u.ID, ClientID: "c1",
		Scopes: tenants.Strings{"mcp"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := f.s.CreateGrant(ctx, g); err != nil {
		f.t.Fatal(err)
	}
	if err := f.s.PutConsent(ctx, &tenants.Consent{TenantID: f.tn.ID, UserID: u.ID, ClientID: "c1", Scopes: tenants.Strings{"mcp"}}); err != nil {
		f.t.Fatal(err)
	}
	return u, g
}

// revokedFor checks the grant was revoked for reason: stored, audited, and
// announced on the bus; and the user's consent forgotten.
func (f *secFixture) revokedFor(u *tenants.User, g *tenants.Grant, reason string) {
	f.t.Helper()
	ctx := context.Background()
	got, err := f.s.GetGrant(ctx, f.tn.ID, g.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	if got.RevokedAt == nil || got.RevokedReason != reason {
		f.t.Fatalf("grant of %s/%s: revoked %v reason %q, want %q", u.IdPIssuer, u.IdPSubject, got.RevokedAt, got.RevokedReason, reason)
	}
	if r := f.audit.revoked(g.ID); r != reason {
		f.t.Fatalf("grant.revoked audit reason %q, want %q", r, reason)
	}
	if !f.bus.has(tenants.TopicGrantRevoked + "|" + f.tn.ID + " " + g.ID) {
		f.t.Fatal("no grant.revoked bus notice: gateways would keep the cached liveness")
	}
	if _, err := f.s.GetConsent(ctx, f.tn.ID, u.ID, "c1"); !errors.Is(err, tenants.ErrNotFound) {
		f.t.Fatalf("consent survived: %v", err)
	}
}

func (f *secFixture) live(g *tenants.Grant) {
	f.t.Helper()
	got, err := f.s.GetGrant(context.Background(), f.tn.ID, g.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	if got.RevokedAt != nil {
		f.t.Fatalf("grant revoked (%s) but the user still qualifies", got.RevokedReason)
	}
}

// docs/SECURITY.md §10: the same subject at two issuers is two users, and
// changing the tenant's IdP issuer or type (through the one provisioning
// function every surface uses) revokes the grants and consents of the users
// it no longer admits — audited and announced — while an unrelated change
// (a new client secret) revokes nothing.
func TestSecurity_10_UsersKeyedByIssuer(t *testing.T) {
	forBackends(t, func(t *testing.T, f *secFixture) {
		ctx := context.Background()
		ua, ga := f.user(tenants.IdPOIDC, "https://idp-a.example", "42", "alice@a.example")
		ub, _ := f.user(tenants.IdPOIDC, "https://idp-b.example", "42", "bob@b.example")
		if ua.ID == ub.ID {
			t.Fatal("subject 42 at two issuers merged into one user")
		}

		// A new secret for the same issuer: nobody loses access.
		if _, err := f.prov.PutIdP(ctx, f.tn, tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: "cid", ClientSecret: "new", IssuerURL: "https://idp-a.example"}, true); err != nil {
			t.Fatal(err)
		}
		f.live(ga)

		// Issuer changed: alice (idp-a) is revoked.
		if _, err := f.prov.PutIdP(ctx, f.tn, tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: "cid", IssuerURL: "https://idp-b.example"}, true); err != nil {
			t.Fatal(err)
		}
		f.revokedFor(ua, ga, tenants.RevokedIdPChanged)

		// Type changed: the idp-b oidc users go too.
		uc, gc := f.user(tenants.IdPOIDC, "https://idp-b.example", "43", "carol@b.example")
		if _, err := f.prov.PutIdP(ctx, f.tn, tenants.IdPInput{Type: tenants.IdPDev}, true); err != nil {
			t.Fatal(err)
		}
		f.revokedFor(uc, gc, tenants.RevokedIdPChanged)
	})
}

// docs/SECURITY.md §11: narrowing allowed_orgs or allowed_domains revokes
// the users who no longer qualify by what was stored at their login (a
// user whose orgs were never read does not qualify), and keeps the rest.
func TestSecurity_11_NarrowedRulesRevokeUnqualifiedUsers(t *testing.T) {
	forBackends(t, func(t *testing.T, f *secFixture) {
		ctx := context.Background()
		gh := func(orgs []string, domains []string) {
			t.Helper()
			if _, err := f.prov.PutIdP(ctx, f.tn, tenants.IdPInput{Type: tenants.IdPGitHub, ClientID: "cid", ClientSecret: "s",
				AllowedOrgs: orgs, AllowedDomains: domains}, true); err != nil {
				t.Fatal(err)
			}
		}
		gh(nil, nil)
		mona, gm := f.user(tenants.IdPGitHub, tenants.GitHubIssuer, "1", "mona@acme.example", "acme")
		hub, gh2 := f.user(tenants.IdPGitHub, tenants.GitHubIssuer, "2", "hub@other.example", "other")
		nobody, gn := f.user(tenants.IdPGitHub, tenants.GitHubIssuer, "3", "n@acme.example")
		gh([]string{"ACME"}, nil)
		f.live(gm)
		f.revokedFor(hub, gh2, tenants.RevokedNoLongerAllowed)
		f.revokedFor(nobody, gn, tenants.RevokedNoLongerAllowed)

		// Domains narrowed: mona's stored (verified) email is outside.
		gh([]string{"acme"}, []string{"corp.example"})
		f.revokedFor(mona, gm, tenants.RevokedNoLongerAllowed)
	})
}
