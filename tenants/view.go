package tenants

import "time"

// SiteURLs are the public URLs of a tenant in one URL mode.
type SiteURLs struct {
	Issuer                      string   `json:"issuer"`
	Resource                    string   `json:"resource"`
	ProtectedResourceMetadata   []string `json:"protected_resource_metadata"`
	AuthorizationServerMetadata string   `json:"authorization_server_metadata"`
	OpenIDConfiguration         []string `json:"openid_configuration"`
	JWKS                        string   `json:"jwks_uri"`
}

// URLsOf lists a site's URLs.
func URLsOf(s Site) SiteURLs {
	return SiteURLs{Issuer: s.Issuer, Resource: s.Resource, ProtectedResourceMetadata: s.PRMURLs(),
		AuthorizationServerMetadata: s.ASMetadataURL(), OpenIDConfiguration: s.OIDCDiscoveryURLs(), JWKS: s.JWKSURL()}
}

// TenantView is how the API and CLI show a tenant: its fields, its URLs in
// path mode (and host mode where enabled), and which write-only secrets are set.
type TenantView struct {
	ID                   string  `json:"id"`
	Slug                 string  `json:"slug"`
	Name                 string  `json:"name"`
	UpstreamMCPURL       string  `json:"upstream_mcp_url"`
	CustomDomain         *string `json:"custom_domain,omitempty"`
	CustomDomainVerified bool    `json:"custom_domain_verified"`
	// CustomDomainChallenge is the DNS record that verifies an unverified
	// custom domain (workers check it every minute).
	CustomDomainChallenge *DomainChallenge `json:"custom_domain_challenge,omitempty"`
	Settings              Settings         `json:"settings"`
	Secrets               map[string]bool  `json:"secrets"`
	Issuer                string           `json:"issuer"`
	Resource              string           `json:"resource"`
	PathMode              SiteURLs         `json:"path_mode"`
	HostMode              *SiteURLs        `json:"host_mode,omitempty"`
	CreatedAt             time.Time        `json:"created_at"`
	UpdatedAt             time.Time        `json:"updated_at"`
}

// ViewOf builds the view; hostSite is nil when host mode is off for the tenant.
// The headline issuer/resource is host mode where available (recommended for
// Claude.ai), else path mode.
func ViewOf(t *Tenant, pathSite Site, hostSite *Site) TenantView {
	v := TenantView{ID: t.ID, Slug: t.Slug, Name: t.Name, UpstreamMCPURL: t.UpstreamMCPURL, CustomDomain: t.CustomDomain,
		CustomDomainVerified: t.CustomDomainVerified, Settings: t.Settings, PathMode: URLsOf(pathSite),
		Secrets:   map[string]bool{SecretUpstreamHeaders: t.SealedSecrets[SecretUpstreamHeaders] != "", SecretAuditWebhookSecret: t.SealedSecrets[SecretAuditWebhookSecret] != ""},
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	v.Settings.UpstreamHeaders, v.Settings.AuditWebhookSecret = nil, ""
	if t.CustomDomain != nil && !t.CustomDomainVerified {
		ch := ChallengeFor(t.ID, *t.CustomDomain)
		v.CustomDomainChallenge = &ch
	}
	v.Issuer, v.Resource = pathSite.Issuer, pathSite.Resource
	if hostSite != nil {
		h := URLsOf(*hostSite)
		v.HostMode = &h
		v.Issuer, v.Resource = hostSite.Issuer, hostSite.Resource
	}
	return v
}
