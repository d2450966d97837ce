package accounts_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// Two owners demoting or removing each other at the same moment must leave
// the team an owner: the last-owner check and the change are serialised by
// a row lock on the team's owners (Postgres) or the write lock (SQLite).
func TestLastOwnerRuleHoldsUnderConcurrentDemotion(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnvOn(t, accounts.SignupOpen, b.DSN(t))
			a := e.operator()
			b := e.verified("b@example.com")
			for i := range 40 {
				team, err := e.svc.CreateTeam(ctx, a, tenants.TenantInput{Slug: fmt.Sprintf("race-%d", i), Name: "Race", UpstreamMCPURL: "https://mcp.example.com/mcp"})
				if err != nil {
					t.Fatal(err)
				}
				if err := e.store.PutMembership(ctx, &tenants.Membership{TenantID: team.ID, AccountID: b.ID, Role: tenants.RoleOwner, CreatedAt: e.now}); err != nil {
					t.Fatal(err)
				}
				// Even rounds demote each other, odd rounds remove each other.
				act := func(actor, target *tenants.Account) error {
					if i%2 == 0 {
						return e.svc.SetRole(ctx, actor, team, target.ID, tenants.RoleAdmin)
					}
					return e.svc.RemoveMember(ctx, actor, team, target.ID)
				}
				var wg sync.WaitGroup
				start := make(chan struct{})
				errs := make([]error, 2)
				for j, pair := range [][2]*tenants.Account{{a, b}, {b, a}} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						errs[j] = act(pair[0], pair[1])
					}()
				}
				close(start)
				wg.Wait()
				n, err := e.store.CountOwners(ctx, team.ID)
				if err != nil {
					t.Fatal(err)
				}
				if n < 1 {
					t.Fatalf("round %d: the team has no owner left (errors %v)", i, errs)
				}
				for _, err := range errs {
					if err != nil && !errors.Is(err, accounts.ErrLastOwner) && !errors.Is(err, accounts.ErrForbidden) && !errors.Is(err, tenants.ErrNotFound) {
						t.Fatalf("round %d: unexpected error %v", i, err)
					}
				}
			}
		})
	}
}
