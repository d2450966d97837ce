package oauth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Client grants: a client_credentials token hangs off the client's own
// grant (no user), one per (client, resource, scopes) reused for a day, not
// a new grant row per token (docs/PERFORMANCE.md). Revoking it (RFC 7009 on
// any of its tokens, or the API) stops every token issued from it; the next
// request gets a new grant, as it got a new grant per token before. Deleting
// the client revokes its grants and refuses its requests.
//
// clientGrantLife is how long a client grant is reused; a token never
// outlives its grant (a grant ending within the access-token TTL is not
// reused).
const clientGrantLife = 24 * time.Hour

// clientGrants caches client grants by (tenant, client, resource, scopes).
type clientGrants = busCache[string, *tenants.Grant]

// clientGrant returns the live grant client c holds for itself at site for
// scopes, creating one when there is none that outlives a new token.
func (s *Server) clientGrant(ctx context.Context, site tenants.Site, c *tenants.Client, scopes []string, now time.Time) (*tenants.Grant, error) {
	ttl := site.Tenant.Settings.AccessTTL()
	set := tenants.Strings(sorted(scopes))
	read := func() (*tenants.Grant, error) {
		g, err := s.Store.FindClientGrant(ctx, site.Tenant.ID, c.ID, site.Resource, set, now.Add(ttl))
		if errors.Is(err, tenants.ErrNotFound) {
			g = &tenants.Grant{TenantID: site.Tenant.ID, ID: tenants.RandomID(), Subject: c.ID, ClientID: c.ID, Scopes: set, Resource: site.Resource,
				CreatedAt: now, ExpiresAt: now.Add(max(clientGrantLife, 2*ttl)), LastUsedAt: &now}
			err = s.Store.CreateGrant(ctx, g)
		}
		return g, err
	}
	if s.ccGrants == nil {
		return read()
	}
	key := site.Tenant.ID + "\x00" + c.ID + "\x00" + site.Resource + "\x00" + strings.Join(set, " ")
	return s.ccGrants.get(key, now, func(g *tenants.Grant) bool { return now.Add(ttl).Before(g.ExpiresAt) }, read)
}
