package oauth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/tenants"
)

// The jwt-bearer grant with an Identity Assertion JWT Authorization Grant
// (ID-JAG): RFC 7523 §2.1 as profiled by
// draft-ietf-oauth-identity-assertion-authz-grant §4.4 and MCP ext-auth
// Enterprise-Managed Authorization §5 (docs/RULES.md §11). An enterprise IdP the
// tenant trusts vouches for a user and a client; no login or consent page.

// TypIDJAG is the ID-JAG's JOSE typ (draft §3.1).
const TypIDJAG = "oauth-id-jag+jwt"

// MaxIDJAGLifetime bounds exp − iat: an ID-JAG is a short-lived bearer
// artifact (ext-auth §7.4.2); IdPs issue them for about 5 minutes.
const MaxIDJAGLifetime = 10 * time.Minute

// idjagClaims are the ID-JAG claims (draft §3.1).
type idjagClaims struct {
	Issuer   string           `json:"iss"`
	Subject  string           `json:"sub"`
	Audience stringOrList     `json:"aud"`
	Resource stringOrList     `json:"resource"`
	ClientID string           `json:"client_id"`
	Scope    *string          `json:"scope"`
	JTI      string           `json:"jti"`
	Expiry   *jwt.NumericDate `json:"exp"`
	IssuedAt *jwt.NumericDate `json:"iat"`
	NotBef   *jwt.NumericDate `json:"nbf"`
	Email    string           `json:"email"`
	Name     string           `json:"name"`
}

// EnterpriseTrusted reports whether the tenant trusts at least one
// enterprise IdP (the metadata advertises the grant only then).
func (s *Server) EnterpriseTrusted(ctx context.Context, tenantID string) bool {
	list, err := s.Store.ListEnterpriseIdPs(ctx, tenantID)
	return err == nil && len(list) > 0
}

