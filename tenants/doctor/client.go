package doctor

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants/egress"
)

// NewSelfCheckClient returns the client the self-check fetches a tenant's
// public URLs with: the outbound address policy (tenants/egress), like every
// other fetch made on a tenant's behalf — a verified custom domain is the
// tenant's DNS, and may point anywhere. allowPrivate is
// GATEHOUSE_ALLOW_PRIVATE_FETCH: a deployment on loopback (local use, the
// e2e tests) can then check itself. Names under "localhost" resolve to
// loopback (RFC 6761 §6.3), as browsers do, so a local host-mode deployment
// (GATEHOUSE_TENANT_DOMAIN=gh.localhost) can check itself too. Redirects are
// never followed (the self-check reports them).
func NewSelfCheckClient(timeout time.Duration, allowPrivate bool) *http.Client {
	lookup := func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		h := strings.ToLower(strings.TrimSuffix(host, "."))
		if h == "localhost" || strings.HasSuffix(h, ".localhost") {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return net.DefaultResolver.LookupNetIP(ctx, network, host)
	}
	return egress.NewClient(egress.Options{Policy: egress.Policy{AllowPrivate: allowPrivate}, Timeout: timeout,
		Redirects: egress.NoRedirects, Lookup: lookup})
}
