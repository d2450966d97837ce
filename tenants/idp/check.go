package idp

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
)

// CheckStep is one step of an IdP check, in words for the console.
type CheckStep struct {
	Name   string
	OK     bool
	Detail string
}

// Check tests an IdP configuration without signing anyone in: it builds the
// provider (OIDC discovery for google and oidc, OpenID Connect Discovery
// 1.0 §4), then sends the authorization request a sign-in would start and
// reads the provider's first answer (no redirect followed): a 4xx means the
// provider refuses this client or callback URL. The dev IdP has nothing to
// check.
func Check(ctx context.Context, cfg Config) []CheckStep {
	if cfg.IdP == nil || cfg.IdP.Type == tenants.IdPDev {
		return []CheckStep{{Name: "Development login", OK: true, Detail: "nothing to check: it signs anyone in by name (local use only)"}}
	}
	var steps []CheckStep
	if cfg.IdP.ClientID == "" {
		return append(steps, CheckStep{Name: "Settings", Detail: "no client ID is set"})
	}
	steps = append(steps, CheckStep{Name: "Settings", OK: true, Detail: "client ID " + cfg.IdP.ClientID + "; callback URL " + cfg.RedirectURL})
	prov, err := New(ctx, cfg)
	if err != nil {
		return append(steps, CheckStep{Name: "Discovery", Detail: "could not read the provider's configuration: " + err.Error()})
	}
	if cfg.IdP.Type != tenants.IdPGitHub {
		steps = append(steps, CheckStep{Name: "Discovery", OK: true, Detail: "the issuer's OpenID configuration and keys were found"})
	}
	authURL := prov.AuthCodeURL("gatehouse-check", "gatehouse-check", "gatehouse-check-verifier-0123456789abcdefghijklmnop")
	base := cfg.HTTPClient
	if base == nil {
		base = defaultHTTPClient
	}
	hc := *base
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return append(steps, CheckStep{Name: "Sign-in request", Detail: err.Error()})
	}
	res, err := hc.Do(req)
	if err != nil {
		return append(steps, CheckStep{Name: "Sign-in request", Detail: "the provider's sign-in page did not answer: " + err.Error()})
	}
	res.Body.Close()
	host := authURL
	if i := strings.Index(host, "?"); i > 0 {
		host = host[:i]
	}
	if res.StatusCode >= 400 {
		return append(steps, CheckStep{Name: "Sign-in request", Detail: fmt.Sprintf("%s answered HTTP %d: check the client ID and that the callback URL is registered with the provider", host, res.StatusCode)})
	}
	return append(steps, CheckStep{Name: "Sign-in request", OK: true, Detail: fmt.Sprintf("%s accepted the sign-in request (HTTP %d)", host, res.StatusCode)})
}
