package oauth

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// apiKeys caches the tenant API keys that authenticate introspection
// requests, by hash, so introspecting a live JWT reads nothing (docs/
// PERFORMANCE.md). Unknown keys are never cached. The returned key's
// LastUsedAt is the last use this replica recorded or read.
type apiKeys = busCache[string, tenants.APIKey]

// apiKey finds the key with hash, through the cache when there is one.
func (s *Server) apiKey(ctx context.Context, hash string, now time.Time) (*tenants.APIKey, error) {
	return cachedRow(s.keyCache, hash, now, func() (*tenants.APIKey, error) { return s.Store.GetAPIKeyByHash(ctx, hash) })
}

// touchAPIKey records the use of k when the recorded use is stale.
func (s *Server) touchAPIKey(ctx context.Context, k *tenants.APIKey, now time.Time) {
	if !stale(k.LastUsedAt, now) {
		return
	}
	if err := s.Store.TouchAPIKey(ctx, k.TenantID, k.ID, now); err != nil {
		return
	}
	if s.keyCache != nil {
		s.keyCache.update(k.Hash, func(c *tenants.APIKey) { c.LastUsedAt = &now })
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
