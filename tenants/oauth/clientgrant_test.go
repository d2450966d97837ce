package oauth_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/oauth"
	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// client_credentials tokens share the client's own grant instead of writing
// a grant row per token; revoking one of them (RFC 7009) revokes the grant,
// so every token issued from it stops, and the next request gets a new one.
// Run with and without the bus-kept cache, on both stores.
func TestClientCredentialsShareTheClientGrant(t *testing.T) {
	for _, db := range stores {
		for _, withBus := range []bool{false, true} {
			name := db.name + "/no-bus"
			if withBus {
				name = db.name + "/bus"
			}
			t.Run(name, func(t *testing.T) {
				a := newBenchAS(t, db.dsn(t))
				if withBus {
					bus := &testdb.Bus{}
					a.s.Bus = bus
					a.s.CacheWithNotices()
					bus.Subscribe(tenants.TopicGrantRevoked, a.s.ForgetGrant)
				}
				secret, c := a.client(t, tenants.AuthClientSecretPost, tenants.GrantClientCredentials)
				token := func() (string, string) {
					t.Helper()
					cl, e := a.s.AuthenticateClient(ctx, a.site, oauth.ClientCredentials{ClientID: c.ID, Secret: secret, Method: tenants.AuthClientSecretPost})
					if e != nil {
						t.Fatal(e)
					}
					resp, e := a.s.Token(ctx, a.site, cl, oauth.TokenRequest{GrantType: "client_credentials"})
					if e != nil {
						t.Fatal(e)
					}
					claims, err := tokens.VerifyAccessToken(ctx, a.s.Keys, a.site, resp.AccessToken, time.Now())
					if err != nil {
						t.Fatal(err)
					}
					return resp.AccessToken, claims.GrantID
				}
				active := func(tok string) bool {
					in, e := a.s.Introspect(ctx, a.site, tok)
					if e != nil {
						t.Fatal(e)
					}
					return in.Active
				}
				t1, g1 := token()
				t2, g2 := token()
				if g1 != g2 {
					t.Fatalf("two tokens, two grants (%s, %s): want one shared grant", g1, g2)
				}
				if gs, _, err := a.s.Store.ListGrants(ctx, a.tn.ID, tenants.Page{}); err != nil || len(gs) != 1 {
					t.Fatalf("grants after two tokens: %d %v", len(gs), err)
				}
				if !active(t1) || !active(t2) {
					t.Fatal("fresh tokens inactive")
				}
				if e := a.s.Revoke(ctx, a.site, c, t1, ""); e != nil {
					t.Fatal(e)
				}
				if active(t2) {
					t.Error("revoking one token of the grant left another active")
				}
				t3, g3 := token()
				if g3 == g1 || !active(t3) {
					t.Errorf("after revocation: grant %s (old %s), active %v", g3, g1, active(t3))
				}
			})
		}
	}
}

// With the bus, introspection reads neither the API key nor the grant of a
// live token on every request, and still refuses a deleted key and a
// revoked grant at once.
func TestIntrospectionCachesFollowTheBus(t *testing.T) {
	a := newBenchAS(t, testdb.SQLite(t))
	bus := &testdb.Bus{}
	a.s.Bus, a.prov.Bus = bus, bus
	v := access.NewVerifier(a.s.Store, a.s.Keys, &access.Options{LiveTTL: time.Hour})
	a.s.Liveness = v
	a.s.CacheWithNotices()
	// As internal/wiring.Subscribe does in every process.
	bus.Subscribe(tenants.TopicGrantRevoked, v.ForgetGrant)
	bus.Subscribe(tenants.TopicGrantRevoked, a.s.ForgetGrant)
	bus.Subscribe(tenants.TopicAPIKeyDeleted, a.s.ForgetAPIKey)
	bus.Subscribe(tenants.TopicTenantChanged, a.s.ForgetTenant)
	key, k, err := a.prov.CreateAPIKey(ctx, a.tn, tenants.APIKeyInput{Name: "introspect"})
	if err != nil {
		t.Fatal(err)
	}
	_, c := a.client(t, tenants.AuthClientSecretPost, tenants.GrantClientCredentials)
	resp, e := a.s.Token(ctx, a.site, c, oauth.TokenRequest{GrantType: "client_credentials"})
	if e != nil {
		t.Fatal(e)
	}
	for i := 0; i < 3; i++ {
		if e := a.s.AuthenticateAPIKey(ctx, a.site, key); e != nil {
			t.Fatal(e)
		}
		if in, _ := a.s.Introspect(ctx, a.site, resp.AccessToken); !in.Active {
			t.Fatal("live token inactive")
		}
	}
	if e := a.s.Revoke(ctx, a.site, c, resp.AccessToken, ""); e != nil {
		t.Fatal(e)
	}
	if in, _ := a.s.Introspect(ctx, a.site, resp.AccessToken); in.Active {
		t.Error("revoked token still active")
	}
	if err := a.prov.DeleteAPIKey(ctx, a.tn, k.ID); err != nil {
		t.Fatal(err)
	}
	if e := a.s.AuthenticateAPIKey(ctx, a.site, key); e == nil {
		t.Error("a deleted API key still authenticates")
	}
}
