package access_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
)

// docs/RULES.md §6 with the revocation feed: while the feed answers, a
// grant state is trusted past LiveTTL (no read per request at 10,000
// grants), a revocation whose notice was lost is dropped at the next poll,
// and once the feed stops answering for LiveTTL the cache is back on
// LiveTTL by itself.
func TestRevocationFeed(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	clock := newTestClock()
	store := &failingGrants{OAuthStore: f.store}
	v := access.NewVerifier(store, f.keys, &access.Options{Now: clock.Now})
	auth := func(tok string) *access.Denial {
		t.Helper()
		_, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	poll := func() {
		t.Helper()
		if err := v.PollRevocations(ctx); err != nil {
			t.Fatal(err)
		}
	}

	g, tok := f.grant(t, "")
	poll()
	if d := auth(tok); d != nil {
		t.Fatalf("live grant refused: %+v", d)
	}
	reads := store.reads.Load()
	// Past LiveTTL, the feed current: served from the cache, no read.
	clock.Advance(3 * time.Second)
	poll()
	clock.Advance(3 * time.Second)
	if d := auth(tok); d != nil || store.reads.Load() != reads {
		t.Fatalf("feed current, state %s old: denial %+v, reads %d → %d (want none)", 6*time.Second, d, reads, store.reads.Load())
	}
	// Revoked in the store only (the notice lost): the cache still says
	// live until the next poll, which drops it.
	if err := f.store.RevokeGrant(ctx, f.tn.ID, g.ID, tenants.RevokedByAdmin, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if d := auth(tok); d != nil {
		t.Fatal("cache not used (test premise)")
	}
	poll()
	if d := auth(tok); d == nil || d.Reason != tenants.ReasonRevoked {
		t.Fatalf("after the poll: %+v, want revoked", d)
	}

	// The feed stops answering: LiveTTL bounds the cache again.
	g2, tok2 := f.grant(t, "")
	poll()
	if d := auth(tok2); d != nil {
		t.Fatalf("live grant refused: %+v", d)
	}
	if err := f.store.RevokeGrant(ctx, f.tn.ID, g2.ID, tenants.RevokedByAdmin, clock.Now()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(access.DefaultLiveTTL + time.Second) // no poll since
	if d := auth(tok2); d == nil || d.Reason != tenants.ReasonRevoked {
		t.Fatalf("feed %s behind: %+v, want revoked (LiveTTL again)", access.DefaultLiveTTL+time.Second, d)
	}
}

// A grant whose expiry use has moved (TouchGrant) is not refused on the
// expiry the cache holds: an expired-looking state is read once more.
func TestRevocationFeedRereadsExpiredLookingGrant(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	clock := newTestClock()
	v := access.NewVerifier(f.store, f.keys, &access.Options{Now: clock.Now})
	g, tok := f.grant(t, "")
	soon := clock.Now().Add(10 * time.Second)
	if err := f.store.TouchGrant(ctx, f.tn.ID, g.ID, clock.Now(), &soon); err != nil {
		t.Fatal(err)
	}
	if err := v.PollRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	if _, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); err != nil || d != nil {
		t.Fatalf("live grant refused: %+v %v", d, err)
	}
	later := clock.Now().Add(time.Hour)
	if err := f.store.TouchGrant(ctx, f.tn.ID, g.ID, clock.Now(), &later); err != nil {
		t.Fatal(err)
	}
	clock.Advance(20 * time.Second)
	if err := v.PollRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	if _, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); err != nil || d != nil {
		t.Fatalf("grant extended in the store refused on its cached expiry: %+v %v", d, err)
	}
}
