// Package limits is the one keyed rate limiter of the platform (docs/RULES.md §1:
// golang.org/x/time/rate in embedded mode, Redis in production, behind one
// interface). Every limit — DCR, authorize, token, console login and
// signup, the provisioning API, MCP quotas — is a Limit checked through a
// Limiter under a key naming what is limited (tenant, client, IP, user,
// API key). docs/SECURITY.md "Limits" lists them.
//
// The algorithm is GCRA (a token bucket without a background refill): a
// key may spend Burst events at once, and regains one every Every.
// The Redis implementation keeps one value per key (the theoretical
// arrival time) updated by a Lua script, so every replica sharing the
// Redis shares the limit.
package limits

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a GCRA limit: Burst events at once, one more per Every.
type Limit struct {
	Burst int
	Every time.Duration
}

// PerMinute allows n events a minute, all of them at once if they come
// together.
func PerMinute(n int) Limit {
	if n <= 0 {
		return Limit{}
	}
	return Limit{Burst: n, Every: time.Minute / time.Duration(n)}
}

// Per allows n events per period, all at once if they come together.
func Per(n int, period time.Duration) Limit {
	if n <= 0 {
		return Limit{}
	}
	return Limit{Burst: n, Every: period / time.Duration(n)}
}

// Unlimited reports whether l allows everything (the zero Limit).
func (l Limit) Unlimited() bool { return l.Burst <= 0 || l.Every <= 0 }

// Limiter takes one event for key under l. When it is refused, retryAfter
// says when the next one would be allowed (for Retry-After).
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (ok bool, retryAfter time.Duration)
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1 (RFC 9110
// §10.2.3: Retry-After is an integer number of seconds).
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// Memory is the in-process Limiter (embedded mode, tests): one
// golang.org/x/time/rate bucket per key and limit.
type Memory struct {
	now func() time.Time

	mu      sync.Mutex
	buckets map[memKey]*rate.Limiter
}

type memKey struct {
	key string
	l   Limit
}

// maxMemoryKeys bounds memory; past it, full buckets (equal to new ones)
// are dropped.
const maxMemoryKeys = 100_000

// NewMemory returns an in-memory limiter; now may be nil (time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, buckets: map[memKey]*rate.Limiter{}}
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, l Limit) (bool, time.Duration) {
	if l.Unlimited() {
		return true, 0
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey{key, l}
	b := m.buckets[k]
	if b == nil {
		if len(m.buckets) >= maxMemoryKeys {
			m.gc(now)
		}
		b = rate.NewLimiter(rate.Every(l.Every), l.Burst)
		m.buckets[k] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (m *Memory) gc(now time.Time) {
	for k, b := range m.buckets {
		if b.TokensAt(now) >= float64(k.l.Burst) {
			delete(m.buckets, k)
		}
	}
	if len(m.buckets) >= maxMemoryKeys {
		m.buckets = map[memKey]*rate.Limiter{}
	}
}
