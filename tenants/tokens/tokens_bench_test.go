package tokens_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/conformance"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

func fixture(b testing.TB) (*keys.Manager, tenants.Site, tokens.AccessClaims) {
	s, err := gormstore.Open(context.Background(), testdb.SQLite(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	sealer, _ := tenants.NewSealer([][]byte{make([]byte, 32)})
	tn := conformance.NewTenant(b, s, "acme")
	site := tenants.PathSite("https://connect.example.com", tn)
	now := time.Now()
	c := tokens.AccessClaims{Subject: "u1", Audience: site.Resource, ClientID: "c1", Scope: "mcp", JTI: tenants.RandomID(),
		IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), GrantID: tenants.RandomID(), Email: "u1@example.com"}
	return keys.New(s, sealer, nil), site, c
}

// BenchmarkIssueAccessToken: claims to a signed RFC 9068 access token.
func BenchmarkIssueAccessToken(b *testing.B) {
	km, site, c := fixture(b)
	ctx := context.Background()
	if _, err := tokens.IssueAccessToken(ctx, km, site, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tokens.IssueAccessToken(ctx, km, site, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAccessToken: signature, typ, iss, aud and time checks,
// without the gateway's digest cache (introspection, userinfo, revocation).
func BenchmarkVerifyAccessToken(b *testing.B) {
	km, site, c := fixture(b)
	ctx := context.Background()
	tok, err := tokens.IssueAccessToken(ctx, km, site, c)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tokens.VerifyAccessToken(ctx, km, site, tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
