package httpx

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// countingStore serves one tenant and counts reads.
type countingStore struct {
	tenants.TenantStore
	reads atomic.Int64
	name  atomic.Value
}

func (s *countingStore) GetTenantBySlug(_ context.Context, slug string) (*tenants.Tenant, error) {
	s.reads.Add(1)
	if slug != "acme" {
		return nil, tenants.ErrNotFound
	}
	return &tenants.Tenant{ID: "t1", Slug: "acme", Name: s.name.Load().(string)}, nil
}

// A bus-kept cache serves repeated lookups without reads and drops the
// tenant at once on a tenant.changed notice.
func TestSitesKeptCurrentByTheBus(t *testing.T) {
	ctx := context.Background()
	st := &countingStore{}
	st.name.Store("Acme")
	s := NewSites(st, "https://connect.example.com", "")
	bus := &testdb.Bus{}
	s.KeepCurrent()
	bus.Subscribe(tenants.TopicTenantChanged, func(string) { s.Invalidate() })
	if s.bySlug.TTL() != keptTTL || s.byHost.TTL() != keptTTL {
		t.Fatalf("ttl %v / %v, want %v once the bus keeps the cache current", s.bySlug.TTL(), s.byHost.TTL(), keptTTL)
	}
	for i := 0; i < 5; i++ {
		if tn, err := s.BySlug(ctx, "acme"); err != nil || tn.Name != "Acme" {
			t.Fatal(tn, err)
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("%d reads for five lookups", n)
	}
	st.name.Store("Acme Inc")
	_ = bus.Publish(ctx, tenants.TopicTenantChanged, "t1")
	if tn, _ := s.BySlug(ctx, "acme"); tn.Name != "Acme Inc" {
		t.Fatalf("after the notice: %q", tn.Name)
	}
	// The epoch guard (a read that started before an Invalidate is not
	// cached) and the entry bound are the cache's own: tenants/stale tests.
}
