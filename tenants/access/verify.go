// Package access decides who may use a tenant's MCP connector URL
// (docs/RULES.md §6): it parses the Authorization header (RFC 6750 §2.1), verifies the
// access token (tenants/tokens), checks that its grant is still live through
// a short cache that Bus notices invalidate, applies the tenant's per-tool
// scope policy to JSON-RPC bodies, builds the WWW-Authenticate challenges,
// and builds the identity the gateway forwards upstream (headers and the
// signed X-Gatehouse-Assertion).
//
// It imports no HTTP framework; the gateway (api/gateway) is a thin shell
// around it.
package access

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/stale"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// DefaultLiveTTL bounds how long a replica trusts a cached grant state when
// a revocation notice is lost: revocation reaches every replica within 5 s
// even without the Bus (docs/RULES.md §6).
const DefaultLiveTTL = 4 * time.Second

// maxCacheEntries caps the liveness cache; past it the cache is dropped
// (it refills from the store at one read per grant per TTL).
const maxCacheEntries = 100_000

// RFC 6750 §3.1 error codes.
const (
	ErrCodeInvalidRequest    = "invalid_request"
	ErrCodeInvalidToken      = "invalid_token"
	ErrCodeInsufficientScope = "insufficient_scope"
)

// Options for NewVerifier; nil means defaults.
type Options struct {
	// LiveTTL is how long a grant's state is cached (default 4 s; at most 5 s
	// is what docs/RULES.md §6 allows for a lost notice).
	LiveTTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
	// MaxStale: while the store fails or is slower than Budget, a grant
	// state up to this old is served (default 5 min). A revocation notice
	// still drops it at once.
	MaxStale time.Duration
	// Budget bounds how long a request waits on the store for a grant
	// whose previous state is cached (default 250 ms).
	Budget time.Duration
	// FeedTTL is how long a grant state is trusted while the revocation
	// feed is followed and current (default DefaultFeedTTL; feed.go).
	FeedTTL time.Duration
}

// DefaultMaxStale is how long a cached grant state is served while the
// database cannot answer.
const DefaultMaxStale = 5 * time.Minute

// Verifier authenticates bearer requests for tenant sites. Safe for
// concurrent use; one per process.
type Verifier struct {
	store tenants.OAuthStore
	keys  *keys.Manager
	ttl   time.Duration
	now   func() time.Time

	// live caches grant state by "<tenant> <grant>" (nil: no such grant).
	// The signature check is cached by keys.Manager, with the key set that
	// verified it (a rotated-out key's tokens are not remembered past it).
	live *stale.Cache[*tenants.Grant]
	feed feed
}

// NewVerifier returns a Verifier reading grants from store and keys from km.
func NewVerifier(store tenants.OAuthStore, km *keys.Manager, opts *Options) *Verifier {
	v := &Verifier{store: store, keys: km, ttl: DefaultLiveTTL, now: time.Now}
	v.feed.ttl = DefaultFeedTTL
	so := stale.Options{MaxStale: DefaultMaxStale, MaxEntries: maxCacheEntries}
	if opts != nil {
		if opts.LiveTTL > 0 {
			v.ttl = opts.LiveTTL
		}
		if opts.Now != nil {
			v.now = opts.Now
		}
		if opts.MaxStale > 0 {
			so.MaxStale = opts.MaxStale
		}
		so.Wait = opts.Budget
		if opts.FeedTTL > 0 {
			v.feed.ttl = opts.FeedTTL
		}
	}
	so.TTL, so.Now = v.ttl, v.now
	v.live = stale.New[*tenants.Grant](so)
	return v
}

// ForgetGrant drops the cached state of the grant a grant-revoked notice
// names (tenants.GrantRevokedPayload). The composition root subscribes it,
// so a revocation through any replica drops the state everywhere.
func (v *Verifier) ForgetGrant(payload string) {
	if tenantID, grantID, ok := tenants.ParseGrantRevoked(payload); ok {
		v.Forget(tenantID, grantID)
	}
}

// Forget drops a grant's cached state.
func (v *Verifier) Forget(tenantID, grantID string) {
	v.live.Forget(tenantID + " " + grantID)
}

// Principal is an authenticated caller.
type Principal struct {
	Claims *tokens.AccessClaims
	// Grant is the (cached) grant the token hangs off.
	Grant *tenants.Grant
}

// Kind is PrincipalClient for a grant with no user (client_credentials:
// tenants/oauth mints those without a user id), PrincipalUser otherwise.
func (p *Principal) Kind() string {
	if p.Grant != nil && p.Grant.UserID == "" {
		return PrincipalClient
	}
	return PrincipalUser
}

// Denial is a refused request: what to answer and what to audit.
type Denial struct {
	// Status is the HTTP status (401, 400 or 403).
	Status int
	// Reason is the mcp.denied audit reason (tenants.Reason*).
	Reason string
	// Code is the RFC 6750 error code, "" when the request carried no
	// bearer credentials at all (RFC 6750 §3.1: no error code then).
	Code string
	// Description is a short, client-safe explanation (error_description).
	Description string
	// Scope is the scope to name in the challenge: the needed scope for
	// insufficient_scope, the tenant's default scopes otherwise.
	Scope string
	// ClientID and Subject of the token, when its signature verified.
	ClientID string
	Subject  string
	// Audience the token carries, when its signature verified but it was
	// issued for another resource (reason wrong_audience).
	Audience string
	// Scheme is "DPoP" when the error belongs to the DPoP scheme (RFC 9449
	// §7.1); OfferDPoP adds a DPoP challenge beside the Bearer one.
	Scheme    string
	OfferDPoP bool
}

