package oauth_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// BenchmarkAuthorizeAndExchange: one full authorization-code flow (dev IdP
// auto-login, DCR client) over HTTP on SQLite: authorize redirect + token.
func BenchmarkAuthorizeAndExchange(b *testing.B) {
	e := newEnv(b, testdb.SQLite(b), envOpts{})
	site := e.pathSite(e.tenant("bench", nil, nil))
	cid := e.publicClient(site, "bench")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		code, v := e.code(site, cid, nil)
		if resp, out := e.exchange(site, cid, code, v); resp.StatusCode != http.StatusOK {
			b.Fatal(out)
		}
	}
}

// BenchmarkRefresh: refresh-token rotation over HTTP on SQLite.
func BenchmarkRefresh(b *testing.B) {
	e := newEnv(b, testdb.SQLite(b), envOpts{})
	site := e.pathSite(e.tenant("bench", nil, nil))
	cid := e.publicClient(site, "bench")
	_, rt := e.tokens(site, cid)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, out := e.refresh(site, cid, rt, nil)
		if resp.StatusCode != http.StatusOK {
			b.Fatal(out)
		}
		rt = out["refresh_token"].(string)
	}
}
