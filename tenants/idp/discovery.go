package idp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/tenants/egress"
)

// DiscoveryTTL is how long a discovered OIDC provider (its metadata and,
// inside go-oidc, its JWKS cache) is reused before discovery runs again.
var DiscoveryTTL = time.Hour

// discoveryMax bounds the cache (one entry per issuer).
const discoveryMax = 4096

// discoveryKey is the issuer. The provider keeps the HTTP client of the
// call that discovered it for its JWKS fetches; a deployment uses one
// client configuration for all upstream calls, so sharing it is fine (and
// keying by client pointer would miss whenever a caller builds a client
// per request).
type discoveryKey struct {
	issuer string
}

type discoveryEntry struct {
	p       *oidc.Provider
	expires time.Time
}

type discoveryCache struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[discoveryKey]discoveryEntry
}

var providers = &discoveryCache{now: time.Now, m: map[discoveryKey]discoveryEntry{}}

// discover returns the cached provider for issuer or runs OIDC discovery.
// Concurrent misses may discover twice; the last one wins, which is harmless.
func discover(ctx context.Context, hc *http.Client, issuer string) (*oidc.Provider, error) {
	return providers.get(ctx, hc, issuer)
}

func (c *discoveryCache) get(ctx context.Context, hc *http.Client, issuer string) (*oidc.Provider, error) {
	k := discoveryKey{issuer: issuer}
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.p, nil
	}
	p, err := newProvider(ctx, hc, issuer)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= discoveryMax {
		for key, old := range c.m {
			if !now.Before(old.expires) {
				delete(c.m, key)
			}
		}
		if len(c.m) >= discoveryMax {
			c.m = map[discoveryKey]discoveryEntry{}
		}
	}
	c.m[k] = discoveryEntry{p: p, expires: now.Add(DiscoveryTTL)}
	return p, nil
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
