package web

import (
	"sync"
	"time"
)

// limiter is a fixed-window counter per key (client IP), in memory. Each
// replica counts on its own, so the effective limit across N replicas is N
// times the configured one; good enough to stop a script from mass-creating
// tenants, which is its only job.
type limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu sync.Mutex
	m  map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newLimiter(max int, per time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: per, now: now, m: map[string]*window{}}
}

// allow counts one event for key and reports whether it is within the limit.
func (l *limiter) allow(key string) bool {
	if l == nil || l.max <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) > 10000 { // bound memory: drop finished windows
		for k, w := range l.m {
			if now.Sub(w.start) >= l.window {
				delete(l.m, k)
			}
		}
	}
	w := l.m[key]
	if w == nil || now.Sub(w.start) >= l.window {
		w = &window{start: now}
		l.m[key] = w
	}
	w.n++
	return w.n <= l.max
}
