package tenants

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// Token endpoint client authentication methods (RFC 7591 §2).
const (
	AuthNone              = "none"
	AuthClientSecretPost  = "client_secret_post"
	AuthClientSecretBasic = "client_secret_basic"
	AuthPrivateKeyJWT     = "private_key_jwt" // RFC 7523 §2.2
)

// Grant types a client may hold.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// PreregisteredClientInput is what the provisioning API takes to create a
// client ahead of time (as opposed to DCR or CIMD, which clients do
// themselves). Zero values mean the RFC 7591 defaults.
type PreregisteredClientInput struct {
	// ClientID is optional; a random id is made when empty.
	ClientID                string
	ClientName              string
	RedirectURIs            []string
	TokenEndpointAuthMethod string // default client_secret_basic (RFC 7591 §2)
	GrantTypes              []string
	ApplicationType         string // web | native
	Scope                   string
	SkipConsent             bool
	// JWKS (a JWK set) or JWKSURI: the keys of a private_key_jwt client.
	JWKS    json.RawMessage
	JWKSURI string
}

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{3,128}$`)

// Validate checks the input against the tenant's settings and fills defaults.
func (in *PreregisteredClientInput) Validate(s Settings) *ValidationError {
	v := &ValidationError{}
	if in.ClientID != "" && !clientIDPattern.MatchString(in.ClientID) {
		// URL-shaped ids belong to client metadata documents (CIMD), which
		// the authorization server fetches itself.
		v.Add("client_id", "must be 3-128 characters of A-Z, a-z, 0-9, '.', '_', '~' and '-'")
	}
	if len(in.ClientName) > 200 {
		v.Add("client_name", "must be at most 200 characters")
	}
	switch in.TokenEndpointAuthMethod {
	case "":
		in.TokenEndpointAuthMethod = AuthClientSecretBasic
	case AuthNone, AuthClientSecretPost, AuthClientSecretBasic, AuthPrivateKeyJWT:
	default:
		v.Add("token_endpoint_auth_method", "must be one of none, client_secret_post, client_secret_basic, private_key_jwt")
	}
	in.validateKeys(v)
	if len(in.GrantTypes) == 0 {
		in.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	seen := map[string]bool{}
	for _, g := range in.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken:
		case GrantClientCredentials:
			if in.TokenEndpointAuthMethod == AuthNone {
				v.Add("grant_types", "client_credentials needs a confidential client (token_endpoint_auth_method other than none)")
			}
		default:
			v.Add("grant_types", "%q is not supported (authorization_code, refresh_token, client_credentials)", g)
		}
		if seen[g] {
			v.Add("grant_types", "%q is listed twice", g)
		}
		seen[g] = true
	}
	if seen[GrantAuthorizationCode] && len(in.RedirectURIs) == 0 {
		v.Add("redirect_uris", "at least one redirect URI is required for the authorization_code grant")
	}
	if len(in.RedirectURIs) > 20 {
		v.Add("redirect_uris", "at most 20 redirect URIs")
	}
	for i, u := range in.RedirectURIs {
		if msg := ValidateRedirectURI(u); msg != "" {
			v.Add("redirect_uris", "%q (item %d) %s", u, i, msg)
		}
	}
	switch in.ApplicationType {
	case "", "web", "native":
	default:
		v.Add("application_type", "must be web or native")
	}
	if in.Scope != "" {
		offered := Strings(s.OfferedScopes())
		for _, sc := range strings.Fields(in.Scope) {
			if !validScopeToken(sc) {
				v.Add("scope", "%q is not a valid scope token (RFC 6749 §3.3)", sc)
			} else if !offered.Contains(sc) {
				v.Add("scope", "%q is not offered by this tenant (settings.scopes)", sc)
			}
		}
		in.Scope = strings.Join(strings.Fields(in.Scope), " ")
	}
	return v
}

// ClientSecretPrefix marks client secrets so they are recognisable in leaks.
const ClientSecretPrefix = "ghs_"

// APIKeyPrefix starts every tenant API key, AdminTokenPrefix every admin
// token: secret scanners and the audit tests recognise them by it.
const (
	APIKeyPrefix     = "ghk_"
	AdminTokenPrefix = "gha_"
)

// CreatePreregisteredClient creates a client of the tenant. For confidential
// clients the secret is returned once; only its hash is stored. ErrConflict
// when the client id is taken.
func (p *Provisioner) CreatePreregisteredClient(ctx context.Context, t *Tenant, in PreregisteredClientInput) (string, *Client, error) {
	if v := in.Validate(t.Settings); v.Err() != nil {
		return "", nil, v
	}
	id := in.ClientID
	if id == "" {
		id = RandomID()
	}
	c := &Client{
		TenantID: t.ID, ID: id, Kind: ClientPreregistered, Name: in.ClientName,
		RedirectURIs: Strings(append([]string{}, in.RedirectURIs...)), GrantTypes: Strings(in.GrantTypes),
		ResponseTypes: Strings{}, TokenEndpointAuthMethod: in.TokenEndpointAuthMethod,
		ApplicationType: in.ApplicationType, Scope: in.Scope, SkipConsent: in.SkipConsent,
		CreatedAt: time.Now().UTC(),
	}
	if Strings(in.GrantTypes).Contains(GrantAuthorizationCode) {
		c.ResponseTypes = Strings{"code"}
	}
	secret := ""
	c.JWKS, c.JWKSURI = RawJSON(in.JWKS), in.JWKSURI
	if c.TokenEndpointAuthMethod != AuthNone && c.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		secret = ClientSecretPrefix + RandomToken()
		c.SecretHash = HashSecret(secret)
	}
	if err := p.Store.CreateClient(ctx, c); err != nil {
		return "", nil, err
	}
	if p.Auditor != nil {
		p.Auditor.Record(ctx, AuditEvent{TenantID: t.ID, Action: ActClientRegistered, ClientID: c.ID,
			Details: JSONMap{DetailKind: c.Kind, DetailClientName: c.Name, DetailTokenEndpointAuthMethod: c.TokenEndpointAuthMethod}})
	}
	return secret, c, nil
}

// DeleteClient removes a client of the tenant and revokes its grants; every
// replica is told about the client and each revoked grant so the client and
// its tokens stop at once.
func (p *Provisioner) DeleteClient(ctx context.Context, t *Tenant, clientID string) error {
	if _, err := p.Store.GetClient(ctx, t.ID, clientID); err != nil {
		return err
	}
	live, err := p.liveGrantsOf(ctx, t.ID, clientID)
	if err != nil {
		return err
	}
	if err := p.Store.DeleteClient(ctx, t.ID, clientID); err != nil {
		return err
	}
	if p.Bus != nil {
		// Caches of the client (tenants/oauth) drop it first: a replica
		// refuses it from the notice on.
		_ = p.Bus.Publish(context.WithoutCancel(ctx), TopicClientChanged, ClientChangedPayload(t.ID, clientID))
		for _, id := range live {
			_ = p.Bus.Publish(context.WithoutCancel(ctx), TopicGrantRevoked, GrantRevokedPayload(t.ID, id))
		}
	}
	if p.Auditor != nil {
		p.Auditor.Record(ctx, AuditEvent{TenantID: t.ID, Action: ActClientDeleted, ClientID: clientID,
			Details: JSONMap{DetailRevokedGrants: len(live)}})
	}
	return nil
}

// liveGrantsOf pages through the tenant's grants for the live ones of a client.
func (p *Provisioner) liveGrantsOf(ctx context.Context, tenantID, clientID string) ([]string, error) {
	var ids []string
	now := time.Now()
	for items, err := range Pages(200, func(pg Page) ([]Grant, string, error) { return p.Store.ListGrants(ctx, tenantID, pg) }) {
		if err != nil {
			return nil, err
		}
		for i := range items {
			if items[i].ClientID == clientID && items[i].Live(now) {
				ids = append(ids, items[i].ID)
			}
		}
	}
	return ids, nil
}
