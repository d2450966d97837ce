// Package oauth is each tenant's OAuth 2.1 authorization server (docs/RULES.md §5):
// authorization requests through upstream login and consent, the token
// endpoint's grants, dynamic client registration (RFC 7591), client ID
// metadata documents, revocation (RFC 7009), introspection (RFC 7662) and
// userinfo. It knows no HTTP framework; api/oauth parses and writes.
package oauth

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/limits"
)

// Lifetimes fixed by docs/RULES.md §5.
const (
	CodeTTL    = 60 * time.Second
	PendingTTL = 10 * time.Minute
)

// ProviderFactory builds an upstream IdP provider (idp.New in production).
type ProviderFactory func(ctx context.Context, cfg idp.Config) (idp.Provider, error)

// Server is the authorization server of every tenant; per-request state is
// the tenants.Site passed to each method. Safe for concurrent use.
type Server struct {
	Store   tenants.Store
	Sealer  *tenants.Sealer
	Keys    *keys.Manager
	Auditor tenants.Auditor
	Bus     tenants.Bus // optional
	// AllowDevIdP permits the dev IdP (embedded default, tests).
	AllowDevIdP bool
	// CIMD fetches client ID metadata documents.
	CIMD *CIMDResolver
	// KeySets fetches other parties' JWK sets (enterprise IdPs, private_key_jwt clients).
	KeySets *KeySets
	// DCRLimiter rate-limits new registrations per tenant and IP
	// (limits.DCR); nil: unlimited.
	DCRLimiter limits.Limiter
	// NewProvider builds upstream IdPs; nil means only the dev IdP works.
	NewProvider ProviderFactory
	// HTTPClient is given to upstream IdP providers.
	HTTPClient *http.Client
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time

	// Liveness, when set, answers grant liveness for introspection from a
	// bus-kept cache (access.Verifier); nil reads the grant each time.
	Liveness GrantLiveness

	// Set by Listen (caches.go).
	clients  *busCache[clientKey, tenants.Client]
	ccGrants *clientGrants
	keyCache *apiKeys
	metadata *busCache[metadataKey, Document]
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Server) audit(ctx context.Context, ev tenants.AuditEvent) {
	if s.Auditor != nil {
		s.Auditor.Record(ctx, ev)
	}
}

// revokeGrant revokes a grant everywhere and audits it.
func (s *Server) revokeGrant(ctx context.Context, tenantID, grantID, reason string) error {
	err := tenants.RevokeGrant(ctx, s.Store, s.Bus, s.Auditor, tenantID, grantID, reason)
	// This replica's caches forget it now; the bus notice reaches the others
	// (and this one again) a moment later.
	if s.Liveness != nil {
		s.Liveness.Forget(tenantID, grantID)
	}
	s.ForgetGrant(tenants.GrantRevokedPayload(tenantID, grantID))
	return err
}
