package access

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// Identity headers the gateway adds upstream (docs/RULES.md §6). Incoming headers
// that read as HeaderPrefix are always stripped first
// (tenants.DropClientHeader), so the upstream can trust them.
const (
	HeaderPrefix        = tenants.IdentityHeaderPrefix
	HeaderPrincipal     = "X-Gatehouse-Principal"
	HeaderTenant        = "X-Gatehouse-Tenant"
	HeaderSubject       = "X-Gatehouse-Subject"
	HeaderEmail         = "X-Gatehouse-Email"
	HeaderClientID      = "X-Gatehouse-Client-Id"
	HeaderScopes        = "X-Gatehouse-Scopes"
	HeaderAssertion     = "X-Gatehouse-Assertion"
	HeaderUpstreamToken = "X-Gatehouse-Upstream-Token"
)

// Principal kinds (HeaderPrincipal, the assertion's "principal" claim).
const (
	// PrincipalUser: a person logged in through the tenant's IdP.
	PrincipalUser = "user"
	// PrincipalClient: a client acting for itself (client_credentials): no
	// user, so no Subject or Email is sent (docs/SECURITY.md §1).
	PrincipalClient = "client"
)

// AssertionTTL is the lifetime of an X-Gatehouse-Assertion.
const AssertionTTL = 60 * time.Second

// AssertionClaims are the claims of the upstream identity assertion, a JWT
// (typ tokens.TypAssertion) signed with the tenant's current key and
// verifiable with the tenant's JWKS ({issuer}/jwks.json). See docs/UPSTREAM.md.
type AssertionClaims struct {
	Issuer string `json:"iss"`
	// Principal is PrincipalUser or PrincipalClient.
	Principal string `json:"principal"`
	// Subject is the user's id; absent for a client principal.
	Subject   string `json:"sub,omitempty"`
	Audience  string `json:"aud"` // the tenant's upstream MCP URL
	ClientID  string `json:"client_id"`
	Scope     string `json:"scope"`
	Email     string `json:"email,omitempty"`
	Tenant    string `json:"tenant"` // slug
	JTI       string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	ExpiresAt int64  `json:"exp"`
}

// assertionReuse is how long one assertion serves repeated requests of the
// same access token to the same upstream: signing is a large share of the
// gateway's per-request cost, and a reused assertion still has at least
// AssertionTTL-assertionReuse (30 s) left when the upstream reads it.
const assertionReuse = 30 * time.Second

// Identity builds what the gateway attaches to a forwarded request.
type Identity struct {
	Keys   *keys.Manager
	Sealer *tenants.Sealer
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu     sync.Mutex
	signed map[string]signedAssertion
}

type signedAssertion struct {
	jwt string
	iat time.Time
}

// Forwarded is the identity for one upstream request.
type Forwarded struct {
	Header http.Header
	// UpstreamTokenErr is set when the tenant forwards upstream tokens and
	// this grant's could not be used (not fatal: the header is left out).
	UpstreamTokenErr error
	// StaticHeadersErr is set when the tenant's static headers could not be
	// opened (not fatal: they are left out).
	StaticHeadersErr error
}

