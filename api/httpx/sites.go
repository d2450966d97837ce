package httpx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/stale"
)

// Sites resolves the tenant a request is for, by host first (host mode:
// {slug}.{TenantDomain} or a verified custom domain), else by the /t/{slug}
// path prefix (path mode). It caches tenants briefly; Invalidate drops them
// after a change (and the Bus carries that to other replicas).
type Sites struct {
	store        tenants.TenantStore
	publicURL    string
	publicHost   string
	scheme       string
	tenantDomain string

	// Tenants by slug and by custom domain (nil: known missing). A tenant
	// seen once keeps being served while the database is down or slow
	// (stale.Cache), so an outage does not turn into "no such tenant".
	bySlug *stale.Cache[*tenants.Tenant]
	byHost *stale.Cache[*tenants.Tenant]
	outage Outage
}

// Tenant cache timings: fresh for tenantTTL; while the store fails, the
// last good answer is served for up to tenantMaxStale.
const (
	tenantTTL      = 3 * time.Second
	tenantMaxStale = 15 * time.Minute
)

// NewSites builds a resolver. tenantDomain may be "" (no host mode by
// subdomain; verified custom domains still work).
func NewSites(store tenants.TenantStore, publicURL, tenantDomain string) *Sites {
	u, _ := url.Parse(publicURL)
	o := stale.Options{TTL: tenantTTL, MaxStale: tenantMaxStale}
	s := &Sites{store: store, publicURL: strings.TrimRight(publicURL, "/"), scheme: "http",
		bySlug: stale.New[*tenants.Tenant](o), byHost: stale.New[*tenants.Tenant](o)}
	if u != nil {
		s.scheme = u.Scheme
		s.publicHost = strings.ToLower(u.Hostname())
	}
	s.tenantDomain = strings.ToLower(hostOnly(tenantDomain))
	return s
}

// PublicURL is the base URL B.
func (s *Sites) PublicURL() string { return s.publicURL }

// TenantDomain is the host-mode parent domain ("" when host mode is off).
func (s *Sites) TenantDomain() string { return s.tenantDomain }

// Scheme is the public scheme.
func (s *Sites) Scheme() string { return s.scheme }

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// KeepCurrent keeps answers a minute instead of tenantTTL, for a Sites
// whose Invalidate the composition root subscribes to every tenant.changed
// notice (any replica's change arrives at once): requests spread over
// 10,000 tenants then cost no store read (docs/PERFORMANCE.md).
func (s *Sites) KeepCurrent() {
	s.bySlug.SetTTL(keptTTL)
	s.byHost.SetTTL(keptTTL)
}

// keptTTL is the tenant cache lifetime while a bus keeps it current.
const keptTTL = time.Minute

// Invalidate forgets every cached tenant (cheap; called on any tenant change).
// The old values stay usable while the store fails (a notice from another
// replica or tenant must not turn an outage into 503s for cached tenants).
func (s *Sites) Invalidate() {
	s.bySlug.ExpireAll()
	s.byHost.ExpireAll()
}

// BySlug returns the tenant with slug, cached. The error is
// tenants.ErrNotFound for a slug no tenant has, and wraps
// tenants.ErrUnavailable when the store cannot answer (and nothing usable
// is cached): callers answer 404 only for the first.
func (s *Sites) BySlug(ctx context.Context, slug string) (*tenants.Tenant, error) {
	return s.lookup(ctx, s.bySlug, slug, s.store.GetTenantBySlug)
}

func (s *Sites) lookup(ctx context.Context, c *stale.Cache[*tenants.Tenant], key string, get func(context.Context, string) (*tenants.Tenant, error)) (*tenants.Tenant, error) {
	t, _, err := c.Get(ctx, key, func(ctx context.Context) (*tenants.Tenant, error) {
		t, err := get(ctx, key)
		if errors.Is(err, tenants.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			s.outage.Down(err)
			return nil, err
		}
		s.outage.Up()
		return t, nil
	})
	if err != nil {
		return nil, Unavailable(err)
	}
	if t == nil {
		return nil, tenants.ErrNotFound
	}
	return t, nil
}

// Path is the tenant's path-mode site.
func (s *Sites) Path(t *tenants.Tenant) tenants.Site { return tenants.PathSite(s.publicURL, t) }

// Host is the tenant's host-mode site under the tenant domain ("" when off).
func (s *Sites) Host(t *tenants.Tenant) (tenants.Site, bool) {
	if s.tenantDomain == "" {
		if t.CustomDomain != nil && t.CustomDomainVerified {
			return tenants.HostSite(s.scheme, *t.CustomDomain, t), true
		}
		return tenants.Site{}, false
	}
	host := t.Slug + "." + s.tenantDomain
	if u, err := url.Parse(s.publicURL); err == nil && u.Port() != "" {
		host += ":" + u.Port()
	}
	return tenants.HostSite(s.scheme, host, t), true
}

