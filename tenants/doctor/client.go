package doctor

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"
)

// NewSelfCheckClient returns the client the self-check fetches the
// deployment's own public URLs with. It is not the SSRF-guarded client: the
// URLs are the platform's own (public URL, tenant domain or a verified custom
// domain), never caller input. Names under "localhost" resolve to loopback
// (RFC 6761 §6.3), as browsers do, so a local host-mode deployment
// (GATEHOUSE_TENANT_DOMAIN=gh.localhost) can check itself.
func NewSelfCheckClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil {
			h := strings.ToLower(strings.TrimSuffix(host, "."))
			if h == "localhost" || strings.HasSuffix(h, ".localhost") {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Timeout: timeout, Transport: tr}
}
