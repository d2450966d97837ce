// Package stale is a small read-through cache that keeps serving the last
// good value while its source is failing or slow ("stale-if-error",
// RFC 5861 §4, applied in-process). The gateway's hot path reads tenants
// and grant liveness through it, so a database outage or a hung query does
// not turn every MCP request with an already-verified token into an error
// (docs/SECURITY.md "Fault behaviour").
//
// Rules:
//   - a value younger than TTL is served without asking the source;
//   - an older one is refreshed; concurrent refreshes of one key share one
//     load (singleflight);
//   - while a refresh is running, a caller that holds a value younger than
//     MaxStale waits at most Wait, then gets the old value;
//   - a refresh that fails leaves the old value in place and serves it
//     while it is younger than MaxStale; past that the error is returned;
//   - Forget drops a key at once (a revocation notice): a load that started
//     before the Forget is not cached, so it cannot resurrect the old state;
//   - a failed load is never cached;
//   - the entries are bounded (MaxEntries).
//
// GetFor serves sources that say themselves how long a value stays fresh
// (HTTP documents with Cache-Control: client metadata documents, OIDC
// discovery).
package stale

import (
	"context"
	"sync"
	"time"
)

// Cache is safe for concurrent use. The zero value is not usable; set the
// fields and call New.
type Cache[V any] struct {
	ttl, maxStale, wait, loadTimeout time.Duration
	now                              func() time.Time
	max                              int

	mu       sync.Mutex
	entries  map[string]*entry[V]
	inflight map[string]*call[V]
	epoch    uint64
}

type entry[V any] struct {
	v       V
	at      time.Time
	ttl     time.Duration // the value's own lifetime (GetFor); 0: the cache's TTL
	expired bool          // ExpireAll: refresh on next use, still usable as stale
}

// fresh reports whether e may be served without a refresh.
func (e *entry[V]) fresh(now time.Time, ttl time.Duration) bool {
	if e.ttl > 0 {
		ttl = e.ttl
	}
	age := now.Sub(e.at)
	return !e.expired && age >= 0 && age < ttl
}

