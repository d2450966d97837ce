package oauth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Client grants: a client_credentials token hangs off the client's own
// grant (no user), one per (client, resource, scopes) reused for a day, not
// a new grant row per token (docs/PERFORMANCE.md). Revoking it (RFC 7009 on
// any of its tokens, or the API) stops every token issued from it; the next
// request gets a new grant, as it got a new grant per token before. Deleting
// the client revokes its grants and refuses its requests.
const (
	// clientGrantLife is how long a client grant is reused; a token never
	// outlives its grant (a grant ending within the access-token TTL is not
	// reused).
	clientGrantLife = 24 * time.Hour
	// clientGrantCacheTTL bounds how long a replica reuses a cached client
	// grant without reading it again; a grant.revoked notice drops it at once.
	// Tokens minted meanwhile off a revoked grant are refused wherever they
	// are presented (the gateway and introspection check grant liveness).
	clientGrantCacheTTL = 30 * time.Second
)

type clientGrants struct {
	mu      sync.Mutex
	entries map[string]clientGrantEntry
	// epoch increases on every revocation notice: a store read that started
	// before one is not cached.
	epoch atomic.Uint64
}

type clientGrantEntry struct {
	g       *tenants.Grant
	fetched time.Time
}

// CacheWithNotices turns on the caches bus notices keep current (client
// grants, API keys); the caller subscribes ForgetGrant, ForgetAPIKey and
// ForgetTenant. Without it nothing is cached (every request reads).
func (s *Server) CacheWithNotices() {
	s.ccGrants = &clientGrants{entries: map[string]clientGrantEntry{}}
	s.keyCache = &apiKeys{entries: map[string]*apiKeyEntry{}}
}

// ForgetGrant drops a revoked grant (tenants.GrantRevokedPayload) from the
// client-grant cache.
func (s *Server) ForgetGrant(payload string) {
	tenantID, grantID, ok := tenants.ParseGrantRevoked(payload)
	if ok && s.ccGrants != nil {
		s.ccGrants.forget(tenantID, grantID)
	}
}

func (c *clientGrants) forget(tenantID, grantID string) {
	c.epoch.Add(1)
	c.mu.Lock()
	for k, e := range c.entries {
		if e.g.TenantID == tenantID && e.g.ID == grantID {
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
}

// clientGrant returns the live grant client c holds for itself at site for
// scopes, creating one when there is none that outlives a new token.
func (s *Server) clientGrant(ctx context.Context, site tenants.Site, c *tenants.Client, scopes []string, now time.Time) (*tenants.Grant, error) {
	ttl := site.Tenant.Settings.AccessTTL()
	set := tenants.Strings(sorted(scopes))
	key := site.Tenant.ID + "\x00" + c.ID + "\x00" + site.Resource + "\x00" + strings.Join(set, " ")
	cache := s.ccGrants
	var epoch uint64
	if cache != nil {
		cache.mu.Lock()
		e, ok := cache.entries[key]
		cache.mu.Unlock()
		if ok && now.Sub(e.fetched) < clientGrantCacheTTL && now.Sub(e.fetched) >= 0 && now.Add(ttl).Before(e.g.ExpiresAt) {
			return e.g, nil
		}
		epoch = cache.epoch.Load()
	}
	g, err := s.Store.FindClientGrant(ctx, site.Tenant.ID, c.ID, site.Resource, set, now.Add(ttl))
	if errors.Is(err, tenants.ErrNotFound) {
		g = &tenants.Grant{TenantID: site.Tenant.ID, ID: tenants.RandomID(), Subject: c.ID, ClientID: c.ID, Scopes: set, Resource: site.Resource,
			CreatedAt: now, ExpiresAt: now.Add(max(clientGrantLife, 2*ttl)), LastUsedAt: &now}
		err = s.Store.CreateGrant(ctx, g)
	}
	if err != nil {
		return nil, err
	}
	if cache != nil {
		cache.mu.Lock()
		if cache.epoch.Load() == epoch {
			if len(cache.entries) >= 10_000 {
				cache.entries = map[string]clientGrantEntry{}
			}
			cache.entries[key] = clientGrantEntry{g: g, fetched: now}
		}
		cache.mu.Unlock()
	}
	return g, nil
}