// ForMode rebuilds the site a flow started in (stored with codes/grants).
func (s *Sites) ForMode(t *tenants.Tenant, mode, host string) tenants.Site {
	if mode == tenants.ModeHost && host != "" {
		return tenants.HostSite(s.scheme, host, t)
	}
	return s.Path(t)
}

// ResolveHost finds a host-mode tenant for the request's Host header.
func (s *Sites) ResolveHost(ctx context.Context, hostport string) (tenants.Site, bool, error) {
	host := strings.ToLower(hostOnly(hostport))
	if host == "" || host == s.publicHost {
		return tenants.Site{}, false, nil
	}
	var t *tenants.Tenant
	var err error
	if s.tenantDomain != "" && strings.HasSuffix(host, "."+s.tenantDomain) {
		slug := strings.TrimSuffix(host, "."+s.tenantDomain)
		if strings.Contains(slug, ".") {
			return tenants.Site{}, false, nil
		}
		t, err = s.BySlug(ctx, slug)
	} else {
		t, err = s.byDomain(ctx, host)
	}
	if errors.Is(err, tenants.ErrNotFound) {
		return tenants.Site{}, false, nil
	}
	if err != nil {
		return tenants.Site{}, false, err
	}
	return tenants.HostSite(s.scheme, hostport, t), true, nil
}

func (s *Sites) byDomain(ctx context.Context, host string) (*tenants.Tenant, error) {
	return s.lookup(ctx, s.byHost, host, s.store.GetTenantByDomain)
}

type siteKey struct{}

// WithSite attaches a resolved site to ctx.
func WithSite(ctx context.Context, site tenants.Site) context.Context {
	return context.WithValue(ctx, siteKey{}, site)
}

// SiteFromContext returns the site attached to ctx.
func SiteFromContext(ctx context.Context) (tenants.Site, bool) {
	s, ok := ctx.Value(siteKey{}).(tenants.Site)
	return s, ok
}

// HostMode wraps the router: a request whose Host names a tenant gets that
// tenant's host-mode site in its context and its path rewritten under
// /t/{slug}, so one route table serves both modes. The issuer stays the
// host's own: handlers read it from the site, never from the path.
func (s *Sites) HostMode(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsProbe(r.URL.Path) {
			// Probes come to the pod IP, and must not fail with the
			// database (issue 13, finding 2): never resolve a tenant.
			next.ServeHTTP(w, r)
			return
		}
		site, ok, err := s.ResolveHost(r.Context(), r.Host)
		if err != nil {
			WriteUnavailable(w, r)
			return
		}
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(WithSite(r.Context(), site))
		r2.URL.Path = "/t/" + site.Tenant.Slug + r.URL.Path
		if r.URL.RawPath != "" {
			r2.URL.RawPath = "/t/" + site.Tenant.Slug + r.URL.RawPath
		}
		next.ServeHTTP(w, r2)
	})
}

const ginSiteKey = "gatehouse.site"

// RequireSite is gin middleware for routes with a :slug parameter: it puts
// the tenant's site (host mode if the request came that way, else path mode)
// on the context, or calls notFound. A store that cannot answer is a 503
// in the surface's format (WriteUnavailable), never a 404.
func (d *Deps) RequireSite(notFound gin.HandlerFunc) gin.HandlerFunc {
	return d.RequireLiveSite(notFound, nil)
}

// RequireLiveSite is RequireSite that also answers with suspended (when
// not nil) for a tenant an operator suspended (DESIGN §12).
func (d *Deps) RequireLiveSite(notFound, suspended gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		site, ok := SiteFromContext(c.Request.Context())
		if !ok {
			t, err := d.Sites.BySlug(c.Request.Context(), c.Param("slug"))
			if errors.Is(err, tenants.ErrUnavailable) {
				WriteUnavailable(c.Writer, c.Request)
				c.Abort()
				return
			}
			if err != nil {
				notFound(c)
				c.Abort()
				return
			}
			site = d.Sites.Path(t)
			c.Request = c.Request.WithContext(WithSite(c.Request.Context(), site))
		}
		c.Set(ginSiteKey, site)
		if suspended != nil && site.Tenant != nil && site.Tenant.Suspended() {
			suspended(c)
			c.Abort()
			return
		}
		c.Next()
	}
}

// Site returns the site RequireSite resolved.
func Site(c *gin.Context) tenants.Site {
	if v, ok := c.Get(ginSiteKey); ok {
		return v.(tenants.Site)
	}
	s, _ := SiteFromContext(c.Request.Context())
	return s
}
