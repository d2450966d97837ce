package oauth

import (
	"sync"
	"sync/atomic"
	"time"
)

// busCacheMax bounds a cache's entries: as many as the other caches of a
// replica hold (tenants/stale), so 10,000 tenants' clients and metadata
// documents fit. At the bound one entry makes room for the next.
const busCacheMax = 100_000

// busCache is a read-through cache that the bus keeps current (clients,
// client grants, API keys; docs/PERFORMANCE.md): an entry is trusted for ttl
// at most, and a bus notice drops matching entries at once (forget). A read
// that started before a notice is not cached, so a notice is never undone by
// a read racing it.
type busCache[K comparable, V any] struct {
	ttl     time.Duration
	max     int
	mu      sync.Mutex
	entries map[K]busEntry[V]
	epoch   atomic.Uint64
}

type busEntry[V any] struct {
	v       V
	fetched time.Time
}

func newBusCache[K comparable, V any](ttl time.Duration) *busCache[K, V] {
	return &busCache[K, V]{ttl: ttl, max: busCacheMax, entries: map[K]busEntry[V]{}}
}

// get returns the cached value of key when it is younger than ttl and
// usable says so (nil: any), else read's, which it caches.
func (c *busCache[K, V]) get(key K, now time.Time, usable func(V) bool, read func() (V, error)) (V, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if age := now.Sub(e.fetched); ok && age >= 0 && age < c.ttl && (usable == nil || usable(e.v)) {
		return e.v, nil
	}
	epoch := c.epoch.Load()
	v, err := read()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.epoch.Load() == epoch {
		if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
			// An arbitrary one (map order is random): dropping them all
			// would turn a working set just past the bound into a miss
			// per request.
			for k := range c.entries {
				delete(c.entries, k)
				break
			}
		}
		c.entries[key] = busEntry[V]{v: v, fetched: now}
	}
	c.mu.Unlock()
	return v, nil
}

// cachedRow reads a row through c (nil: no cache, read each time); the
// caller gets its own copy.
func cachedRow[K comparable, V any](c *busCache[K, V], key K, now time.Time, read func() (*V, error)) (*V, error) {
	if c == nil {
		return read()
	}
	v, err := c.get(key, now, nil, func() (V, error) {
		got, err := read()
		if err != nil {
			var zero V
			return zero, err
		}
		return *got, nil
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// update changes the cached value of key in place, if cached.
func (c *busCache[K, V]) update(key K, fn func(*V)) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		fn(&e.v)
		c.entries[key] = e
	}
	c.mu.Unlock()
}

// forget drops every entry match selects (a bus notice).
func (c *busCache[K, V]) forget(match func(K, V) bool) {
	c.epoch.Add(1)
	c.mu.Lock()
	for k, e := range c.entries {
		if match(k, e.v) {
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
}
