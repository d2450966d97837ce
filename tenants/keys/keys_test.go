package keys_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/conformance"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

func setup(t testing.TB) (*keys.Manager, *gormstore.Store, *time.Time, string) {
	t.Helper()
	now := time.Now()
	m, s, tid := newManager(t, &keys.Options{Now: func() time.Time { return now }})
	return m, s, &now, tid
}

// newManager is a Manager with opts over a fresh SQLite store, and the ID of
// a tenant in it.
func newManager(t testing.TB, opts *keys.Options) (*keys.Manager, *gormstore.Store, string) {
	t.Helper()
	s := testdb.Open(t, testdb.SQLite(t))
	sealer, _ := tenants.NewSealer([][]byte{make([]byte, 32)})
	return keys.New(s, sealer, opts), s, conformance.NewTenant(t, s, "k").ID
}

func TestSignVerify(t *testing.T) {
	m, _, _, tid := setup(t)
	ctx := context.Background()
	tok, err := m.Sign(ctx, tid, "at+jwt", map[string]any{"sub": "u"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Verify(ctx, tid, tok)
	if err != nil || v.Typ != "at+jwt" || !strings.Contains(string(v.Payload), `"sub":"u"`) {
		t.Fatalf("verify: %+v %v", v, err)
	}
	// Another tenant's keys never verify it.
	m2, _, _, other := setup(t)
	if _, err := m2.Verify(ctx, other, tok); !errors.Is(err, keys.ErrUnknownKey) {
		t.Fatalf("cross-tenant: want ErrUnknownKey, got %v", err)
	}
	// Tampered payload.
	parts := strings.Split(tok, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`))
	if _, err := m.Verify(ctx, tid, strings.Join(parts, ".")); !errors.Is(err, keys.ErrBadSignature) {
		t.Fatalf("tampered: want ErrBadSignature, got %v", err)
	}
}

// alg pinning: "none" and HMAC (keyed with the public key, the classic
// confusion attack) are refused.
func TestAlgPinned(t *testing.T) {
	m, _, _, tid := setup(t)
	ctx := context.Background()
	set, _ := m.JWKS(ctx, tid)
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + set.Keys[0].KeyID + `"}`))
	body := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`))
	if _, err := m.Verify(ctx, tid, hdr+"."+body+"."); !errors.Is(err, keys.ErrAlg) {
		t.Fatalf("alg none: want ErrAlg, got %v", err)
	}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
	jws, _ := signer.Sign([]byte(`{"sub":"x"}`))
	hs, _ := jws.CompactSerialize()
	if _, err := m.Verify(ctx, tid, hs); !errors.Is(err, keys.ErrAlg) {
		t.Fatalf("HS256: want ErrAlg, got %v", err)
	}
	if _, err := m.Verify(ctx, tid, "garbage"); !errors.Is(err, keys.ErrMalformed) {
		t.Fatalf("garbage: want ErrMalformed, got %v", err)
	}
}

// Rotation publishes the next key first, switches, and keeps the old key
// verifiable until the retain window ends.
func TestRotation(t *testing.T) {
	m, _, now, tid := setup(t)
	ctx := context.Background()
	old, _ := m.Sign(ctx, tid, "at+jwt", map[string]any{"n": 1})
	set, _ := m.JWKS(ctx, tid)
	if len(set.Keys) != 2 {
		t.Fatalf("active + next published: %d keys", len(set.Keys))
	}
	// Not due yet.
	res, err := m.Rotate(ctx, tid, false, 24*time.Hour, time.Hour, 2*time.Hour)
	if err != nil || res.Promoted != "" {
		t.Fatalf("early rotate: %+v %v", res, err)
	}
	*now = now.Add(25 * time.Hour)
	res, err = m.Rotate(ctx, tid, false, 24*time.Hour, time.Hour, 2*time.Hour)
	if err != nil || res.Promoted == "" || res.Retired == "" || res.Created == "" {
		t.Fatalf("due rotate: %+v %v", res, err)
	}
	newTok, _ := m.Sign(ctx, tid, "at+jwt", map[string]any{"n": 2})
	vNew, err := m.Verify(ctx, tid, newTok)
	if err != nil || vNew.KID != res.Promoted {
		t.Fatalf("new tokens use the promoted key: %+v %v", vNew, err)
	}
	if _, err := m.Verify(ctx, tid, old); err != nil {
		t.Fatalf("old token must verify until retain window ends: %v", err)
	}
	*now = now.Add(3 * time.Hour)
	res, _ = m.Rotate(ctx, tid, false, 24*time.Hour, time.Hour, 2*time.Hour)
	if len(res.Deleted) != 1 {
		t.Fatalf("retired key deleted after retain window: %+v", res)
	}
	if _, err := m.Verify(ctx, tid, old); !errors.Is(err, keys.ErrUnknownKey) {
		t.Fatalf("old token after retirement: want ErrUnknownKey, got %v", err)
	}
}

// KeepCurrent (a bus carries rotations) trusts a key set KeptTTL instead
// of the 30 s default; past it the set is read again.
func TestKeepCurrent(t *testing.T) {
	for _, kept := range []bool{false, true} {
		m, s, now, tid := setup(t)
		if kept {
			m.KeepCurrent()
		}
		ctx := context.Background()
		tok, err := m.Sign(ctx, tid, "at+jwt", map[string]any{"sub": "u"})
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := s.ListSigningKeys(ctx, tid)
		for _, r := range rows { // gone from the store, no notice
			if err := s.DeleteSigningKey(ctx, tid, r.KID); err != nil {
				t.Fatal(err)
			}
		}
		*now = now.Add(time.Minute)
		if _, err := m.Verify(ctx, tid, tok); (err == nil) != kept {
			t.Fatalf("kept %v, a minute on: %v", kept, err)
		}
		*now = now.Add(keys.KeptTTL)
		if _, err := m.Verify(ctx, tid, tok); !errors.Is(err, keys.ErrUnknownKey) {
			t.Fatalf("kept %v, past KeptTTL: want ErrUnknownKey, got %v", kept, err)
		}
	}
}
