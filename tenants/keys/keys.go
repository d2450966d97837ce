// Package keys manages each tenant's ES256 signing keys: creation, sealing at
// rest, the JWKS, signing JWTs, verifying them, and rotation (publish next
// ahead, switch, retire after the longest token lifetime).
package keys

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/tenants"
)

// Alg is the only signing algorithm: pinned, so "none" and HMAC are refused.
const Alg = jose.ES256

// Verification errors; callers map them to audit reasons.
var (
	ErrMalformed    = errors.New("token is not a well-formed JWS")
	ErrUnknownKey   = errors.New("token signed by an unknown key")
	ErrBadSignature = errors.New("token signature does not verify")
	ErrAlg          = errors.New("token algorithm is not ES256")
	// ErrClaims wraps the error of VerifyClaims's decode.
	ErrClaims = errors.New("token claims refused")
)

// Options for New; nil means defaults.
type Options struct {
	// CacheTTL bounds how long a replica trusts its cached key set (default 30s).
	CacheTTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
	// VerifiedCacheSize bounds the tokens whose verified signature each key
	// set remembers (default DefaultVerifiedCacheSize; negative: none).
	VerifiedCacheSize int
}

// Manager is safe for concurrent use; one per process.
type Manager struct {
	store  tenants.KeyStore
	sealer *tenants.Sealer
	ttl    time.Duration
	now    func() time.Time
	// verifiedMax bounds each key set's verifiedCache.
	verifiedMax int

	mu    sync.Mutex
	cache map[string]*keySet
	// create serializes first-key creation within a process.
	create sync.Mutex
}

type keySet struct {
	loaded  time.Time
	signing *loadedKey // newest active
	public  map[string]*jose.JSONWebKey
	jwks    jose.JSONWebKeySet
	// doc is jwks serialized once per load, and etag its entity tag:
	// the JWKS endpoint writes them as they are (docs/PERFORMANCE.md).
	doc  []byte
	etag string
	// verified remembers tokens already verified against these keys.
	verified *verifiedCache
}

type loadedKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

// New returns a Manager.
func New(store tenants.KeyStore, sealer *tenants.Sealer, opts *Options) *Manager {
	m := &Manager{store: store, sealer: sealer, ttl: 30 * time.Second, now: time.Now, cache: map[string]*keySet{}, verifiedMax: DefaultVerifiedCacheSize}
	if opts != nil {
		if opts.VerifiedCacheSize != 0 {
			m.verifiedMax = opts.VerifiedCacheSize
		}
		if opts.CacheTTL > 0 {
			m.ttl = opts.CacheTTL
		}
		if opts.Now != nil {
			m.now = opts.Now
		}
	}
	return m
}

func sealContext(tenantID, kid string) string { return "signing_key:" + tenantID + ":" + kid }

// SealContext is the seal context of a tenant's private signing key (for
// re-sealing after a GATEHOUSE_SECRET_KEY rotation).
func SealContext(tenantID, kid string) string { return sealContext(tenantID, kid) }

// newKey generates a key in the given state (not stored).
func (m *Manager) newKey(tenantID, state string) (*tenants.SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	kid := tenants.RandomID()[:20]
	privJWK := jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(Alg), Use: "sig"}
	privJSON, err := privJWK.MarshalJSON()
	if err != nil {
		return nil, err
	}
	sealed, err := m.sealer.Seal(string(privJSON), sealContext(tenantID, kid))
	if err != nil {
		return nil, err
	}
	pubJSON, err := privJWK.Public().MarshalJSON()
	if err != nil {
		return nil, err
	}
	now := m.now().UTC()
	k := &tenants.SigningKey{TenantID: tenantID, KID: kid, Alg: string(Alg), State: state, PrivateSealed: sealed, PublicJWK: string(pubJSON), CreatedAt: now}
	if state == tenants.KeyActive {
		k.ActivatedAt = &now
	}
	return k, nil
}

// KeptTTL is how long a key set is trusted once KeepCurrent is on. It only
// bounds a lost notice: a replica that missed one signs with a key just
// retired (published for the longest token lifetime after) and reloads at
// once on a token of a key it does not know; a next key is published a day
// before it signs (workers' KeyPublishAhead), far longer than this.
const KeptTTL = 5 * time.Minute

