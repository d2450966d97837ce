package tenants

import (
	"net"
	"strings"
)

// URL modes (docs/RULES.md §4). Each mode is its own issuer/resource pair.
const (
	ModePath = "path"
	ModeHost = "host"
)

// Site is a tenant as seen through one URL mode: the issuer and connector URL
// a request reached it by. The issuer comes from the request (zitadel style),
// so one server serves every tenant's issuer.
type Site struct {
	Tenant *Tenant
	Mode   string
	// Origin is scheme://host[:port] of the public URL the site is served at.
	Origin string
	// Issuer is the authorization server's issuer identifier.
	Issuer string
	// Resource is the MCP connector URL (no trailing slash).
	Resource string
}

// PathSite is the tenant under the public base URL: B/t/{slug}.
func PathSite(base string, t *Tenant) Site {
	origin := strings.TrimRight(base, "/")
	iss := origin + "/t/" + t.Slug
	return Site{Tenant: t, Mode: ModePath, Origin: origin, Issuer: iss, Resource: iss + "/mcp"}
}

// HostSite is the tenant at its own host: scheme://host, the host in
// canonical form (CanonicalHost), so every spelling of one host is one issuer.
func HostSite(scheme, host string, t *Tenant) Site {
	origin := scheme + "://" + CanonicalHost(scheme, host)
	return Site{Tenant: t, Mode: ModeHost, Origin: origin, Issuer: origin, Resource: origin + "/mcp"}
}

// CanonicalHost is host[:port] as an issuer spells it: lower case, without
// the scheme's default port (RFC 3986 §6.2.2.1, §6.2.3). A request's Host
// header may say EXAMPLE.com or example.com:443; both reach the same site
// and must name the same issuer (docs/RULES.md §5), or codes and tokens of one
// would be valid under a second, different issuer string.
func CanonicalHost(scheme, host string) string {
	host = strings.ToLower(host)
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		return host
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") || port == "" {
		if strings.Contains(h, ":") {
			return "[" + h + "]" // IPv6 literal
		}
		return h
	}
	return host
}

func (s Site) issuerPath() string { return strings.TrimPrefix(s.Issuer, s.Origin) }

// Endpoint returns {issuer}/oauth/{name}.
func (s Site) Endpoint(name string) string { return s.Issuer + "/oauth/" + name }

// JWKSURL is {issuer}/jwks.json.
func (s Site) JWKSURL() string { return s.Issuer + "/jwks.json" }

// PRMURL is the path-inserted protected resource metadata URL (RFC 9728 §3.1),
// the one put in WWW-Authenticate: absolute, as clients require.
func (s Site) PRMURL() string {
	return s.Origin + "/.well-known/oauth-protected-resource" + strings.TrimPrefix(s.Resource, s.Origin)
}

// PRMURLs lists every URL the PRM is served at.
func (s Site) PRMURLs() []string {
	if s.Mode == ModeHost {
		return []string{s.PRMURL(), s.Origin + "/.well-known/oauth-protected-resource"}
	}
	return []string{s.PRMURL(), s.Issuer + "/.well-known/oauth-protected-resource"}
}

// ASMetadataURL is the path-inserted RFC 8414 metadata URL.
func (s Site) ASMetadataURL() string {
	return s.Origin + "/.well-known/oauth-authorization-server" + s.issuerPath()
}

// OIDCDiscoveryURLs lists the OpenID discovery URLs.
func (s Site) OIDCDiscoveryURLs() []string {
	if s.Mode == ModeHost {
		return []string{s.Origin + "/.well-known/openid-configuration"}
	}
	return []string{s.Origin + "/.well-known/openid-configuration" + s.issuerPath(), s.Issuer + "/.well-known/openid-configuration"}
}

// MatchesResource reports whether r names this site's connector URL; the
// trailing-slash variant is the same resource (docs/RULES.md §5, claude-code #52871).
func (s Site) MatchesResource(r string) bool {
	return r == s.Resource || r == s.Resource+"/"
}
