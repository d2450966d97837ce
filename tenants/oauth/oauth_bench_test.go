package oauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/oauth"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

var ctx = context.Background()

// stores are the two database backends the tests and benchmarks run on.
var stores = []struct {
	name string
	dsn  func(testing.TB) string
}{{"sqlite", testdb.SQLite}, {"postgres", testdb.Postgres}}

// benchAS is an authorization server over a fresh database at dsn with one
// tenant. Audit events are dropped: their cost is BenchmarkAuditEnqueue's.
type benchAS struct {
	s    *oauth.Server
	prov *tenants.Provisioner
	tn   *tenants.Tenant
	site tenants.Site
}

type dropAuditor struct{}

func (dropAuditor) Record(context.Context, tenants.AuditEvent) {}

func newBenchAS(b testing.TB, dsn string) *benchAS {
	store, err := gormstore.Open(ctx, dsn, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	sealer, _ := tenants.NewSealer([][]byte{make([]byte, 32)})
	prov := &tenants.Provisioner{Store: store, Sealer: sealer, AllowDevIdP: true}
	tn, err := prov.CreateTenant(ctx, tenants.TenantInput{Slug: "bench", UpstreamMCPURL: "https://mcp.example.com/mcp",
		Settings: &tenants.Settings{ClientCredentials: true}})
	if err != nil {
		b.Fatal(err)
	}
	s := &oauth.Server{Store: store, Sealer: sealer, Keys: keys.New(store, sealer, nil), Auditor: dropAuditor{}}
	return &benchAS{s: s, prov: prov, tn: tn, site: tenants.PathSite("https://connect.example.com", tn)}
}

func (a *benchAS) client(b testing.TB, method string, grants ...string) (string, *tenants.Client) {
	secret, c, err := a.prov.CreatePreregisteredClient(ctx, a.tn, tenants.PreregisteredClientInput{ClientName: "bench",
		RedirectURIs: []string{"https://app.example.com/cb"}, TokenEndpointAuthMethod: method, GrantTypes: grants})
	if err != nil {
		b.Fatal(err)
	}
	return secret, c
}

// refreshChain makes a day-long grant of client c and the first refresh
// token of its chain.
func (a *benchAS) refreshChain(t testing.TB, c *tenants.Client) string {
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
	return rt
}

// BenchmarkAuthenticateClient: a confidential client's client_secret_post
// check at the token endpoint (SHA-256 compare): the client row read each
// time (no bus), and from the bus-kept client cache.
func BenchmarkAuthenticateClient(b *testing.B) {
	for _, cached := range []bool{false, true} {
		b.Run(map[bool]string{false: "read", true: "cached"}[cached], func(b *testing.B) {
			a := newBenchAS(b, testdb.SQLite(b))
			if cached {
				a.s.CacheWithNotices()
			}
			secret, c := a.client(b, tenants.AuthClientSecretPost)
			cred := oauth.ClientCredentials{ClientID: c.ID, Secret: secret, Method: tenants.AuthClientSecretPost}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, e := a.s.AuthenticateClient(ctx, a.site, cred); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}

// BenchmarkRefreshRotation: one refresh_token grant (rotation, new access
// token), following one chain, on SQLite and Postgres.
func BenchmarkRefreshRotation(b *testing.B) {
	for _, db := range stores {
		b.Run(db.name, func(b *testing.B) {
			a := newBenchAS(b, db.dsn(b))
			_, c := a.client(b, tenants.AuthNone)
			rt := a.refreshChain(b, c)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, e := a.s.Token(ctx, a.site, c, oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: rt})
				if e != nil {
					b.Fatal(e)
				}
				rt = resp.RefreshToken
			}
		})
	}
}
