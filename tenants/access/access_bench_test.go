package access_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants/access"
)

// BenchmarkAuthenticate is the gateway's bearer check: with both caches
// warm (the steady state of a connected client), with the grant read from
// the store each time (a liveness cache miss), and with nothing cached.
func BenchmarkAuthenticate(b *testing.B) {
	f := setup(b)
	_, tok := f.grant(b, "")
	auth := []string{"Bearer " + tok}
	ctx := context.Background()
	check := func(b *testing.B, v *access.Verifier) {
		p, d, err := v.Authenticate(ctx, f.site, auth)
		if err != nil || d != nil || p == nil {
			b.Fatalf("%v %+v", err, d)
		}
	}
	for _, bc := range []struct {
		name string
		opts *access.Options
	}{{"cached", nil}, {"grant-from-store", &access.Options{LiveTTL: time.Nanosecond}}} {
		b.Run(bc.name, func(b *testing.B) {
			v := access.NewVerifier(f.store, f.keys, bc.opts)
			check(b, v)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				check(b, v)
			}
		})
	}
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			check(b, access.NewVerifier(f.store, f.keys, nil))
		}
	})
}
