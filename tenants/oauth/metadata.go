package oauth

import "github.com/gatehouse/gatehouse/tenants"

// Metadata is the RFC 8414 authorization server metadata of a site, with
// every field docs/RULES.md §5 requires. The issuer is byte-equal to site.Issuer.
func Metadata(site tenants.Site) map[string]any {
	auth := []string{AuthNone, AuthPost, AuthBasic}
	grants := []string{grantCode, grantRT}
	if site.Tenant.Settings.ClientCredentials {
		// Advertised only while the tenant allows it (docs/RULES.md §5).
		grants = append(grants, grantCC)
	}
	return map[string]any{
		"issuer":                                         site.Issuer,
		"authorization_endpoint":                         site.Endpoint("authorize"),
		"token_endpoint":                                 site.Endpoint("token"),
		"registration_endpoint":                          site.Endpoint("register"),
		"revocation_endpoint":                            site.Endpoint("revoke"),
		"introspection_endpoint":                         site.Endpoint("introspect"),
		"userinfo_endpoint":                              site.Endpoint("userinfo"),
		"jwks_uri":                                       site.JWKSURL(),
		"scopes_supported":                               site.Tenant.Settings.OfferedScopes(),
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          grants,
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          auth,
		"revocation_endpoint_auth_methods_supported":     auth,
		"introspection_endpoint_auth_methods_supported":  []string{AuthPost, AuthBasic, "bearer"},
		"client_id_metadata_document_supported":          true,
		"authorization_response_iss_parameter_supported": true,
		"resource_indicators_supported":                  true,
	}
}

// OpenIDConfiguration is Metadata plus the members OpenID Connect Discovery
// 1.0 §3 requires. No id_token is issued (no openid scope is offered by
// default); the members are there so OIDC-only discovery clients find the
// endpoints.
func OpenIDConfiguration(site tenants.Site) map[string]any {
	m := Metadata(site)
	m["subject_types_supported"] = []string{"public"}
	m["id_token_signing_alg_values_supported"] = []string{"ES256"}
	m["claims_supported"] = []string{"sub", "email", "name", "preferred_username"}
	return m
}
