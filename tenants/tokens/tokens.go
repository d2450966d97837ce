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

// Expired reports whether the token is past exp (within Skew) at now; a
// token without exp is expired.
func (c *AccessClaims) Expired(now time.Time) bool {
	return c.ExpiresAt == 0 || now.After(time.Unix(c.ExpiresAt, 0).Add(Skew))
}

// VerifyError is a refused access token, the one value every caller reads
// (errors.As): Reason is the mcp.denied audit reason (tenants.Reason*,
// docs/RULES.md §8). Claims are the token's claims, decoded once, when its
// signature verified and a later check failed (issuer, audience, expiry,
// iat, required claims): the tenant's own, safe to name in an audit event;
// nil otherwise.
type VerifyError struct {
	Reason string
	Claims *AccessClaims
	// Detail says which check failed (logs and tests, never the client).
	Detail string
}

func (e *VerifyError) Error() string {
	if e.Detail == "" {
		return "access token refused: " + e.Reason
	}
	return "access token refused: " + e.Reason + ": " + e.Detail
}

func refuse(reason, detail string, c *AccessClaims) *VerifyError {
	return &VerifyError{Reason: reason, Claims: c, Detail: detail}
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
		return nil, refuse(tenants.ReasonMalformed, "not a compact JWS", nil)
	}
	v, err := km.VerifyClaims(ctx, site.Tenant.ID, token, decodeAccessClaims)
	switch {
	case errors.Is(err, keys.ErrUnknownKey):
		return nil, refuse(tenants.ReasonUnknownKey, err.Error(), nil)
	case errors.Is(err, keys.ErrBadSignature), errors.Is(err, keys.ErrAlg):
		return nil, refuse(tenants.ReasonBadSignature, err.Error(), nil)
	case errors.Is(err, keys.ErrMalformed):
		return nil, refuse(tenants.ReasonMalformed, err.Error(), nil)
	case errors.Is(err, errTyp):
		return nil, refuse(tenants.ReasonMalformed, errTyp.Error(), nil)
	case errors.Is(err, errClaimsJSON):
		return nil, refuse(tenants.ReasonMalformed, errClaimsJSON.Error(), nil)
	case err != nil:
		return nil, err // keys unreachable: not a verdict on the token
	}
	shared, ok := v.Claims.(*AccessClaims)
	if !ok {
		return nil, refuse(tenants.ReasonMalformed, "not an access token", nil)
	}
	// A copy: the decoded claims are shared by every request presenting
	// this token while the key set caches it.
	c := *shared
	switch {
	case c.Issuer != site.Issuer:
		return nil, refuse(tenants.ReasonWrongAud, "issued by another issuer", &c)
	case !site.MatchesResource(c.Audience):
		return nil, refuse(tenants.ReasonWrongAud, "audience is not this resource", &c)
	case c.Expired(now):
		return nil, refuse(tenants.ReasonExpired, "expired", &c)
	case c.IssuedAt > now.Add(Skew).Unix():
		return nil, refuse(tenants.ReasonMalformed, "issued in the future", &c)
	case c.GrantID == "" || c.Subject == "" || c.ClientID == "":
		return nil, refuse(tenants.ReasonMalformed, "gid, sub or client_id missing", &c)
	}
	return &c, nil
}

var (
	errTyp        = errors.New("typ is not at+jwt")
	errClaimsJSON = errors.New("claims are not valid JSON")
)

// decodeAccessClaims is what keys.Manager caches of a verified access token:
// its typ checked and its claims decoded. Nothing here depends on the time
// or the site; those checks run on every call.
func decodeAccessClaims(v *keys.Verified) (any, error) {
	if !strings.EqualFold(v.Typ, TypAccessToken) && !strings.EqualFold(v.Typ, "application/at+jwt") {
		return nil, errTyp
	}
	c := &AccessClaims{}
	if err := json.Unmarshal(v.Payload, c); err != nil {
		return nil, errClaimsJSON
	}
	return c, nil
}
