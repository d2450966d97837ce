package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

func init() {
	Register("GrantsNewestFirstAcrossPages", testGrantsNewestFirst)
}

// More grants than a page, created out of order and some in the same
// instant: every page continues the newest-first order of the one before,
// and nothing is skipped or repeated. One user's grants page the same way.
func testGrantsNewestFirst(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "grant-order")
	base := time.Now().UTC().Truncate(time.Second)
	// Offsets in seconds, shuffled; three grants share one instant.
	offsets := []int{5, 1, 9, 3, 3, 7, 0, 3, 8, 2, 6, 4}
	for i, off := range offsets {
		at := base.Add(time.Duration(off) * time.Second)
		user := "u-other"
		if i%2 == 0 {
			user = "u-ada"
		}
		must(t, s.CreateGrant(ctx, &tenants.Grant{TenantID: tn.ID, ID: fmt.Sprintf("g%02d", i), UserID: user, ClientID: "c", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}))
	}
	other := NewTenant(t, s, "grant-order-other")
	must(t, s.CreateGrant(ctx, &tenants.Grant{TenantID: other.ID, ID: "g-other", UserID: "u-ada", ClientID: "c", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}))

	check := func(name string, got []tenants.Grant, want int) {
		t.Helper()
		seen := map[string]bool{}
		for i, g := range got {
			if seen[g.ID] || g.ID == "g-other" {
				t.Fatalf("%s: grant %s repeated or from another tenant", name, g.ID)
			}
			seen[g.ID] = true
			if i > 0 {
				p := got[i-1]
				if g.CreatedAt.After(p.CreatedAt) || (g.CreatedAt.Equal(p.CreatedAt) && g.ID > p.ID) {
					t.Fatalf("%s: %s (%s) listed after %s (%s): not newest first", name, g.ID, g.CreatedAt, p.ID, p.CreatedAt)
				}
			}
		}
		if len(got) != want {
			t.Fatalf("%s: %d grants, want %d", name, len(got), want)
		}
	}
	check("ListGrants", allPages(t, 5, func(p tenants.Page) ([]tenants.Grant, string, error) { return s.ListGrants(ctx, tn.ID, p) }), len(offsets))
	check("ListGrantsForUser", allPages(t, 5, func(p tenants.Page) ([]tenants.Grant, string, error) {
		return s.ListGrantsForUser(ctx, tn.ID, "u-ada", p)
	}), len(offsets)/2)
}