type call[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// Options configure a Cache.
type Options struct {
	// TTL: how long a value is served without a refresh.
	TTL time.Duration
	// MaxStale: how old a value may be and still be served when the source
	// fails or is slower than Wait. Zero disables stale serving.
	MaxStale time.Duration
	// Wait bounds how long a caller holding a stale value waits for a
	// refresh (default 250 ms).
	Wait time.Duration
	// LoadTimeout bounds a load (default 10 s); loads run detached from the
	// caller's cancellation so a departed caller does not fail the others.
	LoadTimeout time.Duration
	// MaxEntries bounds the entries (default 100 000): when it is reached,
	// values past their freshness and MaxStale are dropped, and if that is
	// not enough, all of them.
	MaxEntries int
	// Now is the clock (tests).
	Now func() time.Time
}

// New returns a cache.
func New[V any](o Options) *Cache[V] {
	c := &Cache[V]{ttl: o.TTL, maxStale: o.MaxStale, wait: o.Wait, loadTimeout: o.LoadTimeout, now: o.Now, max: o.MaxEntries,
		entries: map[string]*entry[V]{}, inflight: map[string]*call[V]{}}
	if c.wait <= 0 {
		c.wait = 250 * time.Millisecond
	}
	if c.loadTimeout <= 0 {
		c.loadTimeout = 10 * time.Second
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.max <= 0 {
		c.max = 100_000
	}
	return c
}

// SetTTL changes how long values are served without a refresh (e.g. longer
// once a bus drops changed keys at once).
func (c *Cache[V]) SetTTL(d time.Duration) {
	c.mu.Lock()
	c.ttl = d
	c.mu.Unlock()
}

// Get returns the value for key, loading it with load when it is missing or
// older than TTL. Stale reports that an old value was served because the
// source failed or was slow.
func (c *Cache[V]) Get(ctx context.Context, key string, load func(context.Context) (V, error)) (v V, stale bool, err error) {
	return c.get(ctx, key, func(ctx context.Context) (V, time.Duration, error) {
		v, err := load(ctx)
		return v, 0, err
	}, false)
}

// GetFor is Get for a source that says how long each value stays fresh
// (an HTTP Cache-Control max-age, RFC 9111 §5.2.2.1): load returns the
// value and its lifetime. A lifetime of zero or less (no-store) serves the
// value to the callers sharing that load and keeps nothing.
func (c *Cache[V]) GetFor(ctx context.Context, key string, load func(context.Context) (V, time.Duration, error)) (V, error) {
	v, _, err := c.get(ctx, key, load, true)
	return v, err
}

// get is Get; own says that load's lifetime is the value's own.
func (c *Cache[V]) get(ctx context.Context, key string, load func(context.Context) (V, time.Duration, error), own bool) (v V, stale bool, err error) {
	now := c.now()
	c.mu.Lock()
	e := c.entries[key]
	if e != nil && e.fresh(now, c.ttl) {
		c.mu.Unlock()
		return e.v, false, nil
	}
	usable := e != nil && c.maxStale > 0 && now.Sub(e.at) < c.maxStale
	cl := c.inflight[key]
	if cl == nil {
		cl = &call[V]{done: make(chan struct{})}
		c.inflight[key] = cl
		go c.run(ctx, key, cl, c.epoch, now, load, own)
	}
	c.mu.Unlock()

	var timeout <-chan time.Time
	if usable {
		t := time.NewTimer(c.wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-cl.done:
		if cl.err != nil && usable {
			return e.v, true, nil
		}
		return cl.v, false, cl.err
	case <-timeout:
		return e.v, true, nil
	case <-ctx.Done():
		if usable {
			return e.v, true, nil
		}
		var zero V
		return zero, false, ctx.Err()
	}
}

func (c *Cache[V]) run(ctx context.Context, key string, cl *call[V], epoch uint64, started time.Time,
	load func(context.Context) (V, time.Duration, error), own bool) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.loadTimeout)
	defer cancel()
	var ttl time.Duration
	cl.v, ttl, cl.err = load(lctx)
	c.mu.Lock()
	if c.inflight[key] == cl {
		delete(c.inflight, key)
	}
	if cl.err == nil && c.epoch == epoch && (!own || ttl > 0) {
		if _, have := c.entries[key]; !have && len(c.entries) >= c.max {
			c.makeRoom(started)
		}
		c.entries[key] = &entry[V]{v: cl.v, at: started, ttl: ttl}
	}
	c.mu.Unlock()
	close(cl.done)
}

// makeRoom drops the values that can no longer be served, or all of them
// if none can go; c.mu is held.
func (c *Cache[V]) makeRoom(now time.Time) {
	for k, e := range c.entries {
		if !e.fresh(now, c.ttl) && now.Sub(e.at) >= c.maxStale {
			delete(c.entries, k)
		}
	}
	if len(c.entries) >= c.max {
		c.entries = map[string]*entry[V]{}
	}
}

// Len is the number of values held.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Forget drops key; a load already running for it is not cached.
func (c *Cache[V]) Forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	delete(c.inflight, key) // later callers load afresh
	c.epoch++
	c.mu.Unlock()
}

// Clear drops every key.
func (c *Cache[V]) Clear() {
	c.mu.Lock()
	c.entries = map[string]*entry[V]{}
	c.inflight = map[string]*call[V]{}
	c.epoch++
	c.mu.Unlock()
}

// ExpireAll makes every value stale: the next use reloads it, but while
// the source fails the old value is still served (up to MaxStale). For
// change notices about data that is not a security decision (a tenant's
// settings): an outage must not turn a notice into errors.
func (c *Cache[V]) ExpireAll() {
	c.mu.Lock()
	for k, e := range c.entries {
		c.entries[k] = &entry[V]{v: e.v, at: e.at, ttl: e.ttl, expired: true}
	}
	c.inflight = map[string]*call[V]{}
	c.epoch++
	c.mu.Unlock()
}

// TTL is the freshness period.
func (c *Cache[V]) TTL() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ttl
}
