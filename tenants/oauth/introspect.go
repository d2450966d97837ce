package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// Introspection is the RFC 7662 §2.2 response.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	JTI       string `json:"jti,omitempty"`
	GrantID   string `json:"gid,omitempty"`
	// Cnf is the DPoP key binding of the token (RFC 9449 §6.2).
	Cnf *tokens.Confirmation `json:"cnf,omitempty"`
}

// AuthenticateAPIKey checks a tenant API key for introspection: it must be a
// key of this tenant (another tenant's key is simply unknown here).
func (s *Server) AuthenticateAPIKey(ctx context.Context, site tenants.Site, key string) *Error {
	fail := &Error{Code: ErrInvalidClient, Description: "unknown API key", Status: http.StatusUnauthorized,
		Header: http.Header{"WWW-Authenticate": {`Bearer realm="` + site.Issuer + `", error="invalid_token"`}}}
	if key == "" || len(key) > 512 {
		return fail
	}
	now := s.now()
	k, err := s.apiKey(ctx, tenants.HashSecret(key), now)
	if errors.Is(err, tenants.ErrNotFound) {
		return fail
	}
	if err != nil {
		return serverError(err)
	}
	// An expired key is as unknown as a deleted one (DESIGN §12).
	if k.TenantID != site.Tenant.ID || !k.Usable(now) {
		return fail
	}
	s.touchAPIKey(ctx, k, now)
	return nil
}

// MayIntrospect is the caller rule of introspection (RFC 7662 §2.1 leaves
// it to the server): besides tenant API keys, only confidential clients the
// tenant pre-registered. A client that registered itself (DCR) or names a
// metadata document (CIMD) could be anyone, and introspection would tell it
// about every token of the tenant.
func MayIntrospect(c *tenants.Client) *Error {
	if c.Kind != tenants.ClientPreregistered || !confidential(c) {
		return &Error{Code: ErrInvalidClient, Description: "introspection needs a tenant API key or a confidential client the tenant pre-registered", Status: http.StatusUnauthorized}
	}
	return nil
}

// Introspect describes token (RFC 7662 §2.2). The caller has authenticated
// a tenant API key or a client MayIntrospect allows. Anything not valid for this
// site — another tenant's token, the other URL mode's, revoked, expired —
// is {"active": false}.
func (s *Server) Introspect(ctx context.Context, site tenants.Site, token string) (*Introspection, *Error) {
	inactive := &Introspection{Active: false}
	if token == "" {
		return nil, newErr(ErrInvalidRequest, "token is required")
	}
	if len(token) > 8192 {
		return inactive, nil
	}
	now := s.now()
	if strings.Count(token, ".") == 2 {
		c, err := tokens.VerifyAccessToken(ctx, s.Keys, site, token, now)
		if err != nil {
			return inactive, nil
		}
		if !s.grantActive(ctx, site.Tenant.ID, c.GrantID, now) {
			return inactive, nil
		}
		typ := "Bearer"
		if c.Confirmation != nil {
			typ = "DPoP"
		}
		return &Introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: typ, Exp: c.ExpiresAt, Iat: c.IssuedAt,
			Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, JTI: c.JTI, GrantID: c.GrantID, Username: c.Email, Cnf: c.Confirmation}, nil
	}
	rt, err := s.Store.GetRefreshToken(ctx, site.Tenant.ID, tenants.HashSecret(token))
	if err != nil || rt.RotatedAt != nil || !now.Before(rt.ExpiresAt) || !now.Before(rt.IdleExpiresAt) {
		return inactive, nil
	}
	g, err := s.Store.GetGrant(ctx, site.Tenant.ID, rt.GrantID)
	if err != nil || !g.Live(now) || !site.MatchesResource(g.Resource) {
		return inactive, nil
	}
	return &Introspection{Active: true, Scope: strings.Join(g.Scopes, " "), ClientID: rt.ClientID, TokenType: "refresh_token",
		Exp: rt.ExpiresAt.Unix(), Iat: rt.CreatedAt.Unix(), Sub: g.Subject, Aud: g.Resource, Iss: site.Issuer, GrantID: g.ID}, nil
}

// UserInfo is the OpenID Connect userinfo response for an access token.
type UserInfo struct {
	Sub               string `json:"sub"`
	Email             string `json:"email,omitempty"`
	Name              string `json:"name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
}

// BearerError is the RFC 6750 §3 error of a resource request.
func BearerError(site tenants.Site, desc string) *Error {
	return &Error{Code: ErrInvalidToken, Description: desc, Status: http.StatusUnauthorized,
		Header: http.Header{"WWW-Authenticate": {`Bearer realm="` + site.Issuer + `", error="invalid_token", error_description="` + desc + `"`}}}
}

// UserInfo answers for a valid access token of this site (OIDC Core §5.3).
func (s *Server) UserInfo(ctx context.Context, site tenants.Site, token string) (*UserInfo, *Error) {
	if token == "" {
		return nil, &Error{Code: ErrInvalidRequest, Description: "a bearer token is required", Status: http.StatusUnauthorized,
			Header: http.Header{"WWW-Authenticate": {`Bearer realm="` + site.Issuer + `"`}}}
	}
	c, err := tokens.VerifyAccessToken(ctx, s.Keys, site, token, s.now())
	if err != nil {
		return nil, BearerError(site, "the access token is not valid here")
	}
	g, err := s.Store.GetGrant(ctx, site.Tenant.ID, c.GrantID)
	if err != nil || g.RevokedAt != nil {
		return nil, BearerError(site, "the access token was revoked")
	}
	info := &UserInfo{Sub: c.Subject}
	if g.UserID != "" {
		if u, err := s.Store.GetUser(ctx, site.Tenant.ID, g.UserID); err == nil {
			info.Email, info.Name, info.PreferredUsername = u.Email, u.Name, u.Username
		}
	}
	return info, nil
}