func deny(status int, reason, code, desc string) *Denial {
	return &Denial{Status: status, Reason: reason, Code: code, Description: desc}
}

// BearerToken extracts the token from the request's Authorization header
// values (RFC 6750 §2.1). On failure it returns the denial to answer:
//   - no header: 401, reason no_header, no error code (RFC 6750 §3.1);
//   - another scheme (e.g. Basic): 401, reason malformed, no error code
//     (an unsupported authentication method is "lacking credentials");
//   - "Bearer" with no token: 401 invalid_token (a client without a token
//     must be sent to discovery, which a 400 would not do);
//   - several Authorization headers or several tokens, or characters outside
//     b64token: 400 invalid_request (RFC 6750 §3.1).
func BearerToken(values []string) (string, *Denial) {
	if len(values) == 0 {
		return "", deny(http.StatusUnauthorized, tenants.ReasonNoHeader, "", "")
	}
	if len(values) > 1 {
		return "", deny(http.StatusBadRequest, tenants.ReasonMalformed, ErrCodeInvalidRequest, "more than one Authorization header")
	}
	h := strings.TrimSpace(values[0])
	if h == "" {
		return "", deny(http.StatusUnauthorized, tenants.ReasonNoHeader, "", "")
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		d := deny(http.StatusUnauthorized, tenants.ReasonMalformed, "", "")
		d.Description = "authentication scheme is not Bearer"
		return "", d
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return "", deny(http.StatusUnauthorized, tenants.ReasonMalformed, ErrCodeInvalidToken, "empty bearer token")
	}
	if strings.ContainsAny(rest, " \t") {
		return "", deny(http.StatusBadRequest, tenants.ReasonMalformed, ErrCodeInvalidRequest, "more than one bearer token")
	}
	if !isB64Token(rest) {
		return "", deny(http.StatusBadRequest, tenants.ReasonMalformed, ErrCodeInvalidRequest, "bearer token has characters outside b64token (RFC 6750 section 2.1)")
	}
	return rest, nil
}

// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
func isB64Token(s string) bool {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		if !b64tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// b64tokenByte marks the bytes of a b64token before its "=" padding: a
// table, because every gateway request scans its whole token.
var b64tokenByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", byte(c)) >= 0
	}
	return t
}()

var descriptions = map[string]string{
	tenants.ReasonMalformed:    "the access token is malformed",
	tenants.ReasonBadSignature: "the access token signature is invalid or its algorithm is not allowed",
	tenants.ReasonUnknownKey:   "the access token was signed by a key this resource does not know",
	tenants.ReasonWrongAud:     "the access token was not issued for this resource",
	tenants.ReasonExpired:      "the access token expired",
	tenants.ReasonRevoked:      "the access token's grant was revoked",
}

// Authenticate checks the request's Authorization header values for site.
// It returns the principal, or the denial to answer; err is an
// infrastructure failure (store or keys unreachable), not a bad token.
func (v *Verifier) Authenticate(ctx context.Context, site tenants.Site, authorization []string) (*Principal, *Denial, error) {
	raw, d := BearerToken(authorization)
	if d != nil {
		return nil, d, nil
	}
	now := v.now()
	claims, err := tokens.VerifyAccessToken(ctx, v.keys, site, raw, now)
	if err != nil {
		var ve *tokens.VerifyError
		if !errors.As(err, &ve) {
			return nil, nil, err
		}
		d := deny(http.StatusUnauthorized, ve.Reason, ErrCodeInvalidToken, descriptions[ve.Reason])
		if c := ve.Claims; c != nil {
			d.ClientID, d.Subject = c.ClientID, c.Subject
			if ve.Reason == tenants.ReasonWrongAud {
				d.Audience = c.Audience
			}
		}
		return nil, d, nil
	}
	g, err := v.grant(ctx, site.Tenant.ID, claims.GrantID)
	if err != nil {
		return nil, nil, err
	}
	if g == nil || !g.Live(now) || g.ClientID != claims.ClientID {
		d := deny(http.StatusUnauthorized, tenants.ReasonRevoked, ErrCodeInvalidToken, descriptions[tenants.ReasonRevoked])
		d.ClientID, d.Subject = claims.ClientID, claims.Subject
		return nil, d, nil
	}
	return &Principal{Claims: claims, Grant: g}, nil, nil
}

// GrantLive reports whether a grant is still live, through the same cache
// (the gateway re-checks open streams with it). An error is a store failure.
func (v *Verifier) GrantLive(ctx context.Context, tenantID, grantID string) (bool, error) {
	g, err := v.grant(ctx, tenantID, grantID)
	if err != nil {
		return false, err
	}
	return g != nil && g.Live(v.now()), nil
}

// TTL is the liveness cache TTL in effect.
func (v *Verifier) TTL() time.Duration { return v.ttl }

// grant returns the grant (nil if it does not exist), cached for the TTL;
// while the store fails or is slow, the last state is served (stale.Cache).
func (v *Verifier) grant(ctx context.Context, tenantID, grantID string) (*tenants.Grant, error) {
	now := v.now()
	v.feedBehind(now)
	key := tenantID + " " + grantID
	load := func(ctx context.Context) (*tenants.Grant, error) {
		g, err := v.store.GetGrant(ctx, tenantID, grantID)
		if errors.Is(err, tenants.ErrNotFound) {
			return nil, nil
		}
		return g, err
	}
	g, _, err := v.live.Get(ctx, key, load)
	if err == nil && g != nil && g.RevokedAt == nil && !now.Before(g.ExpiresAt) {
		// Expired as cached: use may have moved its expiry (TouchGrant)
		// since, so ask once more before refusing.
		v.live.Forget(key)
		g, _, err = v.live.Get(ctx, key, load)
	}
	return g, err
}
