package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/limits"
)

// RegistrationRequest is the client metadata of RFC 7591 §2 that we use;
// other members are ignored (RFC 7591 §2: the server may ignore them).
type RegistrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	ClientURI               string   `json:"client_uri"`
	LogoURI                 string   `json:"logo_uri"`
	Scope                   string   `json:"scope"`
	ApplicationType         string   `json:"application_type"`
}

// RegistrationResponse is RFC 7591 §3.2.1: the registered metadata as the
// server decided it (clients read token_endpoint_auth_method from here).
type RegistrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	ApplicationType         string   `json:"application_type,omitempty"`
}

func metaErr(code, desc string) *Error { return &Error{Code: code, Description: desc} }

// Register is dynamic client registration (RFC 7591 §3) under the tenant's
// policy (open | allowlist | closed). A public client registering metadata
// identical to an existing client's gets that client back (idempotent:
// clients that re-register on every start do not pile up). ip keys the rate
// limit.
func (s *Server) Register(ctx context.Context, site tenants.Site, ip string, req RegistrationRequest) (*RegistrationResponse, *Error) {
	st := site.Tenant.Settings
	if st.DCR() == tenants.DCRClosed {
		return nil, &Error{Code: ErrAccessDenied, Description: "dynamic client registration is closed for this tenant; ask its administrator for a client", Status: http.StatusForbidden}
	}
	c, e := s.normalizeRegistration(site, req)
	if e != nil {
		return nil, e
	}
	if st.DCR() == tenants.DCRAllowlist {
		for _, r := range c.RedirectURIs {
			if !tenants.RedirectAllowed(r, st.DCRAllowedRedirectHosts) {
				return nil, metaErr(ErrInvalidRedirectURI, "redirect URI "+r+" is not allowed to register with this tenant: its scheme and host are not on the tenant's allow-list")
			}
		}
	}
	confidential := c.TokenEndpointAuthMethod != AuthNone
	if !confidential {
		c.MetadataHash = metadataHash(c)
		existing, err := s.Store.FindClientByMetadataHash(ctx, site.Tenant.ID, c.MetadataHash)
		if err == nil {
			s.touchClient(ctx, existing)
			return registrationResponse(existing, ""), nil
		}
		if !errors.Is(err, tenants.ErrNotFound) {
			return nil, serverError(err)
		}
	}
	if s.DCRLimiter != nil {
		if ok, wait := s.DCRLimiter.Allow(ctx, limits.Key("dcr", site.Tenant.ID, ip), limits.DCR); !ok {
			return nil, &Error{Code: ErrTemporarilyUnavailable, Description: "too many client registrations from this address; retry later",
				Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {strconv.Itoa(limits.RetryAfterSeconds(wait))}}}
		}
	}
	c.ID = "dcr_" + tenants.RandomID()
	c.CreatedAt = s.now()
	secret := ""
	if confidential {
		secret = tenants.ClientSecretPrefix + tenants.RandomToken()
		c.SecretHash = tenants.HashSecret(secret)
	}
	if err := s.Store.CreateClient(ctx, c); err != nil {
		return nil, serverError(err)
	}
	hosts := []string{}
	for _, r := range c.RedirectURIs {
		if u, err := url.Parse(r); err == nil {
			hosts = append(hosts, u.Scheme+"://"+u.Host)
		}
	}
	s.audit(ctx, tenants.AuditEvent{TenantID: site.Tenant.ID, Action: tenants.ActClientRegistered, ClientID: c.ID,
		Details: tenants.JSONMap{tenants.DetailKind: c.Kind, tenants.DetailClientName: c.Name, tenants.DetailRedirectOrigins: hosts, tenants.DetailTokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
			tenants.DetailApplicationType: c.ApplicationType, tenants.DetailAskedAuthMethod: req.TokenEndpointAuthMethod}})
	return registrationResponse(c, secret), nil
}

