package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Client authentication methods (RFC 7591 §2).
const (
	AuthNone   = "none"
	AuthPost   = "client_secret_post"
	AuthBasic  = "client_secret_basic"
	grantCode  = "authorization_code"
	grantRT    = "refresh_token"
	grantCC    = "client_credentials"
	respCode   = "code"
	appWeb     = "web"
	appNative  = "native"
	maxNameLen = 200
)

// ClientCredentials are what a request presented to authenticate a client.
type ClientCredentials struct {
	ClientID string
	Secret   string
	// Assertion is a private_key_jwt client assertion (RFC 7523 §2.2).
	Assertion string
	// Method is how they came: none (client_id only), client_secret_post or
	// client_secret_basic.
	Method string
}

// LookupClient finds the client a request names: a registered client, or a
// client ID metadata document URL (fetched, checked against the tenant's
// allowed hosts and kept as a client row so grants can refer to it). Only
// the authorization request needs the document's current redirect URIs;
// later steps use the row it left (storedClient).
func (s *Server) LookupClient(ctx context.Context, site tenants.Site, clientID string) (*tenants.Client, *Error) {
	return s.lookupClient(ctx, site, clientID, true)
}

// storedClient is LookupClient without re-fetching a known CIMD document.
// ClientName is what the sign-in pages call a client: its registered name,
// else its id ("" when it cannot be read; the page then names no client).
func (s *Server) ClientName(ctx context.Context, site tenants.Site, clientID string) string {
	c, e := s.storedClient(ctx, site, clientID)
	if e != nil {
		return ""
	}
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

func (s *Server) storedClient(ctx context.Context, site tenants.Site, clientID string) (*tenants.Client, *Error) {
	return s.lookupClient(ctx, site, clientID, false)
}

// clientToAuthenticate finds the client that authenticates; an unknown one
// is invalid_client as fail words it (with the Basic challenge when due).
func (s *Server) clientToAuthenticate(ctx context.Context, site tenants.Site, clientID string, fail func(string) *Error) (*tenants.Client, *Error) {
	c, e := s.storedClient(ctx, site, clientID)
	switch {
	case e == nil:
		return c, nil
	case e.Code == ErrInvalidClient:
		return nil, fail(e.Description)
	}
	return nil, e
}

func (s *Server) lookupClient(ctx context.Context, site tenants.Site, clientID string, fresh bool) (*tenants.Client, *Error) {
	if clientID == "" {
		return nil, newErr(ErrInvalidRequest, "client_id is required")
	}
	if len(clientID) > 2048 {
		return nil, newErr(ErrInvalidClient, "unknown client").WithStatus(http.StatusUnauthorized)
	}
	c, err := s.client(ctx, site.Tenant.ID, clientID)
	if err != nil && !errors.Is(err, tenants.ErrNotFound) {
		return nil, serverError(err)
	}
	if c != nil && (c.Kind != tenants.ClientCIMD || !fresh) {
		return c, nil
	}
	if !IsCIMDClientID(clientID) {
		return nil, newErr(ErrInvalidClient, "unknown client; register again").WithStatus(http.StatusUnauthorized)
	}
	return s.resolveCIMD(ctx, site, clientID, c)
}

func (s *Server) resolveCIMD(ctx context.Context, site tenants.Site, clientID string, existing *tenants.Client) (*tenants.Client, *Error) {
	if s.CIMD == nil {
		return nil, newErr(ErrInvalidClient, "client ID metadata documents are not enabled").WithStatus(http.StatusUnauthorized)
	}
	if err := ValidateCIMDURL(clientID); err != nil {
		return nil, &Error{Code: ErrInvalidClient, Description: err.Error(), Status: http.StatusUnauthorized}
	}
	u, _ := url.Parse(clientID)
	if !hostAllowed(u.Hostname(), site.Tenant.Settings.CIMDAllowedHosts) {
		return nil, newErr(ErrInvalidClient, "client metadata host %s is not allowed by this tenant", u.Hostname()).WithStatus(http.StatusUnauthorized)
	}
	doc, err := s.CIMD.Resolve(ctx, clientID)
	if err != nil {
		return nil, &Error{Code: ErrInvalidClient, Description: err.Error(), Status: http.StatusUnauthorized}
	}
	c, e := clientFromCIMD(site, doc)
	if e != nil {
		return nil, e
	}
	if existing == nil {
		c.CreatedAt = s.now()
		err := s.Store.CreateClient(ctx, c)
		if errors.Is(err, tenants.ErrConflict) { // a concurrent first use
			if got, gerr := s.Store.GetClient(ctx, site.Tenant.ID, clientID); gerr == nil {
				return got, nil
			}
		}
		if err != nil {
			return nil, serverError(err)
		}
		return c, nil
	}
	c.CreatedAt, c.LastUsedAt = existing.CreatedAt, existing.LastUsedAt
	if !sameClientMetadata(existing, c) {
		if err := s.Store.UpdateClient(ctx, c); err != nil && !errors.Is(err, tenants.ErrNotFound) {
			return nil, serverError(err)
		}
		s.clientChanged(ctx, c.TenantID, c.ID)
	}
	return c, nil
}

func sameClientMetadata(a, b *tenants.Client) bool {
	return a.Name == b.Name && a.ClientURI == b.ClientURI && a.LogoURI == b.LogoURI && a.Scope == b.Scope &&
		a.ApplicationType == b.ApplicationType && a.TokenEndpointAuthMethod == b.TokenEndpointAuthMethod &&
		a.JWKS == b.JWKS && a.JWKSURI == b.JWKSURI &&
		reflect.DeepEqual([]string(a.RedirectURIs), []string(b.RedirectURIs)) &&
		reflect.DeepEqual([]string(a.GrantTypes), []string(b.GrantTypes))
}

func clientFromCIMD(site tenants.Site, d *CIMDDocument) (*tenants.Client, *Error) {
	bad := func(msg string) *Error {
		return &Error{Code: ErrInvalidClient, Description: "client metadata document: " + msg, Status: http.StatusUnauthorized}
	}
	method := AuthNone
	switch d.TokenEndpointAuthMethod {
	case "", AuthNone:
	case AuthPrivateKeyJWT:
		// The document carries the client's keys (CIMD §6.2; RFC 7523 §2.2).
		if field, msg := tenants.ClientKeysProblem(d.JWKS, d.JWKSURI); msg != "" {
			return nil, bad(field + " " + msg)
		}
		method = AuthPrivateKeyJWT
	default:
		// A document cannot carry a shared secret.
		return nil, bad("token_endpoint_auth_method " + d.TokenEndpointAuthMethod + " is not supported (use none or private_key_jwt)")
	}
	for _, r := range d.RedirectURIs {
		if msg := tenants.ValidateRedirectURI(r); msg != "" {
			return nil, metaErr(ErrInvalidRedirectURI, "client metadata document: redirect URI "+r+" "+msg)
		}
	}
	grants := d.GrantTypes
	if len(grants) == 0 {
		grants = []string{grantCode, grantRT}
	}
	if e := dynamicGrantTypes(grants); e != nil {
		return nil, bad(e.Description)
	}
	name := d.ClientName
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	return &tenants.Client{
		TenantID: site.Tenant.ID, ID: d.ClientID, Kind: tenants.ClientCIMD, Name: name,
		RedirectURIs: tenants.Strings(d.RedirectURIs), GrantTypes: tenants.Strings(grants), ResponseTypes: tenants.Strings{respCode},
		TokenEndpointAuthMethod: method, JWKS: tenants.RawJSON(d.JWKS), JWKSURI: d.JWKSURI, ApplicationType: d.ApplicationType, Scope: filterOffered(d.Scope, site.Tenant.Settings),
		ClientURI: safeURL(d.ClientURI), LogoURI: safeURL(d.LogoURI),
	}, nil
}

// AuthenticateClient checks client credentials (RFC 6749 §2.3): a
// confidential client must present its secret; a public client must not
// present one. Unknown clients are 401 invalid_client (Claude re-registers on it).
func (s *Server) AuthenticateClient(ctx context.Context, site tenants.Site, cred ClientCredentials) (*tenants.Client, *Error) {
	fail := func(desc string) *Error {
		e := &Error{Code: ErrInvalidClient, Description: desc, Status: http.StatusUnauthorized}
		if cred.Method == AuthBasic {
			e.Header = http.Header{"WWW-Authenticate": {`Basic realm="` + site.Issuer + `"`}}
		}
		return e
	}
	if cred.Method == AuthPrivateKeyJWT {
		return s.authenticateAssertion(ctx, site, cred, fail)
	}
	if cred.ClientID == "" {
		return nil, fail("client authentication is required (client_id)")
	}
	c, e := s.clientToAuthenticate(ctx, site, cred.ClientID, fail)
	if e != nil {
		return nil, e
	}
	if c.TokenEndpointAuthMethod == AuthPrivateKeyJWT {
		return nil, fail("this client authenticates with private_key_jwt (client_assertion, RFC 7523 §2.2)")
	}
	if c.SecretHash == "" {
		if cred.Secret != "" {
			return nil, fail("this is a public client; it has no secret")
		}
		return c, nil
	}
	if cred.Secret == "" {
		return nil, fail("client secret is required")
	}
	if !equalConst(tenants.HashSecret(cred.Secret), c.SecretHash) {
		return nil, fail("client authentication failed")
	}
	return c, nil
}

// touchEvery is how stale a recorded last use (clients, grants, API keys)
// may get before a request writes it again. It feeds idle expiry counted in
// days (docs/RULES.md §5: clients idle 90 days) and the console; writing it on every
// token would add a database write to every request for nothing.
const touchEvery = time.Minute

func stale(last *time.Time, now time.Time) bool { return last == nil || now.Sub(*last) >= touchEvery }

// touchClient records the use of c, read by this request (through the
// client cache, which keeps the use this replica recorded).
func (s *Server) touchClient(ctx context.Context, c *tenants.Client) {
	now := s.now()
	if !stale(c.LastUsedAt, now) || s.Store.TouchClient(ctx, c.TenantID, c.ID, now) != nil {
		return
	}
	if s.clients != nil {
		s.clients.update(clientKey{c.TenantID, c.ID}, func(cached *tenants.Client) { cached.LastUsedAt = &now })
	}
}

func allowsGrant(c *tenants.Client, g string) bool {
	if len(c.GrantTypes) == 0 {
		return g == grantCode || g == grantRT
	}
	return c.GrantTypes.Contains(g)
}

// safeURL keeps http(s) URLs only (client_uri/logo_uri end up in pages).
func safeURL(raw string) string {
	if raw == "" || len(raw) > 2048 {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return raw
}
