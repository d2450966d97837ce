package limits_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/tenants/limits"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

func TestMemoryGCRA(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	m := limits.NewMemory(func() time.Time { return now })
	l := limits.Limit{Burst: 3, Every: 10 * time.Second}
	for i := 0; i < 3; i++ {
		if ok, _ := m.Allow(context.Background(), "k", l); !ok {
			t.Fatalf("event %d within the burst refused", i)
		}
	}
	ok, retry := m.Allow(context.Background(), "k", l)
	if ok || retry <= 0 || retry > 10*time.Second {
		t.Fatalf("4th event: ok=%v retry=%v; want refused with retry ≤ 10 s", ok, retry)
	}
	if ok, _ := m.Allow(context.Background(), "other", l); !ok {
		t.Fatal("keys must not share a bucket")
	}
	now = now.Add(10 * time.Second)
	if ok, _ := m.Allow(context.Background(), "k", l); !ok {
		t.Fatal("one event must be regained after Every")
	}
	if ok, _ := m.Allow(context.Background(), "k", l); ok {
		t.Fatal("only one event regained")
	}
	if ok, _ := m.Allow(context.Background(), "k", limits.Limit{}); !ok {
		t.Fatal("the zero limit is unlimited")
	}
}

// Issue 13: a limit holds across replicas. Two limiters with their own
// Redis connections (two processes' worth) share one Redis: together they
// allow exactly the burst, whatever the interleaving.
func TestRedisLimitSharedAcrossReplicas(t *testing.T) {
	addr, db := testdb.Redis(t)
	var replicas []*limits.Redis
	for i := 0; i < 2; i++ {
		c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
		t.Cleanup(func() { c.Close() })
		replicas = append(replicas, limits.NewRedis(c, "gatehouse:rl:", nil).WithTimeout(10*time.Second))
	}
	l := limits.Limit{Burst: 20, Every: time.Hour}
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if ok, _ := replicas[i%2].Allow(context.Background(), "dcr|acme|203.0.113.9", l); ok {
				allowed.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if got := allowed.Load(); got != 20 {
		t.Fatalf("two replicas allowed %d events; the shared limit is 20", got)
	}
	ok, retry := replicas[0].Allow(context.Background(), "dcr|acme|203.0.113.9", l)
	if ok || retry < 59*time.Minute {
		t.Fatalf("after the burst: ok=%v retry=%v; want refused for about an hour", ok, retry)
	}
	// A different key is its own bucket.
	if ok, _ := replicas[1].Allow(context.Background(), "dcr|acme|203.0.113.10", l); !ok {
		t.Fatal("another key was refused")
	}
	// Refill: with a short interval the next event is allowed after it.
	short := limits.Limit{Burst: 1, Every: 200 * time.Millisecond}
	if ok, _ := replicas[0].Allow(context.Background(), "refill", short); !ok {
		t.Fatal("first event refused")
	}
	if ok, _ := replicas[1].Allow(context.Background(), "refill", short); ok {
		t.Fatal("second event within the interval allowed at the other replica")
	}
	time.Sleep(250 * time.Millisecond)
	if ok, _ := replicas[1].Allow(context.Background(), "refill", short); !ok {
		t.Fatal("event after the interval refused")
	}
}

// A Redis that does not answer fails open, quickly.
func TestRedisLimiterFailsOpen(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(testdb.FreePort(t)), DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	r := limits.NewRedis(c, "x:", nil)
	start := time.Now()
	for i := 0; i < 5; i++ {
		if ok, _ := r.Allow(context.Background(), "k", limits.Limit{Burst: 1, Every: time.Hour}); !ok {
			t.Fatal("refused with Redis down")
		}
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("5 checks with Redis down took %v", el)
	}
}
