package idp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/egress"
)

// NewHTTPClient is the client every upstream IdP call goes through, in the
// server and in the workers (discovery, JWKS, token, userinfo, GitHub API):
// the outbound address policy (tenants/egress) checked at dial time, https
// only, redirects followed only on the same host, 15 s per call so a slow
// IdP cannot hold a login (or a worker) forever. allowPrivate is
// GATEHOUSE_ALLOW_PRIVATE_FETCH (tests): loopback and private addresses and
// http are then allowed; link-local and metadata addresses never are.
func NewHTTPClient(allowPrivate bool) *http.Client {
	return egress.NewClient(egress.Options{Policy: egress.Policy{AllowPrivate: allowPrivate}, Timeout: 15 * time.Second,
		HTTPSOnly: !allowPrivate, Redirects: egress.SameHost})
}

// defaultHTTPClient is used when Config.HTTPClient is nil: the strict policy.
var defaultHTTPClient = NewHTTPClient(false)

// New builds the Provider for cfg.IdP. OIDC types (google, oidc) discover
// the issuer here (cached per issuer, see DiscoveryTTL), so New can fail
// when the issuer is unreachable. The dev IdP has no upstream: New answers
// ErrNotConfigured for it.
func New(ctx context.Context, cfg Config) (Provider, error) {
	if cfg.IdP == nil {
		return nil, ErrNotConfigured
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient
	}
	switch cfg.IdP.Type {
	case tenants.IdPGitHub:
		return newGitHub(cfg), nil
	case tenants.IdPGoogle:
		issuer := GoogleIssuer
		if cfg.Endpoints != nil && cfg.Endpoints.Issuer != "" {
			issuer = cfg.Endpoints.Issuer
		}
		return newOIDC(ctx, cfg, tenants.IdPGoogle, issuer)
	case tenants.IdPOIDC:
		// Checked when saved, and again here: a row written before the rule
		// (or by hand) must not pick the fetched path with a query. The
		// scheme is the client's to refuse (https unless private fetch).
		if msg := tenants.ValidateIssuerURL(cfg.IdP.IssuerURL, true); msg != "" {
			return nil, fmt.Errorf("idp: oidc issuer_url %s", msg)
		}
		return newOIDC(ctx, cfg, tenants.IdPOIDC, cfg.IdP.IssuerURL)
	default:
		return nil, fmt.Errorf("%w: type %q has no upstream provider", ErrNotConfigured, cfg.IdP.Type)
	}
}

// clientContext carries the configured HTTP client to x/oauth2 and go-oidc
// (both read the oauth2.HTTPClient context value).
func clientContext(ctx context.Context, hc *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

// pkceOption adds the S256 challenge when the flow has a verifier.
func pkceChallenge(verifier string) []oauth2.AuthCodeOption {
	if verifier == "" {
		return nil
	}
	return []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
}

func pkceVerifier(verifier string) []oauth2.AuthCodeOption {
	if verifier == "" {
		return nil
	}
	return []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}
}

