package oauth

import (
	"context"

	"github.com/gatehouse/gatehouse/tenants"
)

// SiteMetadata is Metadata (or, with oidc, OpenIDConfiguration) plus the
// members that depend on the tenant's stored configuration: the jwt-bearer
// grant and the ID-JAG grant profile while the tenant trusts at least one
// enterprise IdP (draft-ietf-oauth-identity-assertion-authz-grant §7.2;
// docs/RULES.md §11).
func (s *Server) SiteMetadata(ctx context.Context, site tenants.Site, oidc bool) map[string]any {
	m := Metadata(site)
	if oidc {
		m = OpenIDConfiguration(site)
	}
	// private_key_jwt (RFC 7523 §2.2) wherever clients authenticate.
	for _, k := range []string{"token_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported"} {
		if ms, ok := m[k].([]string); ok {
			m[k] = append(append([]string{}, ms...), AuthPrivateKeyJWT)
		}
	}
	for _, k := range []string{"token_endpoint_auth_signing_alg_values_supported", "revocation_endpoint_auth_signing_alg_values_supported",
		"introspection_endpoint_auth_signing_alg_values_supported"} {
		m[k] = AlgNames()
	}
	m["dpop_signing_alg_values_supported"] = AlgNames() // RFC 9449 §5.1
	if s.EnterpriseTrusted(ctx, site.Tenant.ID) {
		if gts, ok := m["grant_types_supported"].([]string); ok {
			m["grant_types_supported"] = append(append([]string{}, gts...), tenants.GrantJWTBearer)
		}
		m["authorization_grant_profiles_supported"] = []string{tenants.GrantProfileIDJAG}
	}
	return m
}
