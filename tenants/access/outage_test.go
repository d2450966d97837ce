package access_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
)

// failingGrants wraps the store: it counts grant reads and, while down,
// GetGrant fails like a database that stopped (or hangs until the caller's
// deadline when hang is set).
type failingGrants struct {
	tenants.OAuthStore
	down, hang atomic.Bool
	reads      atomic.Int64
}

func (f *failingGrants) GetGrant(ctx context.Context, tenantID, id string) (*tenants.Grant, error) {
	f.reads.Add(1)
	if f.hang.Load() {
		// The store's own query deadline, shortened for the test.
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
		return nil, &tenants.UnavailableError{Cause: context.DeadlineExceeded}
	}
	if f.down.Load() {
		return nil, &tenants.UnavailableError{Cause: errors.New("connection refused")}
	}
	return f.OAuthStore.GetGrant(ctx, tenantID, id)
}

// Issue 13: during a database outage the gateway keeps serving tokens it
// verified before (within MaxStale), a slow database costs at most the
// budget, and a grant never seen, or forgotten by a revocation notice, is
// an error (503), never "live".
func TestVerifierServesCachedGrantsDuringOutage(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	clock := newTestClock()
	fs := &failingGrants{OAuthStore: f.store}
	v := access.NewVerifier(fs, f.keys, &access.Options{Now: clock.Now, MaxStale: time.Minute, Budget: 100 * time.Millisecond})
	g, tok := f.grant(t, "")
	if _, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); err != nil || d != nil {
		t.Fatalf("warm-up: %+v %v", d, err)
	}

	fs.down.Store(true)
	clock.Advance(10 * time.Second) // past the 4 s liveness TTL
	p, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok})
	if err != nil || d != nil || p.Grant.ID != g.ID {
		t.Fatalf("cached grant not served during the outage: %+v %v", d, err)
	}

	// Hung database: answered from cache within the budget.
	fs.down.Store(false)
	fs.hang.Store(true)
	clock.Advance(10 * time.Second)
	start := time.Now()
	if _, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); err != nil || d != nil {
		t.Fatalf("hung database: %+v %v", d, err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("hung database held the request %v (budget 100 ms)", el)
	}
	fs.hang.Store(false)
	fs.down.Store(true)

	// Past MaxStale: an error, not a verdict.
	clock.Advance(2 * time.Minute)
	if _, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); !errors.Is(err, tenants.ErrUnavailable) || d != nil {
		t.Fatalf("past MaxStale want ErrUnavailable, got %+v %v", d, err)
	}

	// A grant never seen: error.
	_, tok2 := f.grant(t, "")
	if _, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok2}); !errors.Is(err, tenants.ErrUnavailable) || d != nil {
		t.Fatalf("uncached grant during outage: %+v %v", d, err)
	}

	// A revocation notice drops the cached state: not served stale.
	fs.down.Store(false)
	if _, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); err != nil || d != nil {
		t.Fatal(d, err)
	}
	fs.down.Store(true)
	v.Forget(f.tn.ID, g.ID)
	clock.Advance(10 * time.Second)
	if _, _, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); !errors.Is(err, tenants.ErrUnavailable) {
		t.Fatalf("a forgotten grant was served from cache: %v", err)
	}
}
