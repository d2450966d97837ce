package httpx_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants"
)

// BenchmarkSites resolves tenants with 10,000 provisioned: the same tenant
// again and again (always cached), and requests spread over all of them
// (path mode by slug, host mode by {slug}.{domain}), with the short TTL of a
// replica without a bus and with the bus-kept cache.
func BenchmarkSites(b *testing.B) {
	ctx := context.Background()
	store := testkit.New(b, testkit.Options{}).DB
	const n = 10_000
	now := time.Now().UTC()
	all := make([]tenants.Tenant, n)
	slugs := make([]string, n)
	for i := range all {
		slugs[i] = fmt.Sprintf("tenant-%05d", i)
		all[i] = tenants.Tenant{ID: tenants.RandomID(), Slug: slugs[i], Name: slugs[i], UpstreamMCPURL: "https://mcp.example.com/mcp", CreatedAt: now, UpdatedAt: now}
	}
	if err := store.DB().CreateInBatches(all, 500).Error; err != nil {
		b.Fatal(err)
	}
	sites := httpx.NewSites(store, "https://connect.example.com", "connect.example.com")
	kept := httpx.NewSites(store, "https://connect.example.com", "connect.example.com")
	kept.KeepCurrent()
	for _, slug := range slugs {
		if _, err := kept.BySlug(ctx, slug); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("one-tenant", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := sites.BySlug(ctx, slugs[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("spread-by-slug", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := sites.BySlug(ctx, slugs[(i*7919)%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	// With the bus keeping the cache current, every tenant stays cached.
	b.Run("spread-by-slug-bus-kept", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := kept.BySlug(ctx, slugs[(i*7919)%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("spread-by-host", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok, err := sites.ResolveHost(ctx, slugs[(i*7919)%n]+".connect.example.com"); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}
