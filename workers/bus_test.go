package workers

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// Issue 13: deployments sharing one Redis server must not hear each other's
// bus notices. Redis pub/sub ignores DB numbers, so the channel carries the
// DB number, and GATEHOUSE_REDIS_PREFIX keeps apart deployments on one DB.
// Three deployments on the real Redis — DB a, DB b, and DB a with a prefix —
// each publish a tenant-changed notice: each hears only its own.
func TestBusNoticesStayInTheirDeployment(t *testing.T) {
	addr, dbA := testdb.Redis(t)
	_, dbB := testdb.Redis(t)
	deployments := []struct {
		name string
		db   int
		pfx  string
	}{{"db-a", dbA, ""}, {"db-b", dbB, ""}, {"db-a-prefixed", dbA, "other-" + tenants.RandomID()[:6] + ":"}}
	var mu sync.Mutex
	heard := map[string][]string{}
	buses := make([]*RedisBus, len(deployments))
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i, d := range deployments {
		c := redis.NewClient(&redis.Options{Addr: addr, DB: d.db})
		t.Cleanup(func() { c.Close() })
		b := NewRedisBus(c, BusChannelPrefix(d.pfx, d.db), nil)
		b.Subscribe(tenants.TopicTenantChanged, func(p string) { mu.Lock(); heard[d.name] = append(heard[d.name], p); mu.Unlock() })
		b.Start(bctx)
		t.Cleanup(b.Stop)
		buses[i] = b
		ch := BusChannelPrefix(d.pfx, d.db) + tenants.TopicTenantChanged
		testdb.Eventually(t, d.name+" subscribed", 10*time.Second, func() bool {
			n, err := c.PubSubNumSub(ctx, ch).Result()
			return err == nil && n[ch] > 0
		})
	}
	// Publishes are sequential: Redis hands a notice to every subscribed
	// connection while it runs PUBLISH, so once each deployment has its own
	// (later) notice, any foreign one would already have arrived.
	for i, d := range deployments {
		if err := buses[i].Publish(ctx, tenants.TopicTenantChanged, d.name); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range deployments {
		testdb.Eventually(t, d.name+" hears its own notice", 10*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range heard[d.name] {
				if p == d.name {
					return true
				}
			}
			return false
		})
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, d := range deployments {
		if got := heard[d.name]; len(got) != 1 {
			t.Errorf("%s heard %v; want only its own notice", d.name, got)
		}
	}
}