// KeepCurrent trusts key sets KeptTTL instead of the CacheTTL, for a Manager
// whose Invalidate the composition root subscribes to every keys.rotated
// notice: 10,000 tenants' key sets are then not reloaded (read, unsealed)
// every 30 s (docs/PERFORMANCE.md). Call it before use.
func (m *Manager) KeepCurrent() {
	m.mu.Lock()
	m.ttl = max(m.ttl, KeptTTL)
	m.mu.Unlock()
}

// Invalidate drops a tenant's cached keys (after rotation, or a notice from
// another replica).
func (m *Manager) Invalidate(tenantID string) {
	m.mu.Lock()
	delete(m.cache, tenantID)
	m.mu.Unlock()
}

func (m *Manager) load(ctx context.Context, tenantID string, force bool) (*keySet, error) {
	m.mu.Lock()
	ks, ttl := m.cache[tenantID], m.ttl
	m.mu.Unlock()
	if ks != nil && !force && m.now().Sub(ks.loaded) < ttl {
		return ks, nil
	}
	rows, err := m.store.ListSigningKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	ks = &keySet{loaded: m.now(), public: map[string]*jose.JSONWebKey{}, verified: newVerifiedCache(m.verifiedMax)}
	for i := range rows {
		r := &rows[i]
		var pub jose.JSONWebKey
		if err := pub.UnmarshalJSON([]byte(r.PublicJWK)); err != nil {
			return nil, fmt.Errorf("key %s: bad public JWK: %w", r.KID, err)
		}
		ks.public[r.KID] = &pub
		ks.jwks.Keys = append(ks.jwks.Keys, pub)
		if r.State == tenants.KeyActive && ks.signing == nil { // rows are newest first
			raw, err := m.sealer.Open(r.PrivateSealed, sealContext(tenantID, r.KID))
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", r.KID, err)
			}
			var priv jose.JSONWebKey
			if err := priv.UnmarshalJSON([]byte(raw)); err != nil {
				return nil, fmt.Errorf("key %s: bad private JWK: %w", r.KID, err)
			}
			ecPriv, ok := priv.Key.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("key %s: not an EC private key", r.KID)
			}
			ks.signing = &loadedKey{kid: r.KID, priv: ecPriv}
		}
	}
	if ks.jwks.Keys == nil {
		ks.jwks.Keys = []jose.JSONWebKey{}
	}
	if ks.doc, err = json.Marshal(ks.jwks); err != nil {
		return nil, err
	}
	ks.etag = tenants.ETag(ks.doc)
	m.mu.Lock()
	m.cache[tenantID] = ks
	m.mu.Unlock()
	return ks, nil
}

// Ensure makes sure the tenant has an active key (and a published next key).
func (m *Manager) Ensure(ctx context.Context, tenantID string) error {
	ks, err := m.load(ctx, tenantID, false)
	if err != nil {
		return err
	}
	if ks.signing != nil {
		return nil
	}
	m.create.Lock()
	defer m.create.Unlock()
	if ks, err = m.load(ctx, tenantID, true); err != nil || ks.signing != nil {
		return err
	}
	k, err := m.newKey(tenantID, tenants.KeyActive)
	if err != nil {
		return err
	}
	if err := m.store.CreateSigningKey(ctx, k); err != nil {
		return err
	}
	next, err := m.newKey(tenantID, tenants.KeyNext)
	if err != nil {
		return err
	}
	if err := m.store.CreateSigningKey(ctx, next); err != nil {
		return err
	}
	m.Invalidate(tenantID)
	return nil
}

