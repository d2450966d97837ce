package oauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/limits"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// BenchmarkAuthorizeAndExchange: one full authorization-code flow (dev IdP
// auto-login, DCR client) over HTTP: authorize redirect + token, on SQLite
// and on Postgres (where every round trip of the flow's writes shows).
func BenchmarkAuthorizeAndExchange(b *testing.B) {
	for _, db := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testdb.SQLite}, {"postgres", testdb.Postgres}} {
		b.Run(db.name, func(b *testing.B) {
			e := newEnv(b, db.dsn(b), envOpts{limits: unlimited{}})
			site := e.pathSite(e.tenant("bench", nil, nil))
			cid := e.publicClient(site, "bench")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				code, v := e.code(site, cid, nil)
				if resp, out := e.exchange(site, cid, code, v); resp.StatusCode != http.StatusOK {
					b.Fatal(out)
				}
			}
		})
	}
}

// BenchmarkRefresh: refresh-token rotation over HTTP on SQLite.
func BenchmarkRefresh(b *testing.B) {
	e := newEnv(b, testdb.SQLite(b), envOpts{limits: unlimited{}})
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

// BenchmarkIDJAGRedeem: the jwt-bearer grant with a fresh ID-JAG each time
// (signature, claims, jti insert, user upsert, grant, tokens) over HTTP on
// SQLite; the IdP's keys are cached after the first.
func BenchmarkIDJAGRedeem(b *testing.B) {
	ee := newEntEnv(b, testdb.SQLite(b), envOpts{limits: unlimited{}})
	ee.trust(ee.acme, ee.idp, "mcp")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		jag := ee.idp.Sign(TypIDJAGForTest, ee.idp.IDJAG(ee.site.Issuer, ee.site.Resource, "ent-client", "mcp"))
		if resp, out := ee.redeem("ent-client", ee.secret, jag, nil); resp.StatusCode != http.StatusOK {
			b.Fatal(out)
		}
	}
}

// BenchmarkPrivateKeyJWTClientCredentials: client_credentials with a
// private_key_jwt client assertion (inline jwks) over HTTP on SQLite.
func BenchmarkPrivateKeyJWTClientCredentials(b *testing.B) {
	p := newPKEnv(b, testdb.SQLite(b), envOpts{limits: unlimited{}})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if resp, out := p.cc(withAssertion(p.assertion("pk-inline", nil))); resp.StatusCode != http.StatusOK {
			b.Fatal(out)
		}
	}
}

// BenchmarkDPoPMCPRequest: one MCP initialize through the gateway with a
// DPoP-bound token and a fresh proof (verify + jti insert) on SQLite.
func BenchmarkDPoPMCPRequest(b *testing.B) {
	e := newEnv(b, testdb.SQLite(b), envOpts{})
	site := e.pathSite(e.tenant("bench", nil, nil))
	cid := e.publicClient(site, "bench")
	key := newDPoPKey()
	code, v := e.code(site, cid, nil)
	_, out := e.post(site.Endpoint("token"), url.Values{"grant_type": {"authorization_code"}, "client_id": {cid}, "code": {code}, "code_verifier": {v},
		"redirect_uri": {testRedirect}}, http.Header{"DPoP": {key.proof("POST", site.Endpoint("token"), "", nil)}})
	at := out["access_token"].(string)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := e.mcp(site, http.Header{"Authorization": {"DPoP " + at}, "DPoP": {key.proof("POST", site.Resource, at, nil)}}); r.StatusCode != http.StatusOK {
			b.Fatal(r.StatusCode)
		}
	}
}

// BenchmarkBearerMCPRequest is BenchmarkDPoPMCPRequest without DPoP (the baseline).
func BenchmarkBearerMCPRequest(b *testing.B) {
	e := newEnv(b, testdb.SQLite(b), envOpts{})
	site := e.pathSite(e.tenant("bench", nil, nil))
	at, _ := e.tokens(site, e.publicClient(site, "bench"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := e.mcp(site, http.Header{"Authorization": {"Bearer " + at}}); r.StatusCode != http.StatusOK {
			b.Fatal(r.StatusCode)
		}
	}
}

// unlimited lets every request through: the benchmarks measure the flows,
// not the per-client limits (tested in tenants/limits and api).
type unlimited struct{}

func (unlimited) Allow(context.Context, string, limits.Limit) (bool, time.Duration) { return true, 0 }

// BenchmarkClientCredentials: a client_credentials token over HTTP on
// SQLite with the bus-kept caches on, under the in-memory limiter and under
// the Redis limiter production uses (real Redis; every request from its own
// client address, as under load, so each is a new limiter key).
func BenchmarkClientCredentials(b *testing.B) {
	for _, lim := range []string{"memory", "redis"} {
		b.Run(lim, func(b *testing.B) {
			var l limits.Limiter = limits.NewMemory(nil)
			if lim == "redis" {
				addr, db := testdb.Redis(b)
				rc := redis.NewClient(&redis.Options{Addr: addr, DB: db})
				b.Cleanup(func() { rc.Close() })
				l = limits.NewRedis(rc, "bench:"+tenants.RandomID()+":", nil)
			}
			e := newEnv(b, testdb.SQLite(b), envOpts{bus: &testdb.Bus{}, auditInMemory: true, limits: l, trustLoopbackProxy: true})
			tn := e.tenant("bench", nil, &tenants.Settings{ClientCredentials: true})
			form := e.ccForm(tn, e.pathSite(tn)).Encode()
			endpoint := e.pathSite(tn).Endpoint("token")
			var n atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.0.%d.%d", (n.Add(1)>>8)&255, n.Load()&255))
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
			})
		})
	}
}
