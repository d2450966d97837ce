package tenants_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// revokeFailsOnce is a store whose revocation of one grant fails once, as
// a query deadline on a loaded database would.
type revokeFailsOnce struct {
	tenants.Store
	grantID string
	failed  bool
}

func (s *revokeFailsOnce) RevokeGrant(ctx context.Context, tenantID, id, reason string, at time.Time) error {
	if id == s.grantID && !s.failed {
		s.failed = true
		return errors.New("statement timeout")
	}
	return s.Store.RevokeGrant(ctx, tenantID, id, reason, at)
}

// The upstream-refresh worker finds a user out through one due grant and
// ends all of the user's access (docs/SECURITY.md §11). When a revocation
// fails half way, the grant it came through must stay live — still due —
// so the next pass ends the rest; revoked first, it would leave the
// user's other grants live with nothing left to retry them. (CI showed it:
// TestSecurity_11_UpstreamRefusalRevokesGrant timed out on "mona-other"
// under load.)
func TestRevokeUserAccessThroughRevokesTheTriggerLast(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			base := testdb.Open(t, b.DSN(t))
			tn := &tenants.Tenant{ID: tenants.RandomID(), Slug: "offboard", Name: "offboard", UpstreamMCPURL: "http://127.0.0.1:9/mcp",
				CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
			if err := base.CreateTenant(ctx, tn); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			for _, id := range []string{"due", "other-1", "other-2"} {
				if err := base.CreateGrant(ctx, &tenants.Grant{TenantID: tn.ID, ID: id, UserID: "u", Subject: "u", ClientID: "c",
					CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
			s := &revokeFailsOnce{Store: base, grantID: "other-2"}
			live := func(id string) bool {
				g, err := base.GetGrant(ctx, tn.ID, id)
				if err != nil {
					t.Fatal(err)
				}
				return g.Live(time.Now())
			}
			if _, err := tenants.RevokeUserAccessThrough(ctx, s, nil, nil, tn.ID, "u", tenants.RevokedNoLongerAllowed, "due"); err == nil {
				t.Fatal("the failing revocation was not reported")
			}
			if !live("due") {
				t.Fatal("the grant the user was found out through was revoked before the others: a failed pass leaves nothing to retry")
			}
			if n, err := tenants.RevokeUserAccessThrough(ctx, s, nil, nil, tn.ID, "u", tenants.RevokedNoLongerAllowed, "due"); err != nil || n == 0 {
				t.Fatalf("second pass: %d revoked, %v", n, err)
			}
			for _, id := range []string{"due", "other-1", "other-2"} {
				if live(id) {
					t.Errorf("grant %s still live after the second pass", id)
				}
			}
		})
	}
}