// Build returns the identity headers for p calling upstreamURL through site.
// Only a failure to sign the assertion is an error.
func (id *Identity) Build(ctx context.Context, site tenants.Site, p *Principal, upstreamURL string) (*Forwarded, error) {
	now := time.Now
	if id.Now != nil {
		now = id.Now
	}
	t := site.Tenant
	c := p.Claims
	kind := p.Kind()
	jwt, err := id.assertion(ctx, site, c, kind, upstreamURL, now())
	if err != nil {
		return nil, err
	}
	// The names are canonical constants and the values share one array
	// (one allocation, not one per header: this runs on every request).
	h := make(http.Header, 8)
	vals := make([]string, 0, 7)
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	set(HeaderTenant, t.Slug)
	set(HeaderPrincipal, kind)
	if kind == PrincipalUser {
		set(HeaderSubject, headerSafe(c.Subject))
		if c.Email != "" {
			set(HeaderEmail, headerSafe(c.Email))
		}
	}
	set(HeaderClientID, headerSafe(c.ClientID))
	set(HeaderScopes, headerSafe(c.Scope))
	set(HeaderAssertion, jwt)

	f := &Forwarded{Header: h}
	if t.Settings.ForwardUpstreamToken && p.Grant != nil && p.Grant.UpstreamTokenSealed != "" {
		tok, err := id.upstreamToken(p.Grant, now())
		if err != nil {
			f.UpstreamTokenErr = err
		} else if tok != "" {
			h.Set(HeaderUpstreamToken, tok)
		}
	}
	if sealed := t.SealedSecrets[tenants.SecretUpstreamHeaders]; sealed != "" && id.Sealer != nil {
		raw, err := tenants.OpenTenantSecret(id.Sealer, t, tenants.SecretUpstreamHeaders)
		var m map[string]string
		if err == nil {
			err = json.Unmarshal([]byte(raw), &m)
		}
		if err != nil {
			f.StaticHeadersErr = fmt.Errorf("open upstream_headers: %w", err)
		}
		for k, v := range m {
			if staticHeaderAllowed(k) && headerSafe(v) == v {
				h.Set(k, v)
			}
		}
	}
	return f, nil
}

// assertion signs (or reuses, within assertionReuse) the assertion for one
// access token calling one upstream.
func (id *Identity) assertion(ctx context.Context, site tenants.Site, c *tokens.AccessClaims, kind, upstreamURL string, now time.Time) (string, error) {
	key := site.Tenant.ID + "\x00" + site.Issuer + "\x00" + c.GrantID + "\x00" + c.JTI + "\x00" + c.Scope + "\x00" + kind + "\x00" + upstreamURL
	id.mu.Lock()
	sa, ok := id.signed[key]
	id.mu.Unlock()
	if ok && c.JTI != "" && now.Sub(sa.iat) < assertionReuse && !now.Before(sa.iat) {
		return sa.jwt, nil
	}
	iat := now.Unix()
	a := AssertionClaims{Issuer: site.Issuer, Principal: kind, Audience: upstreamURL, ClientID: c.ClientID, Scope: c.Scope,
		Tenant: site.Tenant.Slug, JTI: tenants.RandomID(), IssuedAt: iat, NotBefore: iat, ExpiresAt: iat + int64(AssertionTTL/time.Second)}
	if kind == PrincipalUser {
		a.Subject, a.Email = c.Subject, c.Email
	}
	jwt, err := id.Keys.Sign(ctx, site.Tenant.ID, tokens.TypAssertion, a)
	if err != nil {
		return "", fmt.Errorf("sign identity assertion: %w", err)
	}
	id.mu.Lock()
	if id.signed == nil || len(id.signed) >= maxCacheEntries {
		id.signed = map[string]signedAssertion{}
	}
	id.signed[key] = signedAssertion{jwt: jwt, iat: time.Unix(iat, 0)}
	id.mu.Unlock()
	return jwt, nil
}

func (id *Identity) upstreamToken(g *tenants.Grant, now time.Time) (string, error) {
	if id.Sealer == nil {
		return "", fmt.Errorf("no sealer configured")
	}
	t, err := tenants.OpenUpstreamToken(id.Sealer, g)
	if err != nil {
		return "", err
	}
	if !t.Expiry.IsZero() && !now.Before(t.Expiry) {
		return "", fmt.Errorf("upstream token expired at %s (refresh pending or failed)", t.Expiry.UTC().Format(time.RFC3339))
	}
	if headerSafe(t.AccessToken) != t.AccessToken {
		return "", fmt.Errorf("upstream token is not a valid header value")
	}
	return t.AccessToken, nil
}

// staticHeaderAllowed refuses names that would break the transport or the
// gateway's guarantees (identity, session and framing headers).
func staticHeaderAllowed(name string) bool {
	k := http.CanonicalHeaderKey(name)
	if tenants.IsIdentityHeader(k) || strings.HasPrefix(k, "Mcp-") || strings.HasPrefix(k, "Proxy-") {
		return false
	}
	switch k {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer", "Keep-Alive",
		"Content-Type", "Accept", "Accept-Encoding", "Last-Event-Id", "Cookie":
		return false
	}
	return true
}

// headerSafe drops control characters so a value cannot split headers.
func headerSafe(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
