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

// TuneRequestRedis sets the timeouts above on o: socket reads and writes
// honour the caller's context deadline, a pool wait is bounded, and a
// timed-out call or refused dial is not retried.
func TuneRequestRedis(o *redis.Options) *redis.Options {
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

// requestRedis returns the client for enqueues from request paths: the
// connection option's own settings with TuneRequestRedis applied, or nil
// when the option is not a single-node one (then the shared client is used).
func requestRedis(opt asynq.RedisConnOpt) *redis.Client {
	var o asynq.RedisClientOpt
	switch v := opt.(type) {
	case asynq.RedisClientOpt:
		o = v
	case *asynq.RedisClientOpt:
		o = *v
	default:
		return nil
	}
	return redis.NewClient(TuneRequestRedis(&redis.Options{Network: o.Network, Addr: o.Addr, Username: o.Username,
		Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig, PoolSize: o.PoolSize}))
}
