package oauth

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// busCacheTTL is how long a replica trusts a cached client, client grant, API
// key or metadata document without reading it again. The bus drops an
// entry at once when it changes anywhere (Listen); the bound only matters
// for a lost notice (tenants.Bus). Tokens minted meanwhile off a revoked
// client grant are refused wherever they are presented (the gateway and
// introspection check grant liveness).
const busCacheTTL = 30 * time.Second

// clientKey names a client: ids are unique per tenant only.
type clientKey struct{ tenantID, clientID string }

// metadataKey names a metadata document: one per site (path or host mode,
// custom domain) and flavour.
type metadataKey struct {
	tenantID, issuer, resource string
	oidc                       bool
}

// Document is a JSON document served as it is, with its entity tag.
type Document struct {
	Body []byte
	ETag string
}

// CacheWithNotices turns on the caches bus notices keep current (clients,
// client grants, API keys, metadata documents); the caller subscribes
// ForgetClient, ForgetGrant, ForgetAPIKey and ForgetTenant. Without it
// nothing is cached (every request reads).
func (s *Server) CacheWithNotices() {
	s.clients = newBusCache[clientKey, tenants.Client](busCacheTTL)
	s.ccGrants = newBusCache[string, *tenants.Grant](busCacheTTL)
	s.keyCache = newBusCache[string, tenants.APIKey](busCacheTTL)
	s.metadata = newBusCache[metadataKey, Document](busCacheTTL)
}

// ForgetClient handles a TopicClientChanged notice ("<tenant_id> <client_id>").
func (s *Server) ForgetClient(payload string) {
	tenantID, clientID, _ := strings.Cut(payload, " ")
	if s.clients != nil {
		s.clients.forget(func(k clientKey, _ tenants.Client) bool { return k == clientKey{tenantID, clientID} })
	}
}

// ForgetGrant handles a TopicGrantRevoked notice ("<tenant_id> <grant_id>").
func (s *Server) ForgetGrant(payload string) {
	tenantID, grantID, ok := tenants.ParseGrantRevoked(payload)
	if ok && s.ccGrants != nil {
		s.ccGrants.forget(func(_ string, g *tenants.Grant) bool { return g.TenantID == tenantID && g.ID == grantID })
	}
}

// ForgetAPIKey handles a TopicAPIKeyDeleted notice ("<tenant_id> <api_key_id>").
func (s *Server) ForgetAPIKey(payload string) {
	tenantID, id, _ := strings.Cut(payload, " ")
	if s.keyCache != nil {
		s.keyCache.forget(func(_ string, k tenants.APIKey) bool { return k.TenantID == tenantID && k.ID == id })
	}
}

// ForgetTenant handles a TopicTenantChanged notice ("<tenant_id">): a
// deleted or suspended tenant's clients and keys go with it.
func (s *Server) ForgetTenant(tenantID string) {
	if s.clients != nil {
		s.clients.forget(func(k clientKey, _ tenants.Client) bool { return k.tenantID == tenantID })
	}
	if s.keyCache != nil {
		s.keyCache.forget(func(_ string, k tenants.APIKey) bool { return k.TenantID == tenantID })
	}
	if s.metadata != nil {
		s.metadata.forget(func(k metadataKey, _ Document) bool { return k.tenantID == tenantID })
	}
}

// MetadataDocument is SiteMetadata serialized, through the cache when
// there is one: metadata requests read nothing and serialize nothing.
func (s *Server) MetadataDocument(ctx context.Context, site tenants.Site, oidc bool) (Document, error) {
	read := func() (Document, error) {
		body, err := json.Marshal(s.SiteMetadata(ctx, site, oidc))
		return Document{Body: body, ETag: tenants.ETag(body)}, err
	}
	if s.metadata == nil {
		return read()
	}
	return s.metadata.get(metadataKey{site.Tenant.ID, site.Issuer, site.Resource, oidc}, s.now(), nil, read)
}

// client reads a client through the cache when there is one. The returned
// client's LastUsedAt is the last use this replica recorded or read.
func (s *Server) client(ctx context.Context, tenantID, clientID string) (*tenants.Client, error) {
	return cachedRow(s.clients, clientKey{tenantID, clientID}, s.now(), func() (*tenants.Client, error) {
		return s.Store.GetClient(ctx, tenantID, clientID)
	})
}

// clientChanged tells every replica (this one at once) that a client row
// changed, so no cache keeps the old one.
func (s *Server) clientChanged(ctx context.Context, tenantID, clientID string) {
	payload := tenants.ClientChangedPayload(tenantID, clientID)
	s.ForgetClient(payload)
	if s.Bus != nil {
		_ = s.Bus.Publish(context.WithoutCancel(ctx), tenants.TopicClientChanged, payload)
	}
}
