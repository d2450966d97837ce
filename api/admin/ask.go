package admin

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
)

// AskHandler answers the "ask" of on-demand TLS (Caddy's on_demand_tls,
// or an ingress controller's equivalent): GET ?domain=HOST is 200 when a
// certificate may be issued for HOST — the public host, a tenant's host
// under the tenant domain, or a verified custom domain — and 404
// otherwise, so nobody can make the proxy request certificates for names
// Gatehouse does not serve. It lives on the admin listener: only the proxy
// asks it.
func AskHandler(allowed func(ctx context.Context, host string) (bool, error), logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.TrimSuffix(strings.ToLower(r.URL.Query().Get("domain")), ".")
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" {
			http.Error(w, "domain is required", http.StatusBadRequest)
			return
		}
		ok, err := allowed(r.Context(), host)
		switch {
		case err != nil:
			if logger != nil {
				logger.Warn("tls ask: lookup failed", "domain", host, "err", err)
			}
			http.Error(w, "lookup failed", http.StatusServiceUnavailable)
		case ok:
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("ok\n"))
		default:
			http.Error(w, "not a domain served here", http.StatusNotFound)
		}
	})
}
