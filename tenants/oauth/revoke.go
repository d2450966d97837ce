package oauth

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// Revoke is token revocation (RFC 7009 §2). A refresh token or access token
// of this client revokes its grant (RFC 7009 §2.1: revoking a refresh token
// also invalidates the access tokens of the same grant; our access tokens
// are tied to their grant, so revoking one revokes the grant). A token of
// another client is refused and nothing changes. An unknown or invalid token
// is answered 200 (RFC 7009 §2.2).
func (s *Server) Revoke(ctx context.Context, site tenants.Site, c *tenants.Client, token, hint string) *Error {
	if token == "" {
		return newErr(ErrInvalidRequest, "token is required")
	}
	switch hint {
	case "", "access_token", "refresh_token":
	default:
		return newErr(ErrUnsupportedTokenType, "token_type_hint %s is not supported", hint)
	}
	grantID, owner, kind := s.findToken(ctx, site, token)
	if grantID == "" {
		return nil
	}
	if owner != c.ID {
		return newErr(ErrUnauthorizedClient, "the token was not issued to this client")
	}
	if err := s.revokeGrant(ctx, site.Tenant.ID, grantID, tenants.RevokedByClient); err != nil && !errors.Is(err, tenants.ErrNotFound) {
		return serverError(err)
	}
	s.audit(ctx, tenants.AuditEvent{TenantID: site.Tenant.ID, Action: tenants.ActTokenRevoked, ClientID: c.ID,
		Details: tenants.JSONMap{tenants.DetailGrantID: grantID, tenants.DetailTokenType: kind}})
	return nil
}

// findToken identifies a refresh token (by hash) or an access token (by
// signature, for this site) and returns its grant and client.
func (s *Server) findToken(ctx context.Context, site tenants.Site, token string) (grantID, clientID, kind string) {
	if len(token) > 8192 {
		return "", "", ""
	}
	if strings.Count(token, ".") == 2 {
		claims, err := tokens.VerifyAccessToken(ctx, s.Keys, site, token, s.now())
		if err == nil {
			return claims.GrantID, claims.ClientID, "access_token"
		}
		return "", "", ""
	}
	rt, err := s.Store.GetRefreshToken(ctx, site.Tenant.ID, tenants.HashSecret(token))
	if err != nil {
		return "", "", ""
	}
	return rt.GrantID, rt.ClientID, "refresh_token"
}
