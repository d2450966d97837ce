package tokens_test

import (
	"context"
	"errors"
	"strings"
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

// Every refused token is one *tokens.VerifyError with its audit reason
// (docs/RULES.md §8); the claims ride on it exactly when the signature
// verified before the failing check, so no caller decodes the payload again.
func TestVerifyError_ReasonAndClaims(t *testing.T) {
	ctx := context.Background()
	s, err := gormstore.Open(ctx, testdb.SQLite(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sealer, _ := tenants.NewSealer([][]byte{make([]byte, 32)})
	km := keys.New(s, sealer, nil)
	tn, other := conformance.NewTenant(t, s, "acme"), conformance.NewTenant(t, s, "other")
	site := tenants.PathSite("https://connect.example.com", tn)
	now := time.Now()
	good := tokens.AccessClaims{Subject: "u1", Audience: site.Resource, ClientID: "c1", Scope: "mcp", JTI: "j",
		IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), GrantID: "g1"}
	sign := func(tenantID, typ string, edit func(*tokens.AccessClaims)) string {
		c := good
		c.Issuer = site.Issuer
		if edit != nil {
			edit(&c)
		}
		tok, err := km.Sign(ctx, tenantID, typ, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := sign(tn.ID, tokens.TypAccessToken, nil)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	algNone := "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + "."

	cases := []struct {
		name, token, reason string
		claims              bool
	}{
		{"empty", "", tenants.ReasonMalformed, false},
		{"not a JWS", "a.b.c", tenants.ReasonMalformed, false},
		{"bad signature", tampered, tenants.ReasonBadSignature, false},
		{"alg none", algNone, tenants.ReasonBadSignature, false},
		{"another tenant's key", sign(other.ID, tokens.TypAccessToken, nil), tenants.ReasonUnknownKey, false},
		{"not an access token (typ)", sign(tn.ID, tokens.TypAssertion, nil), tenants.ReasonMalformed, false},
		{"wrong audience", sign(tn.ID, tokens.TypAccessToken, func(c *tokens.AccessClaims) { c.Audience = "https://elsewhere.example/mcp" }), tenants.ReasonWrongAud, true},
		{"wrong issuer", sign(tn.ID, tokens.TypAccessToken, func(c *tokens.AccessClaims) { c.Issuer = "https://elsewhere.example" }), tenants.ReasonWrongAud, true},
		{"expired", sign(tn.ID, tokens.TypAccessToken, func(c *tokens.AccessClaims) { c.ExpiresAt = now.Add(-time.Hour).Unix() }), tenants.ReasonExpired, true},
		{"issued in the future", sign(tn.ID, tokens.TypAccessToken, func(c *tokens.AccessClaims) { c.IssuedAt = now.Add(time.Hour).Unix() }), tenants.ReasonMalformed, true},
		{"no grant id", sign(tn.ID, tokens.TypAccessToken, func(c *tokens.AccessClaims) { c.GrantID = "" }), tenants.ReasonMalformed, true},
	}
	for _, tc := range cases {
		c, err := tokens.VerifyAccessToken(ctx, km, site, tc.token, now)
		var ve *tokens.VerifyError
		if c != nil || !errors.As(err, &ve) {
			t.Errorf("%s: got %+v, %v; want a *tokens.VerifyError", tc.name, c, err)
			continue
		}
		if ve.Reason != tc.reason || (ve.Claims != nil) != tc.claims {
			t.Errorf("%s: reason %q claims %+v; want %q with claims %v", tc.name, ve.Reason, ve.Claims, tc.reason, tc.claims)
			continue
		}
		if tc.claims && (ve.Claims.ClientID != "c1" || ve.Claims.Subject != "u1") {
			t.Errorf("%s: claims %+v", tc.name, ve.Claims)
		}
	}
	if c, err := tokens.VerifyAccessToken(ctx, km, site, valid, now); err != nil || c.GrantID != "g1" {
		t.Fatalf("valid token: %+v %v", c, err)
	}

	// A store failure is not a verdict on the token: not a VerifyError.
	s.Close()
	_, err = tokens.VerifyAccessToken(ctx, keys.New(s, sealer, nil), site, valid, now)
	if ve := (*tokens.VerifyError)(nil); err == nil || errors.As(err, &ve) {
		t.Fatalf("closed store: %v", err)
	}
}