// scopesOr returns the configured scopes, or def when none are configured,
// plus each of required that is missing.
func scopesOr(configured, def []string, required ...string) []string {
	out := append([]string(nil), configured...)
	if len(out) == 0 {
		out = append(out, def...)
	}
	for _, r := range required {
		if !containsFold(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// emailDomain is tenants.EmailDomain.
func emailDomain(email string) string { return tenants.EmailDomain(email) }

// checkDomain enforces the tenant's allowed email domains: with a non-empty
// list the email must be verified and its domain listed (exact,
// case-insensitive; subdomains are not implied).
func checkDomain(cfg *tenants.IdPConfig, email string, verified bool) error {
	if len(cfg.AllowedDomains) == 0 {
		return nil
	}
	if email == "" || !verified {
		return &LoginError{Reason: ReasonEmailUnverified,
			Message: "This sign-in requires a verified email address, and your account has none."}
	}
	d := emailDomain(email)
	if !cfg.DomainAllowed(email) {
		return &LoginError{Reason: ReasonDomainNotAllowed,
			Message: fmt.Sprintf("Accounts with %q email addresses may not sign in here.", d)}
	}
	return nil
}

// upstreamError describes an OAuth error answer without its body: bodies
// can echo the code or token that was sent (mockoidc does), and LoginError
// text ends up in logs.
type upstreamError struct {
	Status int
	Code   string
}

func (e *upstreamError) Error() string {
	return fmt.Sprintf("token endpoint answered HTTP %d error %q", e.Status, e.Code)
}

// sanitize reduces err to something safe to log: an *oauth2.RetrieveError
// (whose Error() prints the response body) becomes an *upstreamError.
func sanitize(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code := re.ErrorCode
		if len(code) > 64 {
			code = code[:64]
		}
		return &upstreamError{Status: status, Code: code}
	}
	return err
}

// exchangeError turns a failed code exchange into a LoginError.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return &LoginError{Reason: ReasonUpstreamError,
			Message: "The identity provider refused to complete the sign-in. Please try again.", Err: sanitize(err)}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &LoginError{Reason: ReasonUpstreamError,
		Message: "The identity provider could not be reached. Please try again.", Err: err}
}

// refreshRejectedCodes are token-endpoint errors that mean the refresh
// token itself is dead (RFC 6749 §5.2 invalid_grant; GitHub answers
// bad_refresh_token). Client-authentication errors are not among them: a
// wrong IdP client secret is the operator's to fix, and the users' refresh
// tokens work again once it is.
var refreshRejectedCodes = map[string]bool{"invalid_grant": true, "bad_refresh_token": true}

// refreshToken renews t at oc's token endpoint. A token with neither a
// refresh token nor an expiry (GitHub OAuth apps) is returned unchanged.
func refreshToken(ctx context.Context, oc *oauth2.Config, hc *http.Client, t *Token) (*Token, error) {
	nt, _, err := refreshRaw(ctx, oc, hc, t)
	return nt, err
}

// refreshRaw is refreshToken that also returns the token endpoint's answer
// (nil when t came back unchanged), for its id_token.
func refreshRaw(ctx context.Context, oc *oauth2.Config, hc *http.Client, t *Token) (*Token, *oauth2.Token, error) {
	if t == nil {
		return nil, nil, errors.New("idp: refresh of a nil token")
	}
	if t.RefreshToken == "" {
		if t.Expiry.IsZero() {
			c := *t
			return &c, nil, nil
		}
		return nil, nil, ErrNoRefreshToken
	}
	// Only the refresh token is passed, so x/oauth2 always refreshes (a
	// still-valid access token would otherwise be returned as is; workers
	// refresh ahead of expiry).
	nt, err := oc.TokenSource(clientContext(ctx, hc), &oauth2.Token{RefreshToken: t.RefreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && refreshRejectedCodes[re.ErrorCode] {
			return nil, nil, &LoginError{Reason: ReasonRefreshRejected,
				Message: "The identity provider no longer accepts this session; sign in again.", Err: sanitize(err)}
		}
		return nil, nil, fmt.Errorf("idp: refresh: %w", sanitize(err))
	}
	return fromOAuth2(nt), nt, nil
}

func fromOAuth2(t *oauth2.Token) *Token {
	return &Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry}
}

// recheckError keeps a policy refusal found at refresh (the user no longer
// passes the tenant's rules: permanent) apart from a failure to ask (the
// IdP's API answered badly: transient, retried next period).
func recheckError(err error) error {
	var le *LoginError
	if errors.As(err, &le) && (le.Reason == ReasonUpstreamError || le.Reason == ReasonBadIDToken) {
		if le.Err != nil {
			return fmt.Errorf("idp: re-checking the user at refresh: %s: %w", le.Message, le.Err)
		}
		return fmt.Errorf("idp: re-checking the user at refresh: %s", le.Message)
	}
	return err
}