func (s *Server) normalizeRegistration(site tenants.Site, req RegistrationRequest) (*tenants.Client, *Error) {
	c := &tenants.Client{TenantID: site.Tenant.ID, Kind: tenants.ClientDCR}
	grants := dedupe(req.GrantTypes)
	if len(grants) == 0 {
		// RFC 7591 default is authorization_code only; MCP clients expect to
		// refresh, so we register (and say so in the response) both.
		grants = []string{grantCode, grantRT}
	}
	if e := dynamicGrantTypes(grants); e != nil {
		return nil, e
	}
	c.GrantTypes = grants
	resp := dedupe(req.ResponseTypes)
	if len(resp) == 0 {
		resp = []string{respCode}
	}
	for _, r := range resp {
		if r != respCode {
			return nil, metaErr(ErrInvalidClientMetadata, "response type "+r+" is not supported (only code)")
		}
	}
	c.ResponseTypes = resp
	if tenants.Strings(grants).Contains(grantCode) && len(req.RedirectURIs) == 0 {
		return nil, metaErr(ErrInvalidRedirectURI, "redirect_uris is required for the authorization_code grant")
	}
	if len(req.RedirectURIs) > 20 {
		return nil, metaErr(ErrInvalidRedirectURI, "at most 20 redirect URIs")
	}
	native := true
	for _, r := range req.RedirectURIs {
		if msg := tenants.ValidateRedirectURI(r); msg != "" {
			return nil, metaErr(ErrInvalidRedirectURI, "redirect URI "+r+" "+msg)
		}
		u, _ := url.Parse(r)
		if (u.Scheme == "https") || (u.Scheme == "http" && !tenants.IsLoopbackHost(u.Hostname())) {
			native = false
		}
	}
	c.RedirectURIs = dedupe(req.RedirectURIs)
	switch req.ApplicationType {
	case "", appWeb, appNative:
		// Cursor registers application_type "web" with a cursor:// redirect
		// (docs/RULES.md §10), so the OIDC rule tying types to schemes is not enforced.
		c.ApplicationType = req.ApplicationType
	default:
		return nil, metaErr(ErrInvalidClientMetadata, "application_type must be web or native")
	}
	if c.ApplicationType == "" {
		c.ApplicationType = appWeb
	}
	if c.ApplicationType == appNative {
		native = true
	}
	switch req.TokenEndpointAuthMethod {
	case "", AuthNone:
		// Absent: public. MCP clients are public clients with PKCE.
		c.TokenEndpointAuthMethod = AuthNone
	case AuthPost, AuthBasic:
		// A native app cannot keep a secret (RFC 8252 §8.5): it gets none,
		// and says so in the response, which clients read (docs/RULES.md §5).
		if native && len(c.RedirectURIs) > 0 {
			c.TokenEndpointAuthMethod = AuthNone
		} else {
			c.TokenEndpointAuthMethod = req.TokenEndpointAuthMethod
		}
	default:
		return nil, metaErr(ErrInvalidClientMetadata, "token_endpoint_auth_method "+req.TokenEndpointAuthMethod+" is not supported (none, client_secret_post, client_secret_basic)")
	}
	name := strings.TrimSpace(req.ClientName)
	if len(name) > maxNameLen {
		return nil, metaErr(ErrInvalidClientMetadata, "client_name is longer than 200 characters")
	}
	c.Name = name
	if req.ClientURI != "" && safeURL(req.ClientURI) == "" {
		return nil, metaErr(ErrInvalidClientMetadata, "client_uri must be an http(s) URL")
	}
	if req.LogoURI != "" && safeURL(req.LogoURI) == "" {
		return nil, metaErr(ErrInvalidClientMetadata, "logo_uri must be an http(s) URL")
	}
	c.ClientURI, c.LogoURI = req.ClientURI, req.LogoURI
	c.Scope = filterOffered(req.Scope, site.Tenant.Settings)
	return c, nil
}

// dynamicGrantTypes is the grant rule for clients that register themselves
// (DCR) or describe themselves (CIMD): authorization_code and refresh_token
// only, so every token they get stands for a user who logged in and
// consented. client_credentials from an open registration endpoint would
// hand anyone on the internet a token with no user behind it; it is for
// clients the tenant pre-registers (docs/RULES.md §5).
func dynamicGrantTypes(grants []string) *Error {
	for _, g := range grants {
		switch g {
		case grantCode, grantRT:
		case grantCC:
			return metaErr(ErrInvalidClientMetadata, "grant type client_credentials is not available to dynamically registered clients; ask the tenant's administrator for a pre-registered client")
		default:
			return metaErr(ErrInvalidClientMetadata, "grant type "+g+" is not supported (authorization_code, refresh_token)")
		}
	}
	return nil
}

// filterOffered keeps the registered scopes the tenant offers (RFC 7591 §2:
// the server may register fewer than asked and says so in the response).
func filterOffered(scope string, st tenants.Settings) string {
	offered := tenants.Strings(st.OfferedScopes())
	var out []string
	for _, s := range strings.Fields(scope) {
		if offered.Contains(s) {
			out = append(out, s)
		}
	}
	return strings.Join(dedupe(out), " ")
}

func metadataHash(c *tenants.Client) string {
	canon := struct {
		R, G, RT         []string
		M, A, N, U, L, S string
	}{sorted(c.RedirectURIs), sorted(c.GrantTypes), sorted(c.ResponseTypes), c.TokenEndpointAuthMethod, c.ApplicationType, c.Name, c.ClientURI, c.LogoURI, c.Scope}
	b, _ := json.Marshal(canon)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func sorted(in []string) []string {
	out := append([]string{}, in...)
	sort.Strings(out)
	return out
}

func registrationResponse(c *tenants.Client, secret string) *RegistrationResponse {
	r := &RegistrationResponse{ClientID: c.ID, ClientSecret: secret, ClientIDIssuedAt: c.CreatedAt.Unix(),
		RedirectURIs: nonNil(c.RedirectURIs), TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, GrantTypes: nonNil(c.GrantTypes),
		ResponseTypes: nonNil(c.ResponseTypes), ClientName: c.Name, ClientURI: c.ClientURI, LogoURI: c.LogoURI, Scope: c.Scope,
		ApplicationType: c.ApplicationType}
	if secret != "" {
		zero := int64(0) // RFC 7591 §3.2.1: 0 means the secret does not expire
		r.ClientSecretExpiresAt = &zero
	}
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
