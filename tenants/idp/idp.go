// Package idp logs a tenant's users in through its upstream identity
// provider: GitHub, Google, or any OIDC provider (golang.org/x/oauth2,
// coreos/go-oidc). The dev IdP has no upstream and is handled by the
// authorization server itself.
package idp

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/tenants"
)

// Identity is who logged in, as the upstream IdP says.
type Identity struct {
	// Issuer is the configured IdP's issuer (tenants.IdPConfig.Issuer):
	// users are keyed by it with the type and subject.
	Issuer        string
	Subject       string // stable upstream user id
	Email         string // verified email, or ""
	EmailVerified bool
	Name          string
	Username      string
	Orgs          []string // GitHub org logins (when allowed_orgs is set)
}

// Token is the upstream token kept (sealed) with the grant.
type Token = tenants.UpstreamToken

// Provider is one configured upstream IdP of a tenant.
type Provider interface {
	Type() string
	// AuthCodeURL is where the browser goes to log in. state is the pending
	// authorization id; nonce (OIDC) and the PKCE verifier are per flow.
	AuthCodeURL(state, nonce, verifier string) string
	// Exchange completes the login at the callback: it redeems code, checks
	// the id_token and nonce (OIDC), fetches the identity, and enforces the
	// tenant's allowed domains and orgs.
	Exchange(ctx context.Context, code, nonce, verifier string) (*Identity, *Token, error)
	// Refresh renews an upstream token with its refresh token. A token with
	// neither refresh token nor expiry (GitHub OAuth apps) comes back
	// unchanged; an expiring one without a refresh token is
	// ErrNoRefreshToken; a refresh token the IdP refuses for good is a
	// *LoginError with ReasonRefreshRejected. Where the IdP allows it, the
	// tenant's sign-in rules are checked again with the renewed token
	// (GitHub: org membership and verified emails; Google/OIDC: the
	// refreshed id_token, or userinfo): a user who no longer passes is a
	// *LoginError with ReasonOrgNotAllowed, ReasonDomainNotAllowed or
	// ReasonEmailUnverified (docs/SECURITY.md §11). Any other error is
	// transient.
	Refresh(ctx context.Context, t *Token) (*Token, error)
}

// LoginError is a login the upstream or the tenant's policy refused. Reason
// is a short code for the audit log; Message is safe to show the user.
type LoginError struct {
	Reason  string // e.g. "domain_not_allowed", "org_not_allowed", "upstream_error", "email_unverified"
	Message string
	Err     error
}

func (e *LoginError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *LoginError) Unwrap() error { return e.Err }

// ErrNotConfigured: the tenant has no such IdP.
var ErrNotConfigured = errors.New("identity provider not configured")

// Config is what building a provider needs.
type Config struct {
	IdP          *tenants.IdPConfig
	ClientSecret string // opened from IdP.ClientSecretSealed
	RedirectURL  string // {issuer}/oauth/callback
	// HTTPClient makes every upstream call (discovery, JWKS, token,
	// userinfo, GitHub API); nil means a plain client with a 15 s timeout.
	HTTPClient *http.Client
	// Endpoints overrides the well-known GitHub/Google endpoints (tests use an
	// httptest GitHub; production leaves it nil).
	Endpoints *Endpoints
}

// Endpoints of a non-OIDC provider (GitHub).
type Endpoints struct {
	AuthURL  string
	TokenURL string
	APIURL   string // e.g. https://api.github.com
	// Issuer overrides Google's OIDC issuer (tests point it at mockoidc);
	// GitHub ignores it and the oidc type uses IdP.IssuerURL.
	Issuer string
}

// LoginError reasons (audit log "reason").
const (
	ReasonDomainNotAllowed = "domain_not_allowed"
	ReasonEmailUnverified  = "email_unverified"
	ReasonOrgNotAllowed    = "org_not_allowed"
	ReasonUpstreamError    = "upstream_error"
	ReasonBadIDToken       = "bad_id_token"
	ReasonNonceMismatch    = "nonce_mismatch"
	// ReasonRefreshRejected: the upstream refused the refresh token
	// (revoked, expired, app deauthorized) — retrying will not help; other
	// Refresh errors (network, 5xx) are transient.
	ReasonRefreshRejected = "refresh_rejected"
)

// ErrNoRefreshToken is returned by Refresh for a token that expires but has
// no refresh token: it cannot be renewed, only replaced by a new login.
var ErrNoRefreshToken = errors.New("upstream token expires and has no refresh token")
