package workers

import (
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Redis timeouts for calls made while a request waits (audit and webhook
// enqueues, the Bus, rate limits). go-redis ignores a context deadline on
// socket reads unless ContextTimeoutEnabled is set, and its defaults (3 s
// reads, a pool wait of read timeout + 1 s, three retries) let a hung —
// not stopped — Redis hold a request 4–5 s although the caller gave up
// after 500 ms (issue 13, finding 4).
const (
	RequestRedisDialTimeout = time.Second
	RequestRedisIOTimeout   = 500 * time.Millisecond
)

// tuneRequestRedis sets the timeouts above on o: socket reads and writes
// honour the caller's context deadline, a pool wait is bounded, and a
// timed-out call or refused dial is not retried. UniversalOptions carries
// them to one node, a Sentinel-found master (and the sentinels) and every
// Cluster node alike.
func tuneRequestRedis(o *redis.UniversalOptions) *redis.UniversalOptions {
	o.ContextTimeoutEnabled = true
	o.DialTimeout = RequestRedisDialTimeout
	o.ReadTimeout = RequestRedisIOTimeout
	o.WriteTimeout = RequestRedisIOTimeout
	o.PoolTimeout = RequestRedisIOTimeout
	o.MaxRetries = 1
	// A refused dial is final: go-redis otherwise re-dials 5 times 100 ms
	// apart, so a stopped Redis cost each call 500 ms.
	o.DialerRetries = 1
	return o
}

// RequestRedis returns a client for calls made from request paths to the
// Redis that opt names — one node, Sentinel or Cluster — with the
// connection's own settings and the timeouts above.
func RequestRedis(opt asynq.RedisConnOpt) redis.UniversalClient {
	switch v := opt.(type) {
	case *asynq.RedisClientOpt:
		return RequestRedis(*v)
	case *asynq.RedisFailoverClientOpt:
		return RequestRedis(*v)
	case *asynq.RedisClusterClientOpt:
		return RequestRedis(*v)
	case asynq.RedisClientOpt:
		o := tuneRequestRedis(&redis.UniversalOptions{Addrs: []string{v.Addr}, Username: v.Username, Password: v.Password,
			DB: v.DB, TLSConfig: v.TLSConfig, PoolSize: v.PoolSize}).Simple()
		o.Network = v.Network
		return redis.NewClient(o)
	case asynq.RedisFailoverClientOpt:
		return redis.NewFailoverClient(tuneRequestRedis(&redis.UniversalOptions{MasterName: v.MasterName, Addrs: v.SentinelAddrs,
			SentinelUsername: v.SentinelUsername, SentinelPassword: v.SentinelPassword, Username: v.Username, Password: v.Password,
			DB: v.DB, TLSConfig: v.TLSConfig, PoolSize: v.PoolSize}).Failover())
	case asynq.RedisClusterClientOpt:
		return redis.NewClusterClient(tuneRequestRedis(&redis.UniversalOptions{Addrs: v.Addrs, Username: v.Username,
			Password: v.Password, TLSConfig: v.TLSConfig, MaxRedirects: v.MaxRedirects}).Cluster())
	}
	return nil
}
