package tenants

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
)

// Enterprise-Managed Authorization (docs/RULES.md §11; MCP ext-auth
// enterprise-managed-authorization; draft-ietf-oauth-identity-assertion-authz-grant).
const (
	// IdPEnterprise is the User.IdP of people who arrived with an ID-JAG;
	// their IdPIssuer is the enterprise issuer.
	IdPEnterprise = "enterprise"
	// GrantJWTBearer is the RFC 7523 §2.1 grant type an ID-JAG is redeemed with.
	GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// GrantProfileIDJAG is the authorization grant profile the AS metadata
	// advertises (draft-ietf-oauth-identity-assertion-authz-grant §7.2).
	GrantProfileIDJAG = "urn:ietf:params:oauth:grant-profile:id-jag"
)

// EnterpriseIdP is an enterprise identity provider (Okta, Entra, …) a
// tenant trusts to issue ID-JAGs for its connector.
type EnterpriseIdP struct {
	TenantID string `gorm:"primaryKey;size:64" json:"-"`
	ID       string `gorm:"primaryKey;size:64" json:"id"`
	// Issuer is compared byte for byte with the ID-JAG's iss (RFC 7519 §4.1.1).
	Issuer string `gorm:"size:2048" json:"issuer"`
	// JWKSURI, when empty, is discovered from the issuer's metadata.
	JWKSURI string `gorm:"column:jwks_uri;size:2048" json:"jwks_uri,omitempty"`
	// AllowedClients are the client ids that may redeem this IdP's ID-JAGs.
	AllowedClients Strings `gorm:"type:text" json:"allowed_clients"`
	// Scopes is the most this IdP may grant; empty means the tenant's offered scopes.
	Scopes    Strings   `gorm:"type:text" json:"scopes"`
	CreatedAt time.Time `json:"created_at"`
}

// TableName is the enterprise IdPs table.
func (EnterpriseIdP) TableName() string { return "enterprise_idps" }

// MaxScopes is the most the IdP may grant at tenant t.
func (e *EnterpriseIdP) MaxScopes(s Settings) []string {
	if len(e.Scopes) == 0 {
		return s.OfferedScopes()
	}
	return e.Scopes
}

// UsedJTI records a single-use identifier (an ID-JAG's or a client
// assertion's jti, a DPoP proof's jti) until it expires. The unique key
// is what makes "single use" hold across replicas.
type UsedJTI struct {
	TenantID  string    `gorm:"primaryKey;size:64"`
	Key       string    `gorm:"column:jti_key;primaryKey;size:64"` // SHA-256 of kind, issuer and jti
	ExpiresAt time.Time `gorm:"index"`
}

// TableName is the used identifiers table.
func (UsedJTI) TableName() string { return "used_jtis" }

// ErrReplayed is returned by UseJTI for an identifier already used.
var ErrReplayed = errors.New("identifier already used")

// JTIKey is the UsedJTI key of jti issued by issuer for a kind of use
// ("id-jag", "client-assertion", "dpop").
func JTIKey(kind, issuer, jti string) string {
	return HashSecret(kind + "\x00" + issuer + "\x00" + jti)
}

// EnterpriseStore holds the tenant's trusted enterprise IdPs and the used
// single-use identifiers.
type EnterpriseStore interface {
	// CreateEnterpriseIdP inserts e; ErrConflict if the tenant trusts that issuer already.
	CreateEnterpriseIdP(ctx context.Context, e *EnterpriseIdP) error
	ListEnterpriseIdPs(ctx context.Context, tenantID string) ([]EnterpriseIdP, error)
	GetEnterpriseIdP(ctx context.Context, tenantID, id string) (*EnterpriseIdP, error)
	// FindEnterpriseIdP finds the tenant's IdP by exact issuer.
	FindEnterpriseIdP(ctx context.Context, tenantID, issuer string) (*EnterpriseIdP, error)
	DeleteEnterpriseIdP(ctx context.Context, tenantID, id string) error
	// UseJTI records key until expiresAt; ErrReplayed if it is recorded
	// and not yet expired. Atomic across replicas (one unique key).
	UseJTI(ctx context.Context, tenantID, key string, expiresAt, now time.Time) error
	// DeleteExpiredJTIs removes identifiers (any tenant) expired before t.
	DeleteExpiredJTIs(ctx context.Context, before time.Time, limit int) (int64, error)
}

// IDJAGTarget is what an enterprise registers at its IdP for one URL mode
// of the connector: the ID-JAG's audience (this issuer) and resource (the
// connector URL), and where clients redeem it.
type IDJAGTarget struct {
	URLMode       string `json:"url_mode"`
	Audience      string `json:"audience"`
	Resource      string `json:"resource"`
	TokenEndpoint string `json:"token_endpoint"`
}

// IDJAGTargets lists the targets of the tenant's sites (path mode, and
// host mode where enabled); the API and the console show these.
func IDJAGTargets(sites ...Site) []IDJAGTarget {
	out := make([]IDJAGTarget, 0, len(sites))
	for _, s := range sites {
		out = append(out, IDJAGTarget{URLMode: s.Mode, Audience: s.Issuer, Resource: s.Resource, TokenEndpoint: s.Endpoint("token")})
	}
	return out
}

