package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// TokenRequest is a token endpoint request (RFC 6749 §4.1.3, §4.4.2, §6;
// RFC 7636 §4.5; RFC 8707 §2.2).
type TokenRequest struct {
	GrantType       string
	Code            string
	RedirectURI     string
	CodeVerifier    string
	RefreshToken    string
	Scope           string
	ScopePresent    bool
	Resource        string
	ResourcePresent bool
	Assertion       string   // jwt-bearer grant (RFC 7523 §2.1)
	DPoP            []string // DPoP header values (RFC 9449 §5)
}

// TokenResponse is RFC 6749 §5.1.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

func grantErr(format string, args ...any) *Error { return newErr(ErrInvalidGrant, format, args...) }

// Token runs the grant of req for an authenticated client.
func (s *Server) Token(ctx context.Context, site tenants.Site, c *tenants.Client, req TokenRequest) (*TokenResponse, *Error) {
	if req.ResourcePresent && !site.MatchesResource(req.Resource) {
		return nil, newErr(ErrInvalidTarget, "resource must be this server's MCP URL %s", site.Resource)
	}
	ctx, e := s.tokenDPoP(ctx, site, req.DPoP)
	if e != nil {
		return nil, e
	}
	switch req.GrantType {
	case grantCode:
		return s.exchangeCode(ctx, site, c, req)
	case grantRT:
		return s.refresh(ctx, site, c, req)
	case grantCC:
		return s.clientCredentials(ctx, site, c, req)
	case tenants.GrantJWTBearer:
		return s.jwtBearer(ctx, site, c, req)
	case "":
		return nil, newErr(ErrInvalidRequest, "grant_type is required")
	default:
		return nil, newErr(ErrUnsupportedGrantType, "grant_type %s is not supported", req.GrantType)
	}
}

