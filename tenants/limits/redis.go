package limits

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcra is the GCRA step, run atomically in Redis. The value under the key
// is the theoretical arrival time (TAT) in microseconds of Redis' own
// clock (TIME), so replicas with skewed clocks still agree.
//
//	KEYS[1] = key; ARGV[1] = burst; ARGV[2] = emission interval (µs)
//	returns {allowed (0|1), retry after (µs)}
var gcra = redis.NewScript(`
local burst = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local newtat = tat + interval
local allowat = newtat - burst * interval
if now < allowat then
  return {0, allowat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', newtat), 'PX', math.ceil((newtat - now) / 1000) + 1)
return {1, 0}
`)

// Redis is the shared Limiter (production): every replica using the same
// Redis and prefix shares each limit.
//
// It fails open: when Redis does not answer within Timeout the event is
// allowed (logged once a minute). A limiter exists to stop abuse, and
// refusing every login and token request because Redis is down would turn
// a queue outage into a full outage.
type Redis struct {
	client  redis.Scripter
	prefix  string
	timeout time.Duration
	log     *slog.Logger

	mu        sync.Mutex
	lastWarn  time.Time
	failOpens int
}

// NewRedis returns a Redis limiter; keys are prefix+key.
func NewRedis(client redis.Scripter, prefix string, log *slog.Logger) *Redis {
	if log == nil {
		log = slog.Default()
	}
	return &Redis{client: client, prefix: prefix, timeout: DefaultRedisTimeout, log: log}
}

// DefaultRedisTimeout bounds one limiter call (the request budget for a
// Redis call, as for the audit enqueue).
const DefaultRedisTimeout = 500 * time.Millisecond

// WithTimeout sets how long a call may wait for Redis before failing open.
func (r *Redis) WithTimeout(d time.Duration) *Redis { r.timeout = d; return r }

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (bool, time.Duration) {
	if l.Unlimited() {
		return true, 0
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	// The key names the limit too: changing a limit starts a new bucket.
	k := r.prefix + key + "|" + strconv.Itoa(l.Burst) + "/" + strconv.FormatInt(l.Every.Microseconds(), 10)
	res, err := gcra.Run(ctx, r.client, []string{k}, l.Burst, l.Every.Microseconds()).Int64Slice()
	if err != nil || len(res) != 2 {
		r.failOpen(err)
		return true, 0
	}
	if res[0] == 1 {
		return true, 0
	}
	return false, time.Duration(res[1]) * time.Microsecond
}

func (r *Redis) failOpen(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failOpens++
	if time.Since(r.lastWarn) < time.Minute {
		return
	}
	r.lastWarn = time.Now()
	r.log.Warn("rate limiter: Redis did not answer; allowing requests until it does", "err", err, "allowed_unchecked", r.failOpens)
	r.failOpens = 0
}
