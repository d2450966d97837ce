package httpx

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

type fakeTenants struct{ tenants.TenantStore }

var (
	acme   = &tenants.Tenant{ID: "t-acme", Slug: "acme"}
	custom = func() *tenants.Tenant {
		d := "mcp.custom.example"
		return &tenants.Tenant{ID: "t-custom", Slug: "custom", CustomDomain: &d, CustomDomainVerified: true}
	}()
)

func (fakeTenants) GetTenantBySlug(_ context.Context, slug string) (*tenants.Tenant, error) {
	if slug == "acme" {
		return acme, nil
	}
	return nil, tenants.ErrNotFound
}

func (fakeTenants) GetTenantByDomain(_ context.Context, d string) (*tenants.Tenant, error) {
	if d == "mcp.custom.example" {
		return custom, nil
	}
	return nil, tenants.ErrNotFound
}

// FuzzResolveHost: tenant resolution from Host and path never panics; a
// Host resolves only to the tenant it names (its slug under the tenant
// domain, or its verified custom domain, case-insensitively, any port),
// never the public host; the rewritten path always stays under that
// tenant's /t/{slug}; probes are never resolved or rewritten.
func FuzzResolveHost(f *testing.F) {
	for _, s := range [][2]string{
		{"acme.connect.example.com", "/mcp"},
		{"ACME.Connect.Example.COM:8443", "/.well-known/oauth-protected-resource/mcp"},
		{"mcp.custom.example", "/oauth/token"},
		{"connect.example.com", "/t/acme/mcp"},
		{"evil.acme.connect.example.com", "/mcp"},
		{"acme.connect.example.com.evil.example", "/mcp"},
		{"acme.connect.example.com", "/healthz"},
		{"[::1]:80", "/../t/other/mcp"},
	} {
		f.Add(s[0], s[1])
	}
	sites := NewSites(fakeTenants{}, "https://connect.example.com", "connect.example.com")
	f.Fuzz(func(t *testing.T, host, path string) {
		site, ok, err := sites.ResolveHost(context.Background(), host)
		if err != nil {
			t.Fatalf("lookup error %v", err)
		}
		h := strings.ToLower(host)
		if hh, _, e := net.SplitHostPort(h); e == nil {
			h = hh
		}
		if ok {
			switch site.Tenant {
			case acme:
				if h != "acme.connect.example.com" {
					t.Fatalf("host %q resolved to acme", host)
				}
			case custom:
				if h != "mcp.custom.example" {
					t.Fatalf("host %q resolved to the custom-domain tenant", host)
				}
			default:
				t.Fatalf("host %q resolved to %+v", host, site.Tenant)
			}
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \x00?#") {
			return
		}
		req := httptest.NewRequest("GET", "http://x/", nil)
		req.Host, req.URL.Path = host, path
		var seen string
		var seenSite bool
		sites.HostMode(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = r.URL.Path
			_, seenSite = SiteFromContext(r.Context())
		})).ServeHTTP(httptest.NewRecorder(), req)
		switch {
		case IsProbe(path):
			if seen != path || seenSite {
				t.Fatalf("probe %q was resolved or rewritten to %q", path, seen)
			}
		case ok:
			prefix := "/t/" + site.Tenant.Slug
			if seen != prefix+path || !seenSite {
				t.Fatalf("host-mode path %q rewritten to %q", path, seen)
			}
		default:
			if seen != path || seenSite {
				t.Fatalf("path-mode request %q changed to %q", path, seen)
			}
		}
	})
}