// EnterpriseIdPInput is what the API and CLI take.
type EnterpriseIdPInput struct {
	Issuer         string
	JWKSURI        string
	AllowedClients []string
	Scopes         []string
}

// validateHTTPSURL is ValidateHTTPURL limited to https: issuers and key
// sets must come over authenticated TLS (ext-auth §7.4.1).
func validateHTTPSURL(raw string) string {
	if msg := ValidateHTTPURL(raw); msg != "" {
		return msg
	}
	if u, _ := url.Parse(raw); u.Scheme != "https" {
		return "must be an https URL"
	}
	return ""
}

// Validate checks the input against the tenant's settings.
func (in *EnterpriseIdPInput) Validate(s Settings) *ValidationError {
	v := &ValidationError{}
	if msg := validateHTTPSURL(in.Issuer); msg != "" {
		v.Add("issuer", "%s", msg)
	} else if u, _ := url.Parse(in.Issuer); u.RawQuery != "" || u.ForceQuery {
		v.Add("issuer", "must not contain a query (RFC 8414 §2)")
	}
	if in.JWKSURI != "" {
		if msg := validateHTTPSURL(in.JWKSURI); msg != "" {
			v.Add("jwks_uri", "%s", msg)
		}
	}
	if len(in.AllowedClients) == 0 {
		v.Add("allowed_clients", "at least one client id is required (the MCP clients that may redeem this IdP's ID-JAGs)")
	}
	if len(in.AllowedClients) > 100 {
		v.Add("allowed_clients", "at most 100 client ids")
	}
	seen := map[string]bool{}
	for i, c := range in.AllowedClients {
		if c == "" || len(c) > 2048 || strings.TrimSpace(c) != c {
			v.Add("allowed_clients", "item %d is not a client id", i)
		}
		if seen[c] {
			v.Add("allowed_clients", "%q is listed twice", c)
		}
		seen[c] = true
	}
	offered := Strings(s.OfferedScopes())
	for _, sc := range in.Scopes {
		if !validScopeToken(sc) {
			v.Add("scopes", "%q is not a valid scope token (RFC 6749 §3.3)", sc)
		} else if !offered.Contains(sc) {
			v.Add("scopes", "%q is not offered by this tenant (settings.scopes)", sc)
		}
	}
	return v
}

// metadataChanged tells every replica that the tenant's authorization
// server metadata changed (it advertises the jwt-bearer grant while the
// tenant trusts an enterprise IdP): cached documents are dropped.
func (p *Provisioner) metadataChanged(ctx context.Context, tenantID string) {
	if p.Bus != nil {
		_ = p.Bus.Publish(context.WithoutCancel(ctx), TopicTenantChanged, tenantID)
	}
}

// CreateEnterpriseIdP makes the tenant trust an enterprise IdP.
// ErrConflict when it trusts that issuer already.
func (p *Provisioner) CreateEnterpriseIdP(ctx context.Context, t *Tenant, in EnterpriseIdPInput) (*EnterpriseIdP, error) {
	if v := in.Validate(t.Settings); v.Err() != nil {
		return nil, v
	}
	e := &EnterpriseIdP{TenantID: t.ID, ID: RandomID(), Issuer: in.Issuer, JWKSURI: in.JWKSURI,
		AllowedClients: Strings(append([]string{}, in.AllowedClients...)), Scopes: Strings(append([]string{}, in.Scopes...)),
		CreatedAt: time.Now().UTC()}
	if err := p.Store.CreateEnterpriseIdP(ctx, e); err != nil {
		return nil, err
	}
	p.audit(ctx, t.ID, "admin.enterprise_idp.created", JSONMap{DetailID: e.ID, DetailIssuer: e.Issuer, DetailAllowedClients: e.AllowedClients})
	p.metadataChanged(ctx, t.ID)
	return e, nil
}

// DeleteEnterpriseIdP stops trusting the IdP and ends the access of every
// user who arrived through it (their grants were the IdP's to vouch for).
func (p *Provisioner) DeleteEnterpriseIdP(ctx context.Context, t *Tenant, id string) (int, error) {
	e, err := p.Store.GetEnterpriseIdP(ctx, t.ID, id)
	if err != nil {
		return 0, err
	}
	if err := p.Store.DeleteEnterpriseIdP(ctx, t.ID, id); err != nil {
		return 0, err
	}
	p.metadataChanged(ctx, t.ID)
	grants := 0
	for items, err := range Pages(200, func(pg Page) ([]User, string, error) { return p.Store.ListUsers(ctx, t.ID, pg) }) {
		if err != nil {
			return grants, err
		}
		for i := range items {
			if u := &items[i]; u.IdP == IdPEnterprise && u.IdPIssuer == e.Issuer {
				n, err := RevokeUserAccess(ctx, p.Store, p.Bus, p.Auditor, t.ID, u.ID, RevokedIdPChanged)
				if err != nil {
					return grants, err
				}
				grants += n
			}
		}
	}
	p.audit(ctx, t.ID, "admin.enterprise_idp.deleted", JSONMap{DetailID: e.ID, DetailIssuer: e.Issuer, DetailRevokedGrants: grants})
	return grants, nil
}