// jwtBearer redeems an ID-JAG. Every refusal is invalid_grant (RFC 7523
// §3.1; ext-auth §7.6.2) or invalid_scope, audited as a refused
// token.issued with its reason, and leaves nothing issued; the jti is
// spent only once every other check has passed.
func (s *Server) jwtBearer(ctx context.Context, site tenants.Site, c *tenants.Client, req TokenRequest) (*TokenResponse, *Error) {
	tid := site.Tenant.ID
	issuer := ""
	refuse := func(reason string, e *Error) (*TokenResponse, *Error) {
		s.audit(ctx, tenants.AuditEvent{TenantID: tid, Action: tenants.ActTokenIssued, ClientID: c.ID, Outcome: tenants.OutcomeFailure, Reason: reason,
			Details: tenants.JSONMap{tenants.DetailGrantType: tenants.GrantJWTBearer, tenants.DetailGrantProfile: tenants.GrantProfileIDJAG,
				tenants.DetailEnterpriseIssuer: issuer, tenants.DetailError: e.Code, tenants.DetailErrorDesc: e.Description, tenants.DetailURLMode: site.Mode}})
		return nil, e
	}
	if req.Assertion == "" {
		return refuse(tenants.ReasonMalformed, newErr(ErrInvalidRequest, "assertion is required for the jwt-bearer grant"))
	}
	tok, err := parseAssertion(req.Assertion)
	if err != nil {
		return refuse(tenants.ReasonMalformed, grantErr("assertion must be a JWT signed with an asymmetric algorithm (RS*, PS*, ES*, EdDSA)"))
	}
	if !typIs(tok.Headers[0], TypIDJAG) {
		return refuse(tenants.ReasonWrongType, grantErr("assertion typ must be %s (an ID-JAG)", TypIDJAG))
	}
	var claimed idjagClaims
	if err := tok.UnsafeClaimsWithoutVerification(&claimed); err != nil {
		return refuse(tenants.ReasonMalformed, grantErr("assertion claims are not valid JSON claims"))
	}
	issuer = claimed.Issuer
	idp, err := s.Store.FindEnterpriseIdP(ctx, tid, claimed.Issuer)
	if errors.Is(err, tenants.ErrNotFound) {
		return refuse(tenants.ReasonUntrustedIssuer, grantErr("assertion issuer %q is not trusted by this server", truncate(claimed.Issuer, 200)))
	}
	if err != nil {
		return nil, serverError(err)
	}
	keys, err := s.enterpriseKeys(ctx, idp, tok.Headers[0].KeyID)
	if err != nil {
		return refuse(tenants.ReasonKeysUnavailable, &Error{Code: ErrInvalidGrant, Description: "the issuer's keys could not be fetched", Cause: err})
	}
	var cl idjagClaims
	if reason, err := verifyAssertion(tok, keys, &cl); err != nil {
		return refuse(reason, grantErr("assertion %s", err.Error()))
	}
	// From here on the claims are the issuer's own.
	now := s.now()
	switch {
	case cl.Subject == "", cl.JTI == "", cl.Expiry == nil, cl.IssuedAt == nil, cl.ClientID == "":
		return refuse(tenants.ReasonMissingClaim, grantErr("assertion must carry sub, jti, exp, iat and client_id"))
	case !cl.Audience.only(func(a string) bool { return a == site.Issuer }):
		return refuse(tenants.ReasonWrongAud, grantErr("assertion aud must be this authorization server's issuer %s", site.Issuer))
	case len(cl.Resource) > 0 && !cl.Resource.only(site.MatchesResource):
		return refuse(tenants.ReasonWrongResource, grantErr("assertion resource must be this server's MCP URL %s", site.Resource))
	case !now.Before(cl.Expiry.Time().Add(assertionSkew)):
		return refuse(tenants.ReasonExpired, grantErr("assertion expired"))
	case cl.IssuedAt.Time().After(now.Add(assertionSkew)), cl.NotBef != nil && cl.NotBef.Time().After(now.Add(assertionSkew)):
		return refuse(tenants.ReasonNotYetValid, grantErr("assertion is not valid yet (iat/nbf in the future)"))
	case cl.Expiry.Time().Sub(cl.IssuedAt.Time()) > MaxIDJAGLifetime:
		return refuse(tenants.ReasonLifetime, grantErr("assertion lifetime exceeds %s", MaxIDJAGLifetime))
	case cl.ClientID != c.ID:
		return refuse(tenants.ReasonClientMismatch, grantErr("assertion was issued to another client"))
	case !idp.AllowedClients.Contains(c.ID):
		return refuse(tenants.ReasonClientNotAllowed, newErr(ErrUnauthorizedClient, "this client may not redeem ID-JAGs of %s", idp.Issuer))
	}
	scopes, e := idjagScopes(req, cl.Scope, idp, site.Tenant.Settings)
	if e != nil {
		return refuse(tenants.ReasonScopeWidened, e)
	}
	if err := s.Store.UseJTI(ctx, tid, tenants.JTIKey("id-jag", cl.Issuer, cl.JTI), cl.Expiry.Time().Add(assertionSkew), now); err != nil {
		if errors.Is(err, tenants.ErrReplayed) {
			return refuse(tenants.ReasonReplayed, grantErr("assertion was already used (jti)"))
		}
		return nil, serverError(err)
	}
	u := &tenants.User{TenantID: tid, IdP: tenants.IdPEnterprise, IdPIssuer: cl.Issuer, IdPSubject: truncate(cl.Subject, 255),
		Email: truncate(cl.Email, 320), Name: truncate(cl.Name, 200)}
	if err := s.Store.UpsertUser(ctx, u); err != nil {
		return nil, serverError(err)
	}
	resp, g, e := s.issueGrant(ctx, site, c, &tenants.Grant{UserID: u.ID, Subject: u.ID, Scopes: scopes}, u.Email)
	if e != nil {
		return nil, e
	}
	s.audit(ctx, tenants.AuditEvent{TenantID: tid, Action: tenants.ActTokenIssued, ClientID: c.ID, Subject: u.ID,
		Details: tenants.JSONMap{tenants.DetailGrantID: g.ID, tenants.DetailGrantType: tenants.GrantJWTBearer, tenants.DetailGrantProfile: tenants.GrantProfileIDJAG,
			tenants.DetailEnterpriseIssuer: cl.Issuer, tenants.DetailScopes: scopes, "refresh_token": resp.RefreshToken != "", tenants.DetailURLMode: site.Mode}})
	return resp, nil
}

