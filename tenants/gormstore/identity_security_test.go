package gormstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// docs/SECURITY.md §10, §12: migration 00004 keys existing users by the
// issuer their IdP type implies, and turns custom-domain uniqueness into a
// partial index over verified domains, keeping every existing domain.
func TestSecurity_10_MigrationKeysExistingUsersByIssuer(t *testing.T) {
	testdb.EachStore(t, func(t *testing.T, s *gormstore.Store) {
		ctx := context.Background()
		// Roll back to just before 00004.
		migrateDownWhile(t, s, func(l string) bool { return strings.HasPrefix(l, "00004 ") })
		db := s.DB()
		now := time.Now().UTC()
		exec := func(q string, args ...any) {
			t.Helper()
			if err := db.Exec(q, args...).Error; err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`INSERT INTO tenants (id, slug, name, upstream_mcp_url, custom_domain, custom_domain_verified, settings, sealed_secrets, created_at, updated_at)
			VALUES ('t1', 'acme', 'acme', 'http://x/mcp', 'mcp.acme.example', TRUE, '{}', '{}', ?, ?)`, now, now)
		exec(`INSERT INTO idp_configs (tenant_id, type, client_id, client_secret_sealed, issuer_url, scopes, allowed_domains, allowed_orgs, auto_login, created_at, updated_at)
			VALUES ('t1', 'oidc', 'cid', '', 'https://login.acme.example', '[]', '[]', '[]', '', ?, ?)`, now, now)
		for _, u := range [][2]string{{"u-gh", "github"}, {"u-go", "google"}, {"u-oi", "oidc"}, {"u-dev", "dev"}} {
			exec(`INSERT INTO users (tenant_id, id, idp, idp_subject, email, name, username, created_at, last_login_at)
				VALUES ('t1', ?, ?, '7', '', '', '', ?, ?)`, u[0], u[1], now, now)
		}
		if _, err := s.Migrate(ctx, "up"); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"u-gh": tenants.GitHubIssuer, "u-go": tenants.GoogleIssuer, "u-oi": "https://login.acme.example", "u-dev": ""}
		for id, iss := range want {
			u, err := s.GetUser(ctx, "t1", id)
			if err != nil {
				t.Fatal(err)
			}
			if u.IdPIssuer != iss {
				t.Fatalf("%s: issuer %q, want %q", id, u.IdPIssuer, iss)
			}
		}
		tn, err := s.GetTenantByDomain(ctx, "mcp.acme.example")
		if err != nil || tn.ID != "t1" {
			t.Fatalf("verified domain lost in the migration: %v %v", tn, err)
		}
		// Re-logging in as the oidc user at the same issuer finds the same row.
		u := &tenants.User{TenantID: "t1", IdP: tenants.IdPOIDC, IdPIssuer: "https://login.acme.example", IdPSubject: "7"}
		if err := s.UpsertUser(ctx, u); err != nil || u.ID != "u-oi" {
			t.Fatalf("existing user not found by issuer: %v %+v", err, u)
		}
	})
}