// exchangeCode redeems a code (RFC 6749 §4.1.3). The code is consumed
// before any check, so a failed exchange burns it; a second redemption
// revokes the grant and every token issued from it (RFC 6749 §4.1.2).
func (s *Server) exchangeCode(ctx context.Context, site tenants.Site, c *tenants.Client, req TokenRequest) (*TokenResponse, *Error) {
	if e := grantRequest(c, grantCode, "code", req.Code, "authorization code"); e != nil {
		return nil, e
	}
	now := s.now()
	tid := site.Tenant.ID
	st := site.Tenant.Settings
	var (
		ac      *tenants.AuthCode
		g       *tenants.Grant
		rt      string
		email   string
		fail    *Error
		reclaim bool // a second redemption: revoke the grant after the transaction
	)
	// One database transaction per exchange (docs/PERFORMANCE.md). It commits
	// whatever the checks say, so a failed exchange still burns the code.
	err := s.Store.InTx(ctx, func(tx tenants.Store) error {
		// One statement on Postgres: the code consumed, with its grant and
		// the user's email.
		got, err := tx.ConsumeAuthCode(ctx, tid, tenants.HashSecret(req.Code), now)
		switch {
		case errors.Is(err, tenants.ErrNotFound):
			fail = grantErr("unknown authorization code")
			return nil
		case errors.Is(err, tenants.ErrConflict) && got != nil:
			ac, reclaim = &got.Code, true
			return nil
		case err != nil:
			return err
		}
		ac, g, email = &got.Code, got.Grant, got.UserEmail
		if fail = checkCode(site, c, req, ac, now); fail != nil {
			return nil
		}
		if g == nil || g.RevokedAt != nil {
			fail = grantErr("authorization code was revoked")
			return nil
		}
		// The grant now lives as long as the refresh token may (absolute).
		g.ExpiresAt = now.Add(st.RefreshTTL())
		g.LastUsedAt = &now
		if err := tx.TouchGrant(ctx, g.TenantID, g.ID, now, &g.ExpiresAt); err != nil {
			return err
		}
		if allowsGrant(c, grantRT) {
			rt = tenants.RandomToken()
			row := &tenants.RefreshToken{TenantID: tid, Hash: tenants.HashSecret(rt), GrantID: g.ID, ClientID: c.ID, Generation: 1,
				CreatedAt: now, ExpiresAt: g.ExpiresAt, IdleExpiresAt: minTime(now.Add(st.RefreshIdle()), g.ExpiresAt), DPoPJKT: rtJKT(ctx, c)}
			if err := tx.CreateRefreshToken(ctx, row); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, serverError(err)
	case reclaim:
		if rerr := s.revokeGrant(ctx, tid, ac.GrantID, tenants.RevokedCodeReused); rerr != nil && !errors.Is(rerr, tenants.ErrNotFound) {
			return nil, serverError(rerr)
		}
		return nil, grantErr("authorization code was already used; every token issued from it is revoked")
	case fail != nil:
		return nil, fail
	}
	resp, e := s.issue(ctx, site, c, g, g.Scopes, email)
	if e != nil {
		return nil, e
	}
	resp.RefreshToken = rt
	s.touchClient(ctx, c)
	s.audit(ctx, tenants.AuditEvent{TenantID: tid, Action: tenants.ActTokenIssued, ClientID: c.ID, Subject: g.Subject,
		Details: tenants.JSONMap{tenants.DetailGrantID: g.ID, tenants.DetailGrantType: grantCode, tenants.DetailScopes: g.Scopes, tenants.DetailRefreshToken: resp.RefreshToken != "", tenants.DetailMode: site.Mode}})
	return resp, nil
}

// grantRequest checks what comes before any lookup: client c may use the
// grant, and the request carries param (value, a code or token) — one we
// could have issued (≤ 256 bytes), else it is unknown (named what).
func grantRequest(c *tenants.Client, grant, param, value, what string) *Error {
	switch {
	case !allowsGrant(c, grant):
		return newErr(ErrUnauthorizedClient, "this client is not registered for the %s grant", grant)
	case value == "":
		return newErr(ErrInvalidRequest, "%s is required", param)
	case len(value) > 256:
		return grantErr("unknown %s", what)
	}
	return nil
}

// checkCode checks a consumed code against the exchange request (RFC 6749
// §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2).
func checkCode(site tenants.Site, c *tenants.Client, req TokenRequest, ac *tenants.AuthCode, now time.Time) *Error {
	switch {
	case !now.Before(ac.ExpiresAt):
		return grantErr("authorization code expired")
	case ac.Issuer != site.Issuer:
		// A code redeems only at the site that issued it (docs/RULES.md §5), with
		// or without resource: a code from a custom domain must not mint a
		// token for the slug subdomain or the path-mode issuer.
		return grantErr("authorization code was issued by another issuer")
	case ac.ClientID != c.ID:
		return grantErr("authorization code was issued to another client")
	case req.RedirectURI != "" && req.RedirectURI != ac.RedirectURI:
		return grantErr("redirect_uri does not match the authorization request")
	case req.CodeVerifier == "":
		return grantErr("code_verifier is required (PKCE)")
	case !pkceMatches(req.CodeVerifier, ac.CodeChallenge):
		return grantErr("code_verifier does not match the code_challenge")
	case req.ResourcePresent && !(site.MatchesResource(ac.Resource) && site.MatchesResource(req.Resource)):
		return newErr(ErrInvalidTarget, "resource differs from the authorization request")
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// issue signs an access token (RFC 9068) for grant g; email is the grant's
// user's, or "".
func (s *Server) issue(ctx context.Context, site tenants.Site, c *tenants.Client, g *tenants.Grant, scopes []string, email string) (*TokenResponse, *Error) {
	now := s.now()
	ttl := site.Tenant.Settings.AccessTTL()
	claims := tokens.AccessClaims{Subject: g.Subject, Audience: site.Resource, ClientID: c.ID, Scope: strings.Join(scopes, " "),
		JTI: tenants.RandomID(), IssuedAt: now.Unix(), ExpiresAt: now.Add(ttl).Unix(), GrantID: g.ID, Email: email}
	if g.UserID == "" {
		// No user behind this grant (client_credentials): say so, so the
		// gateway forwards it as a client principal, never as a user.
		claims.GrantType = tokens.GrantTypeClientCredentials
	}
	tokenType := "Bearer"
	if jkt := dpopJKT(ctx); jkt != "" {
		claims.Confirmation, tokenType = &tokens.Confirmation{JKT: jkt}, "DPoP" // RFC 9449 §5, §6
	}
	at, err := tokens.IssueAccessToken(ctx, s.Keys, site, claims)
	if err != nil {
		return nil, serverError(err)
	}
	return &TokenResponse{AccessToken: at, TokenType: tokenType, ExpiresIn: int64(ttl.Seconds()), Scope: claims.Scope}, nil
}

// successors derive the token that replaces old: re-derivable (so a racing
// second refresh within the grace window gets the same value) but never
// stored. The first is derived under the current secret key and is the one
// a new rotation hands out; the others, under older keys still configured,
// are what a rotation made before a GATEHOUSE_SECRET_KEY change handed out.
func (s *Server) successors(grantID, old string) []string {
	macs := s.Sealer.MACs("refresh-successor", []byte(grantID+"|"+old))
	out := make([]string, len(macs))
	for i, m := range macs {
		out[i] = base64.RawURLEncoding.EncodeToString(m)
	}
	return out
}

// refresh rotates a refresh token (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): each
// use returns a new one; the previous one, presented again within the
// tenant's grace window, returns the same successor; presented later, it is
// reuse and revokes the whole grant.
func (s *Server) refresh(ctx context.Context, site tenants.Site, c *tenants.Client, req TokenRequest) (*TokenResponse, *Error) {
	if e := grantRequest(c, grantRT, "refresh_token", req.RefreshToken, "refresh token"); e != nil {
		return nil, e
	}
	now := s.now()
	tid := site.Tenant.ID
	st := site.Tenant.Settings
	oldHash := tenants.HashSecret(req.RefreshToken)
	var (
		rt     *tenants.RefreshToken
		g      *tenants.Grant
		scopes []string
		next   string
		email  string
		fail   *Error
		reused bool
	)
	// One database transaction per refresh (docs/PERFORMANCE.md): the reads,
	// the rotation and the use record commit together. What touches other
	// rows on failure (revoking the grant on reuse) runs after it.
	err := s.Store.InTx(ctx, func(tx tenants.Store) error {
		// One read: the token, its grant and the user's email.
		got, err := tx.GetRefreshTokenWithGrant(ctx, tid, oldHash)
		if errors.Is(err, tenants.ErrNotFound) {
			fail = grantErr("unknown refresh token")
			return nil
		}
		if err != nil {
			return err
		}
		rt, g, email = &got.Token, got.Grant, got.UserEmail
		if rt.ClientID != c.ID {
			fail = grantErr("refresh token was issued to another client")
			return nil
		}
		if rt.DPoPJKT != "" && rt.DPoPJKT != dpopJKT(ctx) {
			fail = grantErr("refresh token is bound to a DPoP key: send a DPoP proof made with that key (RFC 9449 §5)")
			return nil
		}
		if g == nil {
			fail = grantErr("refresh token was revoked")
			return nil
		}
		if !g.Live(now) {
			fail = grantErr("refresh token was revoked or expired")
			return nil
		}
		if !site.MatchesResource(g.Resource) {
			fail = grantErr("refresh token was issued for another issuer")
			return nil
		}
		if scopes, fail = refreshScopes(req, g); fail != nil {
			return nil
		}
		cands := s.successors(g.ID, req.RefreshToken)
		next = cands[0]
		// inGrace finds the successor a rotation of r handed out, if r was
		// rotated within the grace window: derived under any configured key,
		// so a key rotation in between does not turn a racing refresh into
		// reuse.
		inGrace := func(r *tenants.RefreshToken) (string, bool) {
			if r.RotatedAt == nil || st.RefreshGrace() <= 0 || now.Sub(*r.RotatedAt) > st.RefreshGrace() {
				return "", false
			}
			for _, c := range cands {
				if equalConst(r.SuccessorHash, tenants.HashSecret(c)) {
					return c, true
				}
			}
			return "", false
		}
		if rt.RotatedAt != nil {
			var ok bool
			if next, ok = inGrace(rt); !ok {
				reused = true
				return nil
			}
		} else {
			if !now.Before(rt.ExpiresAt) || !now.Before(rt.IdleExpiresAt) {
				fail = grantErr("refresh token expired")
				return nil
			}
			row := &tenants.RefreshToken{TenantID: tid, Hash: tenants.HashSecret(next), GrantID: g.ID, ClientID: c.ID, Generation: rt.Generation + 1,
				CreatedAt: now, ExpiresAt: rt.ExpiresAt, IdleExpiresAt: minTime(now.Add(st.RefreshIdle()), rt.ExpiresAt), DPoPJKT: rt.DPoPJKT}
			err := tx.RotateRefreshToken(ctx, tid, oldHash, row, now)
			if errors.Is(err, tenants.ErrConflict) {
				// Lost a race with a concurrent refresh of the same token.
				again, gerr := tx.GetRefreshToken(ctx, tid, oldHash)
				if gerr != nil {
					reused = true
					return nil
				}
				var ok bool
				if next, ok = inGrace(again); !ok {
					reused = true
					return nil
				}
			} else if err != nil {
				return err
			}
		}
		if stale(g.LastUsedAt, now) {
			if err := tx.TouchGrant(ctx, g.TenantID, g.ID, now, nil); err != nil {
				return err
			}
			g.LastUsedAt = &now
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, serverError(err)
	case fail != nil:
		return nil, fail
	case reused:
		if rerr := s.revokeGrant(ctx, tid, g.ID, tenants.RevokedRefreshReused); rerr != nil && !errors.Is(rerr, tenants.ErrNotFound) {
			return nil, serverError(rerr)
		}
		s.audit(ctx, tenants.AuditEvent{TenantID: tid, Action: tenants.ActRefreshReused, ClientID: c.ID, Subject: g.Subject, Outcome: tenants.OutcomeFailure,
			Reason: "refresh_reused", Details: tenants.JSONMap{tenants.DetailGrantID: g.ID, tenants.DetailGeneration: rt.Generation}})
		return nil, grantErr("refresh token was already used; the grant is revoked")
	}
	resp, e := s.issue(ctx, site, c, g, scopes, email)
	if e != nil {
		return nil, e
	}
	resp.RefreshToken = next
	s.touchClient(ctx, c)
	s.audit(ctx, tenants.AuditEvent{TenantID: tid, Action: tenants.ActTokenRefreshed, ClientID: c.ID, Subject: g.Subject,
		Details: tenants.JSONMap{tenants.DetailGrantID: g.ID, tenants.DetailGeneration: rt.Generation + 1, tenants.DetailScopes: scopes}})
	return resp, nil
}

// refreshScopes is the scope of a refreshed token: the grant's, or the
// subset asked for; more than the grant holds is invalid_scope (RFC 6749 §6).
func refreshScopes(req TokenRequest, g *tenants.Grant) ([]string, *Error) {
	scopes := []string(g.Scopes)
	if req.ScopePresent && strings.TrimSpace(req.Scope) != "" {
		var asked []string
		for _, sc := range strings.Fields(req.Scope) {
			if !ignoredScopes[sc] {
				asked = append(asked, sc)
			}
		}
		if !subset(asked, g.Scopes) {
			return nil, newErr(ErrInvalidScope, "a refresh cannot add scope beyond the original grant (RFC 6749 §6)")
		}
		if len(asked) > 0 {
			scopes = dedupe(asked)
		}
	}
	return scopes, nil
}

// clientCredentials issues a token to a confidential client acting for
// itself (RFC 6749 §4.4); no refresh token (§4.4.3). Tokens hang off the
// client's own grant (clientgrant.go), so they can be revoked and swept like
// any other. Only clients the tenant pre-registered may use it, and only
// while the tenant's client_credentials setting is on (docs/RULES.md §5): a client
// that registered itself is anyone on the internet. The token has no user:
// its grant has no user id (the gateway's access.Principal.Kind reads that),
// its sub is the client id and its gty claim says client_credentials.
func (s *Server) clientCredentials(ctx context.Context, site tenants.Site, c *tenants.Client, req TokenRequest) (*TokenResponse, *Error) {
	if e := clientCredentialsAllowed(site, c); e != nil {
		return nil, e
	}
	scopes, e := resolveScopes(req.Scope, req.ScopePresent, site.Tenant.Settings, c)
	if e != nil {
		return nil, e
	}
	g, err := s.clientGrant(ctx, site, c, scopes, s.now())
	if err != nil {
		return nil, serverError(err)
	}
	resp, e := s.issue(ctx, site, c, g, scopes, "")
	if e != nil {
		return nil, e
	}
	s.touchClient(ctx, c)
	s.audit(ctx, tenants.AuditEvent{TenantID: site.Tenant.ID, Action: tenants.ActTokenIssued, ClientID: c.ID, Subject: g.Subject,
		Details: tenants.JSONMap{tenants.DetailGrantID: g.ID, tenants.DetailGrantType: grantCC, tenants.DetailScopes: scopes}})
	return resp, nil
}

// clientCredentialsAllowed is the client_credentials rule of docs/RULES.md §5:
// a confidential client the tenant pre-registered for the grant, while the
// tenant's client_credentials setting is on.
func clientCredentialsAllowed(site tenants.Site, c *tenants.Client) *Error {
	switch {
	case c.Kind != tenants.ClientPreregistered:
		return newErr(ErrUnauthorizedClient, "client_credentials is only for clients the tenant pre-registered, never for registered or metadata-document clients")
	case !site.Tenant.Settings.ClientCredentials:
		return newErr(ErrUnauthorizedClient, "the client_credentials grant is turned off for this tenant (settings.client_credentials)")
	case !confidential(c):
		return newErr(ErrUnauthorizedClient, "client_credentials is for confidential clients")
	case !c.GrantTypes.Contains(grantCC):
		return newErr(ErrUnauthorizedClient, "this client is not registered for the client_credentials grant")
	}
	return nil
}
