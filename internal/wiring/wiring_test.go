package wiring_test

import (
	"context"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hibiken/asynq"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/keys"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/workers"
)

// TestSubscribeEveryTopic publishes every bus topic through the one
// subscription place (wiring.Subscribe, as serve and worker call it) and
// checks each cache another replica's change invalidates reacts. Every
// change is made in the store behind the services' backs, as another
// replica would make it, and each cache is first shown to still hold the
// old state — so only the notice explains the new answer, and a forgotten
// subscription fails here. (The gateway's open-stream cut is checked by
// api/gateway TestRevocationCutsOpenStreams through the same function.)
func TestSubscribeEveryTopic(t *testing.T) {
	ctx := context.Background()
	bus := &testdb.Bus{}
	// An hour-long liveness TTL: only a notice can drop a cached grant.
	k := testkit.New(t, testkit.Options{PublicURL: "https://connect.example.com", Bus: bus,
		Wiring: wiring.Options{Verifier: &access.Options{LiveTTL: time.Hour}}})
	var changed atomic.Value
	rt := closedWorkers(t, k.Store)
	wiring.Subscribe(bus, wiring.Receivers{Deps: k.Deps, Keys: k.Keys, Workers: rt, TenantChanged: func(id string) { changed.Store(id) }})
	d := k.Deps
	tn, err := d.Provisioner.CreateTenant(ctx, tenants.TenantInput{Slug: "acme", Name: "Acme", UpstreamMCPURL: "https://mcp.example.com/mcp",
		IdP: &tenants.IdPInput{Type: tenants.IdPDev}, Settings: &tenants.Settings{ClientCredentials: true}})
	if err != nil {
		t.Fatal(err)
	}
	site := tenants.PathSite(d.PublicURL, tn)
	secret, c, err := d.Provisioner.CreatePreregisteredClient(ctx, tn, tenants.PreregisteredClientInput{ClientName: "machine",
		TokenEndpointAuthMethod: tenants.AuthClientSecretPost, GrantTypes: []string{tenants.GrantClientCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	k.Audit.Watch(secret)

	t.Run(tenants.TopicGrantRevoked, func(t *testing.T) {
		token := func() (string, *tenants.Grant) {
			t.Helper()
			resp, e := d.AuthServer.Token(ctx, site, c, as.TokenRequest{GrantType: tenants.GrantClientCredentials})
			if e != nil {
				t.Fatal(e)
			}
			p, den, err := d.Verifier.Authenticate(ctx, site, []string{"Bearer " + resp.AccessToken})
			if err != nil || den != nil {
				t.Fatalf("fresh token refused: %+v %v", den, err)
			}
			return resp.AccessToken, p.Grant
		}
		tok, g := token()
		if err := d.Store.RevokeGrant(ctx, tn.ID, g.ID, "test", time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		// Before the notice: both caches still hold the grant.
		if _, den, _ := d.Verifier.Authenticate(ctx, site, []string{"Bearer " + tok}); den != nil {
			t.Fatalf("the verifier re-read the grant without a notice (%s): the test cannot tell a notice from a read", den.Reason)
		}
		if _, again := token(); again.ID != g.ID {
			t.Fatal("the client-grant cache re-read without a notice: the test cannot tell a notice from a read")
		}
		if err := bus.Publish(ctx, tenants.TopicGrantRevoked, tenants.GrantRevokedPayload(tn.ID, g.ID)); err != nil {
			t.Fatal(err)
		}
		if _, den, _ := d.Verifier.Authenticate(ctx, site, []string{"Bearer " + tok}); den == nil || den.Reason != tenants.ReasonRevoked {
			t.Errorf("verifier: revoked grant still live after the notice (%+v)", den)
		}
		if in, _ := d.AuthServer.Introspect(ctx, site, tok); in == nil || in.Active {
			t.Errorf("introspection: revoked grant still active after the notice")
		}
		if _, next := token(); next.ID == g.ID {
			t.Errorf("authorization server: client grant %s still reused after its revocation notice", g.ID)
		}
	})

	// apiKey makes a key, uses it (cached), deletes its row behind the
	// server's back and shows the cache still accepts it.
	apiKey := func(t *testing.T) (string, *tenants.APIKey) {
		t.Helper()
		key, ak, err := d.Provisioner.CreateAPIKey(ctx, tn, tenants.APIKeyInput{Name: "introspect"})
		if err != nil {
			t.Fatal(err)
		}
		k.Audit.Watch(key)
		if e := d.AuthServer.AuthenticateAPIKey(ctx, site, key); e != nil {
			t.Fatal(e)
		}
		if err := d.Store.DeleteAPIKey(ctx, tn.ID, ak.ID); err != nil {
			t.Fatal(err)
		}
		if e := d.AuthServer.AuthenticateAPIKey(ctx, site, key); e != nil {
			t.Fatal("the API key cache re-read without a notice: the test cannot tell a notice from a read")
		}
		return key, ak
	}

	t.Run(tenants.TopicAPIKeyDeleted, func(t *testing.T) {
		key, ak := apiKey(t)
		if err := bus.Publish(ctx, tenants.TopicAPIKeyDeleted, tn.ID+" "+ak.ID); err != nil {
			t.Fatal(err)
		}
		if e := d.AuthServer.AuthenticateAPIKey(ctx, site, key); e == nil {
			t.Error("authorization server: a deleted API key still authenticates after its notice")
		}
	})

	t.Run(tenants.TopicClientChanged, func(t *testing.T) {
		secret, cl, err := d.Provisioner.CreatePreregisteredClient(ctx, tn, tenants.PreregisteredClientInput{ClientName: "gone",
			TokenEndpointAuthMethod: tenants.AuthClientSecretPost, GrantTypes: []string{tenants.GrantClientCredentials}})
		if err != nil {
			t.Fatal(err)
		}
		k.Audit.Watch(secret)
		cred := as.ClientCredentials{ClientID: cl.ID, Secret: secret, Method: tenants.AuthClientSecretPost}
		if _, e := d.AuthServer.AuthenticateClient(ctx, site, cred); e != nil {
			t.Fatal(e)
		}
		if err := d.Store.DeleteClient(ctx, tn.ID, cl.ID); err != nil {
			t.Fatal(err)
		}
		if _, e := d.AuthServer.AuthenticateClient(ctx, site, cred); e != nil {
			t.Fatal("the client cache re-read without a notice: the test cannot tell a notice from a read")
		}
		if err := bus.Publish(ctx, tenants.TopicClientChanged, tenants.ClientChangedPayload(tn.ID, cl.ID)); err != nil {
			t.Fatal(err)
		}
		if _, e := d.AuthServer.AuthenticateClient(ctx, site, cred); e == nil {
			t.Error("authorization server: a deleted client still authenticates after its notice")
		}
	})

	t.Run(tenants.TopicTenantChanged, func(t *testing.T) {
		key, _ := apiKey(t)
		if got, err := d.Sites.BySlug(ctx, "acme"); err != nil || got.Name != "Acme" {
			t.Fatal(got, err)
		}
		// The workers plan a webhook delivery from their cached tenant,
		// which has no webhook yet.
		if n := workerDeliveries(t, rt, k.Store, tn.ID); n != 0 {
			t.Fatalf("%d webhook deliveries for a tenant without a webhook", n)
		}
		renamed := *tn
		renamed.Name = "Acme Renamed"
		renamed.Settings.AuditWebhookURL = "https://hooks.example.com/audit"
		if err := d.Store.UpdateTenant(ctx, &renamed); err != nil {
			t.Fatal(err)
		}
		if got, _ := d.Sites.BySlug(ctx, "acme"); got.Name != "Acme" {
			t.Fatal("the tenant cache re-read without a notice: the test cannot tell a notice from a read")
		}
		if n := workerDeliveries(t, rt, k.Store, tn.ID); n != 0 {
			t.Fatal("the workers' tenant cache re-read without a notice: the test cannot tell a notice from a read")
		}
		if err := bus.Publish(ctx, tenants.TopicTenantChanged, tn.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := d.Sites.BySlug(ctx, "acme"); err != nil || got.Name != "Acme Renamed" {
			t.Errorf("sites: tenant cache not dropped by the notice (%v, %v)", got, err)
		}
		if e := d.AuthServer.AuthenticateAPIKey(ctx, site, key); e == nil {
			t.Error("authorization server: the changed tenant's cached API keys survived its notice")
		}
		if n := workerDeliveries(t, rt, k.Store, tn.ID); n != 1 {
			t.Errorf("workers: the changed tenant's cached copy survived its notice (%d webhook deliveries, want 1)", n)
		}
		if got, _ := changed.Load().(string); got != tn.ID {
			t.Errorf("TenantChanged told %q, want %q", got, tn.ID)
		}
	})

	t.Run(tenants.TopicKeysRotated, func(t *testing.T) {
		before, err := k.Keys.JWKS(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Another replica rotates (its own key manager, no bus here).
		other := &keys.Rotation{Keys: keys.New(d.Store, k.Sealer, nil)}
		if _, err := other.RotateNow(ctx, tn); err != nil {
			t.Fatal(err)
		}
		if cached, _ := k.Keys.JWKS(ctx, tn.ID); kids(cached) != kids(before) {
			t.Fatal("the key cache re-read without a notice: the test cannot tell a notice from a read")
		}
		if err := bus.Publish(ctx, tenants.TopicKeysRotated, tn.ID); err != nil {
			t.Fatal(err)
		}
		after, err := k.Keys.JWKS(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if kids(after) == kids(before) {
			t.Errorf("keys: JWKS unchanged after the rotation notice (%s)", kids(after))
		}
	})
}

// closedWorkers is a workers runtime over store whose queue is closed
// (the Redis address is never dialled), so its auditor writes each event
// at once, planning the webhook delivery from the runtime's tenant cache.
func closedWorkers(t *testing.T, store tenants.Store) *workers.Runtime {
	t.Helper()
	rt, err := workers.New(workers.Options{Store: store, Redis: asynq.RedisClientOpt{Addr: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	return rt
}

// workerDeliveries records one audit event for the tenant through rt and
// counts the tenant's webhook deliveries.
func workerDeliveries(t *testing.T, rt *workers.Runtime, store tenants.Store, tenantID string) int {
	t.Helper()
	ctx := context.Background()
	rt.Auditor().Record(ctx, tenants.AuditEvent{TenantID: tenantID, Action: tenants.ActTokenIssued})
	ds, _, err := store.ListWebhookDeliveries(ctx, tenantID, tenants.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(ds)
}

// kids lists a key set's key ids.
func kids(ks jose.JSONWebKeySet) string {
	var ids []string
	for _, k := range ks.Keys {
		ids = append(ids, k.KeyID)
	}
	sort.Strings(ids)
	return strings.Join(ids, " ")
}
