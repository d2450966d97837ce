package limits_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/limits"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// BenchmarkRedisAllow: one limiter check against real Redis from 32
// concurrent callers (a loaded token endpoint), each a new key (every
// request from its own client address), as the token limit sees it.
func BenchmarkRedisAllow(b *testing.B) {
	addr, db := testdb.Redis(b)
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	b.Cleanup(func() { c.Close() })
	r := limits.NewRedis(c, "bench:"+tenants.RandomID()+":", nil)
	var n atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(16) // × GOMAXPROCS callers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _ := r.Allow(context.Background(), "token|t|c|"+strconv.FormatUint(n.Add(1), 10), limits.Token); !ok {
				b.Error("refused")
			}
		}
	})
}
