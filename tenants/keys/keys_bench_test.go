package keys_test

import (
	"context"
	"testing"
)

// BenchmarkSign is one ES256 JWT signature with the tenant's active key
// (the key set is cached after the first call).
func BenchmarkSign(b *testing.B) {
	m, _, _, tid := setup(b)
	ctx := context.Background()
	claims := map[string]any{"sub": "u", "aud": "https://connect.example.com/t/acme/mcp", "scope": "mcp"}
	if _, err := m.Sign(ctx, tid, "at+jwt", claims); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Sign(ctx, tid, "at+jwt", claims); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is one ES256 signature check (alg pinned, kid lookup):
// uncached, the JWS parse and the ECDSA verification each time; cached, the
// same token again, answered by the key set's verified-signature cache.
func BenchmarkVerify(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", 0}} {
		b.Run(c.name, func(b *testing.B) {
			m, _, tid := withVerifiedCache(b, c.size)
			ctx := context.Background()
			tok, err := m.Sign(ctx, tid, "at+jwt", map[string]any{"sub": "u"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Verify(ctx, tid, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
