package oauth_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/oauth"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// Refresh chains rotating concurrently (one transaction each, reading then
// writing) never fail on lock contention, on either store: on SQLite the
// transaction takes the write lock first (gormstore.InTx).
func TestConcurrentRefreshChains(t *testing.T) {
	for _, db := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testdb.SQLite}, {"postgres", testdb.Postgres}} {
		t.Run(db.name, func(t *testing.T) { concurrentRefreshChains(t, db.dsn(t)) })
	}
}

func concurrentRefreshChains(t *testing.T, dsn string) {
	a := newBenchAS(t, dsn)
	_, c := a.client(t, tenants.AuthNone)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		now := time.Now().UTC()
		g := &tenants.Grant{TenantID: a.tn.ID, ID: tenants.RandomID(), Subject: "u1", ClientID: c.ID, Scopes: tenants.Strings{"mcp"},
			Resource: a.site.Resource, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := a.s.Store.CreateGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		rt := tenants.RandomToken()
		if err := a.s.Store.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: a.tn.ID, Hash: tenants.HashSecret(rt), GrantID: g.ID,
			ClientID: c.ID, Generation: 1, CreatedAt: now, ExpiresAt: g.ExpiresAt, IdleExpiresAt: g.ExpiresAt}); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				resp, e := a.s.Token(ctx, a.site, c, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: rt})
				if e != nil {
					t.Error(e, e.Cause)
					return
				}
				rt = resp.RefreshToken
			}
		}()
	}
	wg.Wait()
}
