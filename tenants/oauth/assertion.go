package oauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/tenants"
)

// JWTs signed by other parties (ID-JAGs, RFC 7523 client assertions, DPoP
// proofs) are verified one way: asymmetric algorithms only (never none, never
// an HMAC keyed with a public key), one signature, and the alg pinned to the
// key — the key's own "alg" when it names one, else what its type and curve
// can sign (RFC 8725 §3.1, §3.2).

// AsymmetricAlgs and AlgNames: see tenants.AsymmetricAlgs.
var (
	AsymmetricAlgs = tenants.AsymmetricAlgs
	AlgNames       = tenants.AlgNames
)

// assertionSkew is the clock skew allowed on iat, nbf and exp.
const assertionSkew = 30 * time.Second

// maxAssertionLen bounds what is parsed at all.
const maxAssertionLen = 16 << 10

var errAssertionMalformed = errors.New("not a signed JWT with an asymmetric algorithm")

// parseAssertion parses a compact JWS signed with an allowed algorithm.
func parseAssertion(raw string) (*jwt.JSONWebToken, error) {
	if raw == "" || len(raw) > maxAssertionLen {
		return nil, errAssertionMalformed
	}
	tok, err := jwt.ParseSigned(raw, AsymmetricAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, errAssertionMalformed
	}
	return tok, nil
}

// typIs compares a JOSE typ with want, case-insensitively and with the
// optional "application/" prefix (RFC 7515 §4.1.9).
func typIs(h jose.Header, want string) bool {
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	typ = strings.TrimPrefix(strings.ToLower(typ), "application/")
	return typ == want
}

// algFits reports whether key k may verify a signature made with alg.
func algFits(k jose.JSONWebKey, alg string) bool {
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	if k.Algorithm != "" {
		return k.Algorithm == alg
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return alg == "ES256"
		case elliptic.P384():
			return alg == "ES384"
		case elliptic.P521():
			return alg == "ES512"
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false // symmetric or private keys never verify a party's signature
}

// verifyAssertion checks tok's signature with the key of keys its header
// names (by kid, else any key that fits the alg) and decodes the claims
// into out. It answers the audit reason of a failure.
func verifyAssertion(tok *jwt.JSONWebToken, keys []jose.JSONWebKey, out ...any) (reason string, err error) {
	h := tok.Headers[0]
	tried := false
	for _, k := range keys {
		if h.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		if !k.IsPublic() || !algFits(k, h.Algorithm) {
			continue
		}
		tried = true
		if err := tok.Claims(k.Key, out...); err == nil {
			return "", nil
		}
	}
	if !tried {
		return tenants.ReasonUnknownKey, errors.New("no key of the issuer fits the JWT's kid and alg")
	}
	return tenants.ReasonBadSignature, errors.New("signature does not verify")
}

// hasKid reports whether keys hold kid (an unknown kid triggers a refetch).
func hasKid(keys []jose.JSONWebKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}

// stringOrList is a claim that may be a string or an array of strings
// (aud, RFC 7519 §4.1.3; resource, RFC 8707).
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// only reports whether s holds exactly v.
func (s stringOrList) only(match func(string) bool) bool {
	return len(s) == 1 && match(s[0])
}
