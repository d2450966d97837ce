package tenants

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"

	"github.com/go-jose/go-jose/v4"
)

// AsymmetricAlgs are the JWS algorithms accepted from other parties
// (ID-JAGs, client assertions, DPoP proofs): never none, never an HMAC
// that a public key could key (RFC 8725 §3.1, §3.2).
var AsymmetricAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// AlgNames lists AsymmetricAlgs for metadata (…_signing_alg_values_supported).
func AlgNames() []string {
	out := make([]string, len(AsymmetricAlgs))
	for i, a := range AsymmetricAlgs {
		out[i] = string(a)
	}
	return out
}

// RawJSON is a JSON value kept as text (a client's JWK set): stored as-is,
// written into API answers as JSON, not as a string.
type RawJSON string

// MarshalJSON writes the value itself.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("null"), nil
	}
	return []byte(r), nil
}

// UnmarshalJSON keeps the value's text.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*r = ""
		return nil
	}
	*r = RawJSON(b)
	return nil
}

// Value implements driver.Valuer.
func (r RawJSON) Value() (driver.Value, error) { return string(r), nil }

// Scan implements sql.Scanner.
func (r *RawJSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*r = ""
	case string:
		*r = RawJSON(v)
	case []byte:
		*r = RawJSON(v)
	}
	return nil
}

// PublicSigningKeys parses a JWK set of a party that signs JWTs for us
// (private_key_jwt clients): every key must be a public asymmetric key —
// a private or symmetric key in the set is refused, never used.
func PublicSigningKeys(raw []byte) ([]jose.JSONWebKey, string) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, "must be a JWK set ({\"keys\": [...]})"
	}
	if len(set.Keys) == 0 || len(set.Keys) > 20 {
		return nil, "must hold 1 to 20 keys"
	}
	var out []jose.JSONWebKey
	for _, k := range set.Keys {
		var kty struct {
			Kty string `json:"kty"`
		}
		if json.Unmarshal(k, &kty) == nil && kty.Kty == "oct" {
			return nil, "must hold asymmetric keys only"
		}
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(k, &jwk); err != nil || !jwk.Valid() {
			return nil, "holds a key that is not a valid JWK"
		}
		if !jwk.IsPublic() {
			return nil, "must hold public keys only (a private key was sent: rotate it now)"
		}
		if _, sym := jwk.Key.([]byte); sym {
			return nil, "must hold asymmetric keys only"
		}
		out = append(out, jwk)
	}
	return out, ""
}

// ClientKeysProblem checks the keys of a private_key_jwt client: exactly
// one of a JWK set of public keys or an https jwks_uri. It names the field
// at fault and why, or returns "", "".
func ClientKeysProblem(jwks []byte, jwksURI string) (field, msg string) {
	hasSet, hasURI := len(jwks) > 0 && string(jwks) != "null", jwksURI != ""
	switch {
	case hasSet == hasURI:
		return "jwks", "private_key_jwt needs exactly one of jwks or jwks_uri"
	case hasSet:
		if _, msg := PublicSigningKeys(jwks); msg != "" {
			return "jwks", msg
		}
	default:
		if msg := validateHTTPSURL(jwksURI); msg != "" {
			return "jwks_uri", msg
		}
	}
	return "", ""
}

func (in *PreregisteredClientInput) validateKeys(v *ValidationError) {
	if in.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		if (len(in.JWKS) > 0 && string(in.JWKS) != "null") || in.JWKSURI != "" {
			v.Add("jwks", "is only used with token_endpoint_auth_method private_key_jwt")
		}
		return
	}
	if field, msg := ClientKeysProblem(in.JWKS, in.JWKSURI); msg != "" {
		v.Add(field, "%s", msg)
	}
}
