package dpop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants/dpop"
	"github.com/gatehouse/gatehouse/tenants/testidp"
)

// RFC 9449 §4.3: each check refuses with its own error.
func TestVerify(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const u = "https://mcp.example/t/acme/mcp"
	now := time.Now()
	match := func(s string) bool { return s == u }
	ok := testidp.DPoPProof(key, "POST", u+"?x=1#f", "tok", nil) // query and fragment are not compared
	p, err := dpop.Verify(ok, dpop.Check{Method: "POST", URLMatches: match, AccessToken: "tok", Now: now})
	if err != nil || p.JKT == "" || p.JTI == "" {
		t.Fatalf("valid proof: %v %+v", err, p)
	}
	for _, tc := range []struct {
		name  string
		proof string
		check dpop.Check
		want  error
	}{
		{"not a JWS", "a.b", dpop.Check{Method: "POST", URLMatches: match, Now: now}, dpop.ErrMalformed},
		{"other method", ok, dpop.Check{Method: "GET", URLMatches: match, AccessToken: "tok", Now: now}, dpop.ErrMethod},
		{"other URL", ok, dpop.Check{Method: "POST", URLMatches: func(string) bool { return false }, AccessToken: "tok", Now: now}, dpop.ErrURL},
		{"other token", ok, dpop.Check{Method: "POST", URLMatches: match, AccessToken: "other", Now: now}, dpop.ErrATH},
		{"too old", ok, dpop.Check{Method: "POST", URLMatches: match, AccessToken: "tok", Now: now.Add(dpop.MaxAge + time.Second)}, dpop.ErrTime},
		{"from the future", ok, dpop.Check{Method: "POST", URLMatches: match, AccessToken: "tok", Now: now.Add(-dpop.Skew - time.Second)}, dpop.ErrTime},
		{"no jti", testidp.DPoPProof(key, "POST", u, "", func(c map[string]any) { delete(c, "jti") }), dpop.Check{Method: "POST", URLMatches: match, Now: now}, dpop.ErrClaims},
	} {
		if _, err := dpop.Verify(tc.proof, tc.check); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
