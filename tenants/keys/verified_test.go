package keys_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
)

// withVerifiedCache is a Manager with the given bound of the
// verified-signature cache.
func withVerifiedCache(t testing.TB, size int) (*keys.Manager, *gormstore.Store, string) {
	return newManager(t, &keys.Options{VerifiedCacheSize: size})
}

// flip changes the character at i of a compact token to another base64url
// character whose six bits differ in the high bits (so the decoded bytes
// change, whatever the padding bits of a segment's last character).
func flip(tok string, i int) string {
	c := byte('A')
	if tok[i] == 'A' {
		c = 'g'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// A cached token answers as the first verification did; any changed byte
// (signature or payload) misses the cache and fails on the signature.
func TestVerifiedCacheHitOnlyForTheSameToken(t *testing.T) {
	m, _, tid := withVerifiedCache(t, 0)
	ctx := context.Background()
	tok, err := m.Sign(ctx, tid, "at+jwt", map[string]any{"sub": "u", "n": 1})
	if err != nil {
		t.Fatal(err)
	}
	first, err := m.Verify(ctx, tid, tok)
	if err != nil {
		t.Fatal(err)
	}
	if n := keys.VerifiedLen(m, tid); n != 1 {
		t.Fatalf("verified tokens remembered: %d, want 1", n)
	}
	again, err := m.Verify(ctx, tid, tok)
	if err != nil || again.KID != first.KID || again.Typ != first.Typ || string(again.Payload) != string(first.Payload) {
		t.Fatalf("cached answer differs: %+v vs %+v (%v)", again, first, err)
	}
	dot1 := strings.IndexByte(tok, '.')
	dot2 := strings.LastIndexByte(tok, '.')
	for name, bad := range map[string]string{
		"signature byte": flip(tok, dot2+10),
		"payload byte":   flip(tok, dot1+5),
		"header byte":    flip(tok, 3),
	} {
		if _, err := m.Verify(ctx, tid, bad); err == nil {
			t.Errorf("%s changed: verified", name)
		} else if name != "header byte" && !errors.Is(err, keys.ErrBadSignature) {
			t.Errorf("%s changed: want ErrBadSignature, got %v", name, err)
		}
	}
	if n := keys.VerifiedLen(m, tid); n != 1 {
		t.Fatalf("refused tokens must not be remembered: %d entries", n)
	}
}

// Dropping the key set (Invalidate, as a rotation or a bus notice does)
// drops what was verified with it: a token of a key that is gone is refused
// even though it was verified a moment before.
func TestVerifiedCacheDroppedWithTheKeySet(t *testing.T) {
	m, s, tid := withVerifiedCache(t, 0)
	ctx := context.Background()
	tok, err := m.Sign(ctx, tid, "at+jwt", map[string]any{"sub": "u"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Verify(ctx, tid, tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSigningKey(ctx, tid, v.KID); err != nil {
		t.Fatal(err)
	}
	m.Invalidate(tid)
	if _, err := m.Verify(ctx, tid, tok); !errors.Is(err, keys.ErrUnknownKey) {
		t.Fatalf("token of a removed key after Invalidate: want ErrUnknownKey, got %v", err)
	}
}

// The cache of one key set never holds more than its bound; evicted tokens
// still verify (the slow way).
func TestVerifiedCacheBounded(t *testing.T) {
	const bound = 3
	m, _, tid := withVerifiedCache(t, bound)
	ctx := context.Background()
	var toks []string
	for i := 0; i < 10; i++ {
		tok, err := m.Sign(ctx, tid, "at+jwt", map[string]any{"sub": fmt.Sprint("u", i)})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
		if _, err := m.Verify(ctx, tid, tok); err != nil {
			t.Fatal(err)
		}
		if n := keys.VerifiedLen(m, tid); n > bound || n != min(i+1, bound) {
			t.Fatalf("after %d tokens: %d remembered, bound %d", i+1, n, bound)
		}
	}
	for _, tok := range toks {
		if _, err := m.Verify(ctx, tid, tok); err != nil {
			t.Fatalf("evicted token: %v", err)
		}
	}
	off, _, otid := withVerifiedCache(t, -1)
	tok, _ := off.Sign(ctx, otid, "at+jwt", map[string]any{"sub": "u"})
	if _, err := off.Verify(ctx, otid, tok); err != nil || keys.VerifiedLen(off, otid) != 0 {
		t.Fatalf("negative size disables the cache: %d entries, %v", keys.VerifiedLen(off, otid), err)
	}
}

// VerifyClaims decodes a token once while it is cached; a decode error is
// wrapped in ErrClaims and remembers nothing.
func TestVerifyClaimsDecodesOnce(t *testing.T) {
	m, _, tid := withVerifiedCache(t, 0)
	ctx := context.Background()
	tok, _ := m.Sign(ctx, tid, "at+jwt", map[string]any{"sub": "u"})
	decodes := 0
	decode := func(v *keys.Verified) (any, error) { decodes++; return "claims of " + string(v.Payload), nil }
	for i := 0; i < 3; i++ {
		v, err := m.VerifyClaims(ctx, tid, tok, decode)
		if err != nil || v.Claims != "claims of "+string(v.Payload) {
			t.Fatalf("call %d: %+v %v", i, v, err)
		}
	}
	if decodes != 1 {
		t.Fatalf("decoded %d times, want once", decodes)
	}
	refused := errors.New("not for us")
	other, _ := m.Sign(ctx, tid, "at+jwt", map[string]any{"sub": "w"})
	decodes = 0
	for i := 0; i < 2; i++ {
		if _, err := m.VerifyClaims(ctx, tid, other, func(*keys.Verified) (any, error) { decodes++; return nil, refused }); !errors.Is(err, keys.ErrClaims) || !errors.Is(err, refused) {
			t.Fatalf("decode error: %v", err)
		}
	}
	if decodes != 2 {
		t.Fatalf("a refused decode was remembered: %d decodes", decodes)
	}
}
