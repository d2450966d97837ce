package access

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The revocation feed (docs/RULES.md §6). Without it a replica may trust a
// cached grant state for LiveTTL (4 s) only, in case a grant.revoked notice
// was lost: at 10,000 grants in use that is one database read per request.
// With it the replica asks the store every FeedEvery which grants were
// revoked since its last look (one indexed query for all tenants) and drops
// them, so a grant state can be trusted for FeedTTL — and the moment the
// feed has not answered for LiveTTL, the cache is back on LiveTTL.
const (
	// DefaultFeedEvery is how often the feed is asked.
	DefaultFeedEvery = 2 * time.Second
	// DefaultFeedTTL is how long a grant state is trusted while the feed is
	// current (it also bounds how old the non-revocation fields may be).
	DefaultFeedTTL = 5 * time.Minute
	// feedOverlap is how far before its previous look each poll asks again:
	// it covers revoking transactions that committed after the look that
	// their revoked_at preceded, and clock skew between replicas.
	feedOverlap = 30 * time.Second
	// feedBatch bounds one poll; a fuller answer may have left some out, so
	// the whole cache is expired instead.
	feedBatch = 1000
)

// feed is the Verifier's revocation-feed state.
type feed struct {
	// lastLook is the unix-nano start of the last poll that answered; 0
	// while the feed is not followed or has not answered yet.
	lastLook atomic.Int64
	// long: the cache runs on the feed TTL.
	long  atomic.Bool
	mu    sync.Mutex
	since time.Time // what the next poll asks from
	ttl   time.Duration
}

// FollowRevocations asks the store's revocation feed every `every`
// (default DefaultFeedEvery) until ctx ends; the composition root runs it
// in each serving process.
func (v *Verifier) FollowRevocations(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultFeedEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		_ = v.PollRevocations(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PollRevocations asks the feed once: it drops every grant revoked since
// the previous look and, on the first answer (or the first after the feed
// fell behind), expires every cached state and moves the cache to the feed
// TTL. A failed poll changes nothing; the read path falls back by itself.
func (v *Verifier) PollRevocations(ctx context.Context) error {
	start := v.now()
	v.feed.mu.Lock()
	since := v.feed.since
	if !v.feed.long.Load() || since.IsZero() {
		since = start.Add(-feedOverlap)
	}
	v.feed.mu.Unlock()
	// The query runs unlocked: the read path must never wait on it.
	refs, err := v.store.ListGrantsRevokedSince(ctx, since, feedBatch)
	if err != nil {
		return err
	}
	for _, r := range refs {
		v.Forget(r.TenantID, r.ID)
	}
	v.feed.mu.Lock()
	defer v.feed.mu.Unlock()
	if len(refs) >= feedBatch || !v.feed.long.Load() {
		// A full batch may have left revocations out; a cache that was on
		// the short TTL holds states older than this look's window.
		v.live.ExpireAll()
	}
	if !v.feed.long.Load() {
		v.live.SetTTL(v.feed.ttl)
		v.feed.long.Store(true)
	}
	v.feed.since = start.Add(-feedOverlap)
	v.feed.lastLook.Store(start.UnixNano())
	return nil
}

// feedBehind puts the cache back on LiveTTL when the feed has not answered
// for LiveTTL (a poll stuck on a slow database, a stopped process): grant
// states older than that are reloaded again. Called on the read path.
func (v *Verifier) feedBehind(now time.Time) {
	if !v.feed.long.Load() || now.Sub(time.Unix(0, v.feed.lastLook.Load())) <= v.ttl {
		return
	}
	v.feed.mu.Lock()
	defer v.feed.mu.Unlock()
	if v.feed.long.Load() && now.Sub(time.Unix(0, v.feed.lastLook.Load())) > v.ttl {
		v.live.SetTTL(v.ttl)
		v.feed.long.Store(false)
	}
}
