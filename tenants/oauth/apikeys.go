package oauth

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// apiKeyCacheTTL bounds how long a replica trusts a cached API key without
// reading it; deleting a key (or its tenant) drops it at once over the bus.
const apiKeyCacheTTL = 30 * time.Second

// apiKeys caches the tenant API keys that authenticate introspection
// requests, by hash, so introspecting a live JWT reads nothing (docs/
// PERFORMANCE.md). Unknown keys are never cached.
type apiKeys struct {
	mu      sync.Mutex
	entries map[string]*apiKeyEntry
	epoch   atomic.Uint64
}

type apiKeyEntry struct {
	key     tenants.APIKey
	fetched time.Time
}

func (c *apiKeys) forget(match func(*tenants.APIKey) bool) {
	c.epoch.Add(1)
	c.mu.Lock()
	for h, e := range c.entries {
		if match(&e.key) {
			delete(c.entries, h)
		}
	}
	c.mu.Unlock()
}

// ForgetAPIKey drops a deleted API key ("<tenant id> <key id>") from the
// cache.
func (s *Server) ForgetAPIKey(payload string) {
	tenantID, id, _ := strings.Cut(payload, " ")
	if s.keyCache != nil {
		s.keyCache.forget(func(k *tenants.APIKey) bool { return k.TenantID == tenantID && k.ID == id })
	}
}

// ForgetTenant drops a changed or deleted tenant's API keys from the cache.
func (s *Server) ForgetTenant(tenantID string) {
	if s.keyCache != nil {
		s.keyCache.forget(func(k *tenants.APIKey) bool { return k.TenantID == tenantID })
	}
}

// apiKey finds the key with hash, through the cache when there is one. The
// returned key's LastUsedAt is the last use this replica recorded or read.
func (s *Server) apiKey(ctx context.Context, hash string, now time.Time) (*tenants.APIKey, error) {
	c := s.keyCache
	if c == nil {
		return s.Store.GetAPIKeyByHash(ctx, hash)
	}
	c.mu.Lock()
	e, ok := c.entries[hash]
	var k tenants.APIKey
	if ok {
		k = e.key
	}
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < apiKeyCacheTTL && now.Sub(e.fetched) >= 0 {
		return &k, nil
	}
	epoch := c.epoch.Load()
	got, err := s.Store.GetAPIKeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.epoch.Load() == epoch {
		if len(c.entries) >= 10_000 {
			c.entries = map[string]*apiKeyEntry{}
		}
		c.entries[hash] = &apiKeyEntry{key: *got, fetched: now}
	}
	c.mu.Unlock()
	return got, nil
}

// touchAPIKey records the use of k when the recorded use is stale.
func (s *Server) touchAPIKey(ctx context.Context, k *tenants.APIKey, now time.Time) {
	if !stale(k.LastUsedAt, now) {
		return
	}
	if err := s.Store.TouchAPIKey(ctx, k.TenantID, k.ID, now); err != nil {
		return
	}
	if c := s.keyCache; c != nil {
		c.mu.Lock()
		if e := c.entries[k.Hash]; e != nil {
			e.key.LastUsedAt = &now
		}
		c.mu.Unlock()
	}
}

// GrantLiveness answers whether a grant is live, from a cache kept current
// by the bus (access.Verifier).
type GrantLiveness interface {
	GrantLive(ctx context.Context, tenantID, grantID string) (bool, error)
	Forget(tenantID, grantID string)
}

// grantActive reports whether the grant of an access token is live: through
// s.Liveness when set, else read.
func (s *Server) grantActive(ctx context.Context, tenantID, grantID string, now time.Time) bool {
	if s.Liveness != nil {
		live, err := s.Liveness.GrantLive(ctx, tenantID, grantID)
		return err == nil && live
	}
	g, err := s.Store.GetGrant(ctx, tenantID, grantID)
	return err == nil && g.Live(now)
}
