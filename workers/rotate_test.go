package workers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func kidOf(t *testing.T, km *keys.Manager, tenantID, tok string) string {
	t.Helper()
	v, err := km.Verify(ctx, tenantID, tok)
	if err != nil {
		t.Fatal(err)
	}
	return v.KID
}

// docs/RULES.md §7 key rotation, run by the worker: the next key is published
// ahead, becomes the signing key after the tenant's rotation period, and the
// retired key stays in the JWKS until the longest access token signed with it
// has expired. Tokens issued before the rotation stay valid; tokens issued
// after use the new key — also on another replica, told through the bus.
func TestKeyRotationKeepsOldTokensValidAndSignsWithNewKey(t *testing.T) {
	for _, rb := range redisBackends() {
		t.Run(rb.name, func(t *testing.T) {
			t.Parallel()
			store := testdb.Open(t, testdb.SQLite(t))
			tn := newTenant(t, store, "rot")
			days := 1
			tn.Settings.KeyRotationDays = &days // access TTL: the 1 h default
			must(t, store.UpdateTenant(ctx, tn))
			site := tenants.PathSite("http://127.0.0.1:8080", tn)
			redisOpt := rb.open(t)
			sealer := newSealer(t)
			clock := &fakeClock{t: time.Now().UTC()}

			// Replica W runs the rotation on a fake clock; replica G is a
			// gateway that caches keys for an hour and learns of the
			// rotation from the bus alone.
			workerKeys := keys.New(store, sealer, &keys.Options{Now: clock.Now})
			gatewayKeys := keys.New(store, sealer, &keys.Options{CacheTTL: time.Hour})
			prefix := "gh-test-" + tenants.RandomID() + ":" // pub/sub ignores the DB number
			busW := NewRedisBus(redisClient(redisOpt), prefix, nil)
			busG := NewRedisBus(redisClient(redisOpt), prefix, nil)
			w := newEnv(t, store, redisOpt, func(o *Options) {
				o.Sealer, o.Keys, o.Bus, o.Now = sealer, workerKeys, busW, clock.Now
			})
			// As internal/wiring.Subscribe does in every process.
			busG.Subscribe(tenants.TopicKeysRotated, gatewayKeys.Invalidate)
			bctx, cancel := context.WithCancel(ctx)
			defer cancel()
			busG.Start(bctx)
			defer busG.Stop()

			issue := func() string {
				now := time.Now()
				tok, err := tokens.IssueAccessToken(ctx, gatewayKeys, site, tokens.AccessClaims{Subject: "u", Audience: site.Resource,
					ClientID: "c", Scope: "mcp", JTI: tenants.RandomID(), IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), GrantID: "g"})
				must(t, err)
				return tok
			}
			verify := func(tok string) error {
				_, err := tokens.VerifyAccessToken(ctx, gatewayKeys, site, tok, time.Now())
				return err
			}
			old := issue()
			oldKID := kidOf(t, gatewayKeys, tn.ID, old)

			// Not due yet: nothing changes.
			must(t, w.rt.rotateKeys(ctx))
			if kidOf(t, gatewayKeys, tn.ID, issue()) != oldKID {
				t.Fatal("rotated before the period passed")
			}

			clock.Add(25 * time.Hour) // period (1 day) passed; next key published long enough
			// The subscription must be live before the notice is sent.
			waitSubscribed(t, prefix, redisOpt)
			must(t, w.rt.rotateKeys(ctx))
			var fresh string
			testdb.Eventually(t, "the gateway replica to sign with the new key (bus notice)", 30*time.Second, func() bool {
				fresh = issue()
				return kidOf(t, gatewayKeys, tn.ID, fresh) != oldKID
			})
			if err := verify(old); err != nil {
				t.Fatalf("token signed before the rotation must stay valid until it expires: %v", err)
			}
			if err := verify(fresh); err != nil {
				t.Fatalf("token signed with the new key: %v", err)
			}
			jwks, err := gatewayKeys.JWKS(ctx, tn.ID)
			must(t, err)
			if len(jwks.Key(oldKID)) == 0 || len(jwks.Keys) != 3 {
				t.Fatalf("JWKS must publish retired, active and next keys; got %d keys (old present: %v)", len(jwks.Keys), len(jwks.Key(oldKID)) > 0)
			}

			// Within the longest access-token lifetime the retired key stays.
			clock.Add(30 * time.Minute)
			must(t, w.rt.rotateKeys(ctx))
			gatewayKeys.Invalidate(tn.ID)
			if err := verify(old); err != nil {
				t.Fatalf("retired key removed before the access-token TTL passed: %v", err)
			}
			// After it (TTL + skew), the retired key leaves the JWKS.
			clock.Add(time.Hour)
			must(t, w.rt.rotateKeys(ctx))
			testdb.Eventually(t, "the retired key to be dropped on the gateway replica", 30*time.Second, func() bool {
				var ve *tokens.VerifyError
				return errors.As(verify(old), &ve) && ve.Reason == tenants.ReasonUnknownKey
			})
			if err := verify(fresh); err != nil {
				t.Fatalf("current key must keep verifying: %v", err)
			}

			w.stop() // flush audit
			evs, _, err := store.ListAuditEvents(ctx, tn.ID, tenants.AuditFilter{Action: tenants.ActKeyRotated})
			must(t, err)
			if len(evs) != 1 || evs[0].Details[tenants.DetailKID] == nil || evs[0].Details["retired_kid"] != oldKID {
				t.Fatalf("want one key.rotated event naming the retired key %s, got %+v", oldKID, evs)
			}
		})
	}
}

// waitSubscribed waits until someone listens on the bus's keys topic.
func waitSubscribed(t *testing.T, prefix string, opt asynq.RedisClientOpt) {
	t.Helper()
	c := redisClient(opt)
	defer c.Close()
	ch := prefix + tenants.TopicKeysRotated
	testdb.Eventually(t, "bus subscription", 10*time.Second, func() bool {
		n, err := c.PubSubNumSub(ctx, ch).Result()
		return err == nil && n[ch] > 0
	})
}