// enterpriseKeys returns the IdP's keys: its configured jwks_uri, else the
// one its metadata names; refetched once when kid is unknown (rotation).
func (s *Server) enterpriseKeys(ctx context.Context, idp *tenants.EnterpriseIdP, kid string) ([]jose.JSONWebKey, error) {
	if s.KeySets == nil {
		return nil, errors.New("key set fetching is not configured")
	}
	uri := idp.JWKSURI
	if uri == "" {
		var err error
		if uri, err = s.KeySets.DiscoverJWKSURI(ctx, idp.Issuer); err != nil {
			return nil, err
		}
	}
	keys, err := s.KeySets.Keys(ctx, uri, false)
	if err == nil && kid != "" && !hasKid(keys, kid) {
		keys, err = s.KeySets.Keys(ctx, uri, true)
	}
	return keys, err
}

// idjagScopes is the scope of the access token: what the request asks (or,
// absent, what the ID-JAG carries; absent too, the tenant's default
// scopes), which must lie within the ID-JAG's scope — asking more is
// invalid_scope, never silently granted (ext-auth §7.2.1) — then narrowed
// to the IdP's maximum and the tenant's offered scopes.
func idjagScopes(req TokenRequest, jagScope *string, idp *tenants.EnterpriseIdP, st tenants.Settings) ([]string, *Error) {
	var jag []string
	if jagScope != nil {
		jag = strings.Fields(*jagScope)
	} else {
		jag = st.DefaultScopeList()
	}
	base := jag
	if req.ScopePresent && strings.TrimSpace(req.Scope) != "" {
		var asked []string
		for _, sc := range strings.Fields(req.Scope) {
			if !ignoredScopes[sc] {
				asked = append(asked, sc)
			}
		}
		if !subset(asked, jag) {
			return nil, newErr(ErrInvalidScope, "the requested scope exceeds the scope of the ID-JAG")
		}
		if len(asked) > 0 {
			base = asked
		}
	}
	max := tenants.Strings(idp.MaxScopes(st))
	offered := tenants.Strings(st.OfferedScopes())
	var out []string
	for _, sc := range dedupe(base) {
		if max.Contains(sc) && offered.Contains(sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, newErr(ErrInvalidScope, "none of the ID-JAG's scopes may be granted by this server for %s", idp.Issuer)
	}
	return out, nil
}

// issueGrant creates grant g (tenant, id, client, resource and lifetime
// filled in) for a grant that needs no code, signs its access token and,
// when the client holds the refresh_token grant, its first refresh token.
func (s *Server) issueGrant(ctx context.Context, site tenants.Site, c *tenants.Client, g *tenants.Grant, email string) (*TokenResponse, *tenants.Grant, *Error) {
	now := s.now()
	st := site.Tenant.Settings
	withRT := allowsGrant(c, grantRT)
	g.TenantID, g.ID, g.ClientID, g.Resource, g.CreatedAt, g.LastUsedAt = site.Tenant.ID, tenants.RandomID(), c.ID, site.Resource, now, &now
	g.ExpiresAt = now.Add(st.AccessTTL())
	if withRT {
		g.ExpiresAt = now.Add(st.RefreshTTL())
	}
	rt := ""
	// The grant and its first refresh token commit together (one
	// transaction per token request, docs/PERFORMANCE.md).
	err := s.Store.InTx(ctx, func(tx tenants.Store) error {
		if err := tx.CreateGrant(ctx, g); err != nil {
			return err
		}
		if !withRT {
			return nil
		}
		rt = tenants.RandomToken()
		return tx.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: g.TenantID, Hash: tenants.HashSecret(rt), GrantID: g.ID, ClientID: c.ID, Generation: 1,
			CreatedAt: now, ExpiresAt: g.ExpiresAt, IdleExpiresAt: minTime(now.Add(st.RefreshIdle()), g.ExpiresAt), DPoPJKT: rtJKT(ctx, c)})
	})
	if err != nil {
		return nil, nil, serverError(err)
	}
	resp, e := s.issue(ctx, site, c, g, g.Scopes, email)
	if e != nil {
		return nil, nil, e
	}
	resp.RefreshToken = rt
	s.touchClient(ctx, c)
	return resp, g, nil
}