// Sign signs claims as a compact JWS with the tenant's active key; typ is the
// JOSE "typ" header (e.g. "at+jwt").
func (m *Manager) Sign(ctx context.Context, tenantID, typ string, claims any) (string, error) {
	if err := m.Ensure(ctx, tenantID); err != nil {
		return "", err
	}
	ks, err := m.load(ctx, tenantID, false)
	if err != nil {
		return "", err
	}
	if ks.signing == nil {
		return "", errors.New("tenant has no active signing key")
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", ks.signing.kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: Alg, Key: ks.signing.priv}, opts)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// JWKSDocument is JWKS serialized, with its entity tag; both are shared
// (read only).
func (m *Manager) JWKSDocument(ctx context.Context, tenantID string) (doc []byte, etag string, err error) {
	if err := m.Ensure(ctx, tenantID); err != nil {
		return nil, "", err
	}
	ks, err := m.load(ctx, tenantID, false)
	if err != nil {
		return nil, "", err
	}
	return ks.doc, ks.etag, nil
}

// JWKS returns the tenant's published public keys (next, active, retired).
func (m *Manager) JWKS(ctx context.Context, tenantID string) (jose.JSONWebKeySet, error) {
	if err := m.Ensure(ctx, tenantID); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	ks, err := m.load(ctx, tenantID, false)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	return ks.jwks, nil
}

// Verified is a token whose signature checked out.
type Verified struct {
	KID     string
	Typ     string
	Payload []byte
	// Claims is what VerifyClaims's decode made of the token: shared by
	// every verification of the same token while it is cached, read only.
	Claims any
}

// Verify checks a compact JWS against the tenant's keys. Only ES256 is
// accepted. An unknown kid triggers one reload (a key created by another
// replica) before ErrUnknownKey. A token verified before against the
// tenant's current key set is answered from that key set's verifiedCache.
func (m *Manager) Verify(ctx context.Context, tenantID, token string) (*Verified, error) {
	return m.VerifyClaims(ctx, tenantID, token, nil)
}

// VerifyClaims is Verify, and decodes the verified token with decode (when
// not nil) into Verified.Claims. The decoded claims are cached with the
// signature, so decode runs once per token and key set: it must depend on
// the token alone (its typ and payload), never on the time or the caller —
// checks of exp, iss or aud belong to the caller, on every call. A decode
// error is returned wrapped in ErrClaims and nothing is cached.
func (m *Manager) VerifyClaims(ctx context.Context, tenantID, token string, decode func(*Verified) (any, error)) (*Verified, error) {
	sum := sha256.Sum256([]byte(token))
	ks, loadErr := m.load(ctx, tenantID, false)
	if loadErr == nil {
		if sig, ok := ks.verified.get(sum); ok && (decode == nil || sig.claims != nil) {
			payload, err := decodeSegment(payloadSegment(token))
			if err != nil { // cannot happen: put checked it
				return nil, ErrMalformed
			}
			return &Verified{KID: sig.kid, Typ: sig.typ, Payload: payload, Claims: sig.claims}, nil
		}
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{Alg})
	if err != nil {
		// Distinguish a wrong algorithm (alg:none, HS256) from garbage.
		if _, err2 := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512, jose.RS256, jose.ES384, jose.PS256, jose.EdDSA}); err2 == nil {
			return nil, ErrAlg
		}
		if looksLikeAlgNone(token) {
			return nil, ErrAlg
		}
		return nil, ErrMalformed
	}
	if len(jws.Signatures) != 1 {
		return nil, ErrMalformed
	}
	if loadErr != nil {
		return nil, loadErr
	}
	h := jws.Signatures[0].Header
	pub := ks.public[h.KeyID]
	if pub == nil && m.now().Sub(ks.loaded) > time.Second {
		if ks, err = m.load(ctx, tenantID, true); err != nil {
			return nil, err
		}
		pub = ks.public[h.KeyID]
	}
	if pub == nil {
		return nil, ErrUnknownKey
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, ErrBadSignature
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	v := &Verified{KID: h.KeyID, Typ: typ, Payload: payload}
	if decode != nil {
		if v.Claims, err = decode(v); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrClaims, err)
		}
	}
	// Remembered only when a hit can rebuild the same payload from the
	// token (not so for an unencoded "b64": false payload).
	if seg, err := decodeSegment(payloadSegment(token)); err == nil && bytes.Equal(seg, payload) {
		ks.verified.put(sum, verifiedSig{kid: pub.KeyID, typ: typ, claims: v.Claims})
	}
	return v, nil
}

