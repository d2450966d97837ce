package limits

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcra is the GCRA step for a batch of keys, run atomically in Redis. The
// value under a key is the theoretical arrival time (TAT) in microseconds
// of Redis' own clock (TIME), so replicas with skewed clocks still agree.
// A key may appear more than once: its events are taken in order.
//
//	KEYS[i] = key i; ARGV[2i-1] = its burst; ARGV[2i] = its emission interval (µs)
//	returns {allowed_1 (0|1), retry_after_1 (µs), allowed_2, …}
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local burst = tonumber(ARGV[2 * i - 1])
  local interval = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or 0)
  if tat < now then tat = now end
  local newtat = tat + interval
  local allowat = newtat - burst * interval
  if now < allowat then
    out[2 * i - 1] = 0
    out[2 * i] = allowat - now
  else
    redis.call('SET', key, string.format('%.0f', newtat), 'PX', math.ceil((newtat - now) / 1000) + 1)
    out[2 * i - 1] = 1
    out[2 * i] = 0
  end
end
return out
`)

// Batching: concurrent checks share one script call (one round trip, one
// script run in Redis) instead of one each. A check that finds a send slot
// free sends the pending batch itself; otherwise it waits for a sender.
// Under load the batches grow by themselves; a lone check is a batch of
// one, sent by its own caller (docs/PERFORMANCE.md).
const (
	maxInFlight = 4   // batches in flight at once per limiter
	maxBatch    = 128 // checks per batch
)

// check is one Allow waiting for its batch.
type check struct {
	key          string
	burst, every int64 // every in µs
	ok           bool
	retryAfter   time.Duration
	done         chan error
}

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

	batchMu  sync.Mutex
	pending  []*check
	inFlight int
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
	// The key names the limit too: changing a limit starts a new bucket.
	c := &check{key: r.prefix + key + "|" + strconv.Itoa(l.Burst) + "/" + strconv.FormatInt(l.Every.Microseconds(), 10),
		burst: int64(l.Burst), every: l.Every.Microseconds(), done: make(chan error, 1)}
	r.batchMu.Lock()
	r.pending = append(r.pending, c)
	send := r.inFlight < maxInFlight
	if send {
		r.inFlight++
	}
	r.batchMu.Unlock()
	if send {
		r.sendBatches(c)
	}
	timer := time.NewTimer(r.timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-c.done:
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = context.DeadlineExceeded
	}
	if err != nil {
		r.failOpen(err)
		return true, 0
	}
	return c.ok, c.retryAfter
}

// sendBatches sends the pending checks, a batch at a time, until none is
// left or, when own is set (the caller's check: a lone check needs no
// hand-off), until own is answered; checks still waiting then get a
// goroutine of their own that inherits the in-flight slot.
func (r *Redis) sendBatches(own *check) {
	for {
		r.batchMu.Lock()
		batch := r.pending
		if len(batch) > maxBatch {
			batch = batch[:maxBatch:maxBatch]
			r.pending = append([]*check(nil), r.pending[maxBatch:]...)
		} else {
			r.pending = nil
		}
		if len(batch) == 0 {
			r.inFlight--
			r.batchMu.Unlock()
			return
		}
		r.batchMu.Unlock()
		r.send(batch)
		if own == nil || !slices.Contains(batch, own) {
			continue
		}
		r.batchMu.Lock()
		more := len(r.pending) > 0
		if !more {
			r.inFlight--
		}
		r.batchMu.Unlock()
		if more {
			go r.sendBatches(nil)
		}
		return
	}
}

// send runs one script call for batch and hands each check its answer.
func (r *Redis) send(batch []*check) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	keys := make([]string, len(batch))
	args := make([]any, 0, 2*len(batch))
	for i, c := range batch {
		keys[i] = c.key
		args = append(args, c.burst, c.every)
	}
	res, err := gcra.Run(ctx, r.client, keys, args...).Int64Slice()
	if err == nil && len(res) != 2*len(batch) {
		err = fmt.Errorf("rate limiter script answered %d values for %d keys", len(res), len(batch))
	}
	for i, c := range batch {
		if err == nil {
			c.ok, c.retryAfter = res[2*i] == 1, time.Duration(res[2*i+1])*time.Microsecond
		}
		c.done <- err
	}
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
