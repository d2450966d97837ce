package oauth_test

import (
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/oauth"
)

// Refresh chains rotating concurrently (one transaction each, reading then
// writing) never fail on lock contention, on either store: on SQLite the
// transaction takes the write lock first (gormstore.InTx).
func TestConcurrentRefreshChains(t *testing.T) {
	for _, db := range stores {
		t.Run(db.name, func(t *testing.T) { concurrentRefreshChains(t, db.dsn(t)) })
	}
}

func concurrentRefreshChains(t *testing.T, dsn string) {
	a := newBenchAS(t, dsn)
	_, c := a.client(t, tenants.AuthNone)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		rt := a.refreshChain(t, c)
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
