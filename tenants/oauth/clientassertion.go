package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/tenants"
)

// private_key_jwt client authentication (RFC 7523 §2.2, §3; RFC 7521 §4.2)
// at the token, revocation and introspection endpoints, for clients
// registered with that method and a key set: pre-registered clients (jwks
// or jwks_uri) and CIMD clients whose document carries keys.

// Client authentication methods and assertion type.
const (
	AuthPrivateKeyJWT = tenants.AuthPrivateKeyJWT
	// AssertionTypeJWTBearer is the client_assertion_type of RFC 7523 §2.2.
	AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// MaxClientAssertionLifetime bounds how far in the future exp may be.
	MaxClientAssertionLifetime = 10 * time.Minute
)

// confidential reports whether c authenticates with a credential (a secret
// or a key), as opposed to a public client.
func confidential(c *tenants.Client) bool {
	return c.SecretHash != "" || c.TokenEndpointAuthMethod == AuthPrivateKeyJWT
}

// clientAssertionClaims are the RFC 7523 §3 claims.
type clientAssertionClaims struct {
	Issuer   string           `json:"iss"`
	Subject  string           `json:"sub"`
	Audience stringOrList     `json:"aud"`
	JTI      string           `json:"jti"`
	Expiry   *jwt.NumericDate `json:"exp"`
	IssuedAt *jwt.NumericDate `json:"iat"`
	NotBef   *jwt.NumericDate `json:"nbf"`
}

// authenticateAssertion checks a client assertion and returns its client.
func (s *Server) authenticateAssertion(ctx context.Context, site tenants.Site, cred ClientCredentials, fail func(string) *Error) (*tenants.Client, *Error) {
	tok, err := parseAssertion(cred.Assertion)
	if err != nil {
		return nil, fail("client_assertion must be a JWT signed with an asymmetric algorithm (RS*, PS*, ES*, EdDSA)")
	}
	var claimed clientAssertionClaims
	if tok.UnsafeClaimsWithoutVerification(&claimed) != nil || claimed.Subject == "" {
		return nil, fail("client_assertion must carry sub, the client_id")
	}
	if cred.ClientID != "" && cred.ClientID != claimed.Subject {
		return nil, fail("client_assertion sub must equal client_id")
	}
	c, e := s.clientToAuthenticate(ctx, site, claimed.Subject, fail)
	if e != nil {
		return nil, e
	}
	if c.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		return nil, fail("this client is not registered for private_key_jwt")
	}
	keys, err := s.clientKeys(ctx, c, tok.Headers[0].KeyID)
	if err != nil {
		return nil, &Error{Code: ErrInvalidClient, Description: "the client's keys could not be read", Status: 401, Cause: err}
	}
	var cl clientAssertionClaims
	if _, err := verifyAssertion(tok, keys, &cl); err != nil {
		return nil, fail("client_assertion " + err.Error())
	}
	now := s.now()
	ours := func(a string) bool {
		return a == site.Issuer || a == site.Endpoint("token") || a == site.Endpoint("revoke") || a == site.Endpoint("introspect")
	}
	switch {
	case cl.Issuer != c.ID || cl.Subject != c.ID:
		return nil, fail("client_assertion iss and sub must both be the client_id")
	case !cl.Audience.only(ours):
		return nil, fail("client_assertion aud must be this server's issuer " + site.Issuer + " or its token endpoint")
	case cl.JTI == "" || cl.Expiry == nil:
		return nil, fail("client_assertion must carry jti and exp")
	case !now.Before(cl.Expiry.Time().Add(assertionSkew)):
		return nil, fail("client_assertion expired")
	case cl.Expiry.Time().After(now.Add(MaxClientAssertionLifetime + assertionSkew)):
		return nil, fail("client_assertion exp is too far in the future")
	case cl.IssuedAt != nil && cl.IssuedAt.Time().After(now.Add(assertionSkew)), cl.NotBef != nil && cl.NotBef.Time().After(now.Add(assertionSkew)):
		return nil, fail("client_assertion is not valid yet")
	}
	err = s.Store.UseJTI(ctx, site.Tenant.ID, tenants.JTIKey("client-assertion", c.ID, cl.JTI), cl.Expiry.Time().Add(assertionSkew), now)
	if errors.Is(err, tenants.ErrReplayed) {
		return nil, fail("client_assertion was already used (jti)")
	}
	if err != nil {
		return nil, serverError(err)
	}
	return c, nil
}

// clientKeys are the client's registered keys: its jwks, or its jwks_uri
// (fetched through the address policy, refetched once for an unknown kid).
func (s *Server) clientKeys(ctx context.Context, c *tenants.Client, kid string) ([]jose.JSONWebKey, error) {
	if c.JWKS != "" {
		keys, msg := tenants.PublicSigningKeys([]byte(c.JWKS))
		if msg != "" {
			return nil, errors.New("jwks " + msg)
		}
		return keys, nil
	}
	if c.JWKSURI == "" || s.KeySets == nil {
		return nil, errors.New("the client has no keys")
	}
	keys, err := s.KeySets.Keys(ctx, c.JWKSURI, false)
	if err == nil && kid != "" && !hasKid(keys, kid) {
		keys, err = s.KeySets.Keys(ctx, c.JWKSURI, true)
	}
	return keys, err
}
