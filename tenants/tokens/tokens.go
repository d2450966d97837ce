// Package tokens defines the access token (RFC 9068 JWT) and the identity
// assertion the gateway sends upstream, and verifies access tokens for one
// tenant site: signature (ES256 pinned, kid lookup), typ, iss, aud, exp.
// Grant liveness (revocation) is checked by the caller, which caches it.
package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/keys"
)

// TypAccessToken is the JOSE typ of access tokens (RFC 9068 §2.1).
const TypAccessToken = "at+jwt"

// TypAssertion is the JOSE typ of the gateway's upstream identity assertion.
const TypAssertion = "gatehouse-assertion+jwt"

// Skew tolerated on exp/iat/nbf.
const Skew = 30 * time.Second

// AccessClaims are the claims of an access token (RFC 9068 §2.2).
type AccessClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ClientID  string `json:"client_id"`
	Scope     string `json:"scope"`
	JTI       string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	AuthTime  int64  `json:"auth_time,omitempty"`
	GrantID   string `json:"gid"`
	Email     string `json:"email,omitempty"`
	// GrantType is "client_credentials" on a token with no user behind it
	// (sub is then the client id); absent on user tokens. It tells readers
	// of the token (introspection, logs); the gateway decides from the grant
	// (access.Principal.Kind).
	GrantType string `json:"gty,omitempty"`
	// Confirmation binds the token to a DPoP key (RFC 9449 §6.1).
	Confirmation *Confirmation `json:"cnf,omitempty"`
}

// Confirmation is the cnf claim of a DPoP-bound token (RFC 7800, RFC 9449 §6).
type Confirmation struct {
	JKT string `json:"jkt"`
}

// GrantTypeClientCredentials is the gty claim of a token issued with the
// client_credentials grant (RFC 6749 §4.4): no user, the client acts for itself.
const GrantTypeClientCredentials = "client_credentials"

// Scopes splits the scope claim.
func (c *AccessClaims) Scopes() []string { return strings.Fields(c.Scope) }

// HasScope reports whether the token carries scope s.
func (c *AccessClaims) HasScope(s string) bool {
	for _, x := range c.Scopes() {
		if x == s {
			return true
		}
	}
	return false
}

// Verification failures, each mapped to an mcp.denied reason.
var (
	ErrMalformed    = errors.New("malformed token")
	ErrBadSignature = errors.New("bad signature")
	ErrUnknownKey   = errors.New("unknown signing key")
	ErrWrongIssuer  = errors.New("token issued by another issuer")
	ErrWrongAud     = errors.New("token audience is not this resource")
	ErrExpired      = errors.New("token expired")
	ErrRevoked      = errors.New("token revoked")
)

// Reason maps a verification error to the audit reason of docs/RULES.md §8.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrBadSignature):
		return tenants.ReasonBadSignature
	case errors.Is(err, ErrUnknownKey):
		return tenants.ReasonUnknownKey
	case errors.Is(err, ErrWrongAud), errors.Is(err, ErrWrongIssuer):
		return tenants.ReasonWrongAud
	case errors.Is(err, ErrExpired):
		return tenants.ReasonExpired
	case errors.Is(err, ErrRevoked):
		return tenants.ReasonRevoked
	default:
		return tenants.ReasonMalformed
	}
}

// IssueAccessToken signs an access token for site with the tenant's active key.
func IssueAccessToken(ctx context.Context, km *keys.Manager, site tenants.Site, c AccessClaims) (string, error) {
	c.Issuer = site.Issuer
	return km.Sign(ctx, site.Tenant.ID, TypAccessToken, c)
}

// VerifyAccessToken checks token for site at now: ES256 signature by one of
// the tenant's keys, typ at+jwt, iss = site issuer, aud = site resource
// (trailing slash tolerated), exp/iat within skew. A token from another
// tenant fails on the key (unknown kid) and on iss/aud; a token from the same
// tenant's other URL mode fails on iss/aud.
func VerifyAccessToken(ctx context.Context, km *keys.Manager, site tenants.Site, token string, now time.Time) (*AccessClaims, error) {
	if token == "" || len(token) > 8192 || strings.Count(token, ".") != 2 {
		return nil, ErrMalformed
	}
	v, err := km.Verify(ctx, site.Tenant.ID, token)
	switch {
	case errors.Is(err, keys.ErrUnknownKey):
		return nil, ErrUnknownKey
	case errors.Is(err, keys.ErrBadSignature), errors.Is(err, keys.ErrAlg):
		return nil, ErrBadSignature
	case errors.Is(err, keys.ErrMalformed):
		return nil, ErrMalformed
	case err != nil:
		return nil, err
	}
	if !strings.EqualFold(v.Typ, TypAccessToken) && !strings.EqualFold(v.Typ, "application/at+jwt") {
		return nil, ErrMalformed
	}
	var c AccessClaims
	if err := json.Unmarshal(v.Payload, &c); err != nil {
		return nil, ErrMalformed
	}
	if c.Issuer != site.Issuer {
		return nil, ErrWrongIssuer
	}
	if !site.MatchesResource(c.Audience) {
		return nil, ErrWrongAud
	}
	if c.ExpiresAt == 0 || now.After(time.Unix(c.ExpiresAt, 0).Add(Skew)) {
		return nil, ErrExpired
	}
	if c.IssuedAt > now.Add(Skew).Unix() {
		return nil, ErrMalformed
	}
	if c.GrantID == "" || c.Subject == "" || c.ClientID == "" {
		return nil, ErrMalformed
	}
	return &c, nil
}
