// Package staletest helps test the caches built on tenants/stale: a
// settable clock, and an origin that counts, holds and fails the fetches of
// the document a cache keeps.
package staletest

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Clock is a settable clock for stale.Options.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Origin stands in front of a test server's handler: it counts fetches,
// can hold them until released, and can fail them with a 500.
type Origin struct {
	fetches atomic.Int32
	failing atomic.Bool
	hold    chan struct{}
	once    sync.Once
}

// NewOrigin returns an origin; held origins hold every answer until Release.
func NewOrigin(held bool) *Origin {
	o := &Origin{}
	if held {
		o.hold = make(chan struct{})
	}
	return o
}

// Serve counts a fetch, waits while the origin is held, and answers 500
// while it fails; false means it answered and the handler must stop.
func (o *Origin) Serve(w http.ResponseWriter) bool {
	o.fetches.Add(1)
	if o.hold != nil {
		<-o.hold
	}
	if o.failing.Load() {
		http.Error(w, "origin down", http.StatusInternalServerError)
		return false
	}
	return true
}

// Fetches is how many fetches reached the origin.
func (o *Origin) Fetches() int { return int(o.fetches.Load()) }

// Fail makes the origin fail (or answer again).
func (o *Origin) Fail(on bool) { o.failing.Store(on) }

// Together calls fetch from n goroutines at once while the origin holds
// its answer, then releases it; it fails t on any fetch error. A cache that
// shares one load per key lets exactly one fetch reach the origin.
func (o *Origin) Together(t testing.TB, n int, fetch func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- fetch()
		}()
	}
	time.Sleep(200 * time.Millisecond) // let the callers pile up behind the held answer
	if o.hold != nil {
		o.once.Do(func() { close(o.hold) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