// payloadSegment is the middle part of a compact JWS ("" if it has none).
func payloadSegment(token string) string {
	i := strings.IndexByte(token, '.')
	if i < 0 {
		return ""
	}
	rest := token[i+1:]
	j := strings.IndexByte(rest, '.')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

func looksLikeAlgNone(token string) bool {
	var hdr struct {
		Alg string `json:"alg"`
	}
	i := 0
	for i < len(token) && token[i] != '.' {
		i++
	}
	raw, err := decodeSegment(token[:i])
	if err != nil || json.Unmarshal(raw, &hdr) != nil {
		return false
	}
	return hdr.Alg != "" && hdr.Alg != string(Alg)
}

// RotateResult says what a rotation pass did.
type RotateResult struct {
	Promoted string   // kid that became active
	Retired  string   // kid that stopped signing
	Created  string   // new next kid
	Deleted  []string // retired kids removed from JWKS
}

// Rotate advances the tenant's keys. With force (admin "rotate now"), the
// next key becomes active at once. Otherwise it rotates when the active key
// is older than period and the next key has been published for at least
// publishAhead (so caches have seen it). A retired key stays published for
// retainFor (the longest access-token lifetime plus skew), then is deleted.
func (m *Manager) Rotate(ctx context.Context, tenantID string, force bool, period, publishAhead, retainFor time.Duration) (RotateResult, error) {
	var res RotateResult
	if err := m.Ensure(ctx, tenantID); err != nil {
		return res, err
	}
	rows, err := m.store.ListSigningKeys(ctx, tenantID)
	if err != nil {
		return res, err
	}
	now := m.now().UTC()
	var active, next *tenants.SigningKey
	for i := range rows {
		r := &rows[i]
		switch r.State {
		case tenants.KeyActive:
			if active == nil {
				active = r
			}
		case tenants.KeyNext:
			if next == nil {
				next = r
			}
		case tenants.KeyRetired:
			if r.DeleteAfter != nil && now.After(*r.DeleteAfter) {
				if err := m.store.DeleteSigningKey(ctx, tenantID, r.KID); err != nil && !errors.Is(err, tenants.ErrNotFound) {
					return res, err
				}
				res.Deleted = append(res.Deleted, r.KID)
			}
		}
	}
	if next == nil {
		if next, err = m.newKey(tenantID, tenants.KeyNext); err != nil {
			return res, err
		}
		if err := m.store.CreateSigningKey(ctx, next); err != nil {
			return res, err
		}
		res.Created = next.KID
		if !force {
			m.Invalidate(tenantID)
			return res, nil // publish first; switch on a later pass
		}
	}
	due := active == nil || now.Sub(activatedAt(active)) >= period
	published := now.Sub(next.CreatedAt) >= publishAhead
	if !force && !(due && published) {
		m.Invalidate(tenantID)
		return res, nil
	}
	next.State = tenants.KeyActive
	next.ActivatedAt = &now
	if err := m.store.UpdateSigningKey(ctx, next); err != nil {
		return res, err
	}
	res.Promoted = next.KID
	// Retire every other active key (two replicas may each have made one).
	for i := range rows {
		r := &rows[i]
		if r.State == tenants.KeyActive && r.KID != next.KID {
			del := now.Add(retainFor)
			r.State, r.RetiredAt, r.DeleteAfter = tenants.KeyRetired, &now, &del
			if err := m.store.UpdateSigningKey(ctx, r); err != nil {
				return res, err
			}
			res.Retired = r.KID
		}
	}
	nn, err := m.newKey(tenantID, tenants.KeyNext)
	if err != nil {
		return res, err
	}
	if err := m.store.CreateSigningKey(ctx, nn); err != nil {
		return res, err
	}
	res.Created = nn.KID
	m.Invalidate(tenantID)
	return res, nil
}

func activatedAt(k *tenants.SigningKey) time.Time {
	if k.ActivatedAt != nil {
		return *k.ActivatedAt
	}
	return k.CreatedAt
}

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
