package idp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/tenants/egress"
	"github.com/gatehouse/gatehouse/tenants/stale"
)

// DiscoveryTTL is how long a discovered OIDC provider (its metadata and,
// inside go-oidc, its JWKS cache) is reused before discovery runs again.
const DiscoveryTTL = time.Hour

// discoveryMax bounds the cache (one entry per issuer).
const discoveryMax = 4096

// providers caches discovered providers by issuer (tenants/stale: one
// discovery per issuer however many sign-ins wait for it, bounded, a
// failed discovery never kept and never served stale — the next sign-in
// tries again). The provider keeps the HTTP client of the call that
// discovered it for its JWKS fetches; a deployment uses one client
// configuration for all upstream calls, so sharing it is fine (and keying
// by client pointer would miss whenever a caller builds a client per
// request).
var providers = newProviderCache(time.Now, discoveryMax)

func newProviderCache(now func() time.Time, max int) *stale.Cache[*oidc.Provider] {
	return stale.New[*oidc.Provider](stale.Options{TTL: DiscoveryTTL, MaxEntries: max, Now: now})
}

// discover returns the cached provider for issuer or runs OIDC discovery.
func discover(ctx context.Context, hc *http.Client, issuer string) (*oidc.Provider, error) {
	p, _, err := providers.Get(ctx, issuer, func(ctx context.Context) (*oidc.Provider, error) {
		return newProvider(ctx, hc, issuer)
	})
	return p, err
}

// newProvider runs discovery. Discovery never follows a redirect (the
// document must be at the issuer itself; a redirect could point the fetch
// anywhere), and the provider keeps that client for its JWKS fetches.
// Endpoints the document names are fetched later through the same policy
// client, which checks their addresses at dial time. Provisioning trims a trailing slash from
// issuer_url, but some issuers (Auth0) publish it with one: when the only
// difference is that slash, the published issuer is used (it is what the
// id_tokens' iss carries).
func newProvider(ctx context.Context, hc *http.Client, issuer string) (*oidc.Provider, error) {
	ctx = oidc.ClientContext(ctx, egress.WithoutRedirects(hc))
	p, err := oidc.NewProvider(ctx, issuer)
	var mismatch *oidc.IssuerMismatchError
	if errors.As(err, &mismatch) && strings.TrimRight(mismatch.Discovered, "/") == strings.TrimRight(issuer, "/") {
		return oidc.NewProvider(ctx, mismatch.Discovered)
	}
	return p, err
}
