package tenants

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Every row below carries TenantID and every store query is scoped by it
// (hydra style): isolation is a property of the storage layer, not of callers.
// Times are stored in UTC; the SQLite driver writes them in a fixed layout so
// that comparisons in SQL are chronological.

// Strings is a JSON-encoded list of strings stored in a TEXT column, so one
// model serves SQLite and Postgres.
type Strings []string

// Value implements driver.Valuer.
func (s Strings) Value() (driver.Value, error) {
	if s == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(s))
	return string(b), err
}

// Scan implements sql.Scanner.
func (s *Strings) Scan(src any) error {
	return scanJSON(src, (*[]string)(s))
}

// Contains reports whether v is in s.
func (s Strings) Contains(v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// JSONMap is a JSON object stored in a TEXT column.
type JSONMap map[string]any

// Value implements driver.Valuer.
func (m JSONMap) Value() (driver.Value, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]any(m))
	return string(b), err
}

// Scan implements sql.Scanner.
func (m *JSONMap) Scan(src any) error {
	return scanJSON(src, (*map[string]any)(m))
}

func scanJSON(src any, dst any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("tenants: cannot scan %T into JSON column", src)
	}
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, dst)
}

// Tenant is one SaaS team: its own connector URL, authorization server, IdP
// settings and upstream MCP server.
type Tenant struct {
	ID                   string   `gorm:"primaryKey;size:64" json:"id"`
	Slug                 string   `gorm:"size:40;uniqueIndex" json:"slug"`
	Name                 string   `gorm:"size:200" json:"name"`
	UpstreamMCPURL       string   `gorm:"column:upstream_mcp_url;size:2048" json:"upstream_mcp_url"`
	CustomDomain         *string  `gorm:"size:253" json:"custom_domain,omitempty"` // unique only once verified (partial index)
	CustomDomainVerified bool     `json:"custom_domain_verified"`
	Settings             Settings `gorm:"type:text" json:"settings"`
	SealedSecrets        Sealed   `gorm:"type:text" json:"-"` // upstream_headers, audit_webhook_secret
	// SuspendedAt, when set, stops the team: its connector answers a clear
	// error and its tokens stop working (operators suspend, DESIGN §12).
	SuspendedAt *time.Time `json:"suspended_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Suspended reports whether an operator suspended the team.
func (t *Tenant) Suspended() bool { return t.SuspendedAt != nil }

// Sealed holds named secrets, each sealed with the platform Sealer.
type Sealed map[string]string

// Value implements driver.Valuer.
func (s Sealed) Value() (driver.Value, error) {
	if s == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]string(s))
	return string(b), err
}

// Scan implements sql.Scanner.
func (s *Sealed) Scan(src any) error { return scanJSON(src, (*map[string]string)(s)) }

// IdP types.
const (
	IdPGitHub = "github"
	IdPGoogle = "google"
	IdPOIDC   = "oidc"
	IdPDev    = "dev"
)

// Issuers of the IdP types with a fixed issuer (users are keyed by issuer).
const (
	GitHubIssuer = "https://github.com"
	GoogleIssuer = "https://accounts.google.com"
)

// IdPConfig is one upstream identity provider of a tenant. A tenant may have
// several (one per type); the login page offers a chooser.
type IdPConfig struct {
	TenantID           string    `gorm:"primaryKey;size:64" json:"-"`
	Type               string    `gorm:"primaryKey;size:16" json:"type"`
	ClientID           string    `gorm:"size:512" json:"client_id,omitempty"`
	ClientSecretSealed string    `gorm:"type:text" json:"-"`
	IssuerURL          string    `gorm:"size:2048" json:"issuer_url,omitempty"`
	Scopes             Strings   `gorm:"type:text" json:"scopes"`
	AllowedDomains     Strings   `gorm:"type:text" json:"allowed_domains"`
	AllowedOrgs        Strings   `gorm:"type:text" json:"allowed_orgs"`
	AutoLogin          string    `gorm:"size:200" json:"auto_login,omitempty"` // dev IdP: log in as this user without a form
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// APIKey authorizes provisioning calls for one tenant. Only its SHA-256 hash
// is stored; the key itself is shown once.
type APIKey struct {
	ID         string     `gorm:"primaryKey;size:64" json:"id"`
	TenantID   string     `gorm:"size:64;index" json:"-"`
	Name       string     `gorm:"size:200" json:"name"`
	Prefix     string     `gorm:"size:16" json:"prefix"`
	Hash       string     `gorm:"size:64;uniqueIndex" json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// ExpiresAt, when set, ends the key (automation keys may be short-lived).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// ReadOnly keys may only read (GET); any change answers 403.
	ReadOnly bool `json:"read_only"`
}

// Usable reports whether the key may be used at t.
func (k *APIKey) Usable(t time.Time) bool { return k.ExpiresAt == nil || t.Before(*k.ExpiresAt) }

// SystemValue is a platform-wide setting, e.g. the admin token hash.
type SystemValue struct {
	Key       string `gorm:"primaryKey;size:100"`
	Value     string `gorm:"type:text"`
	CreatedAt time.Time
}

// Client kinds.
const (
	ClientDCR           = "dcr"
	ClientPreregistered = "preregistered"
	ClientCIMD          = "cimd"
)

// Client is an OAuth client of one tenant's authorization server.
type Client struct {
	TenantID                string  `gorm:"primaryKey;size:64" json:"-"`
	ID                      string  `gorm:"primaryKey;size:2048" json:"client_id"`
	Kind                    string  `gorm:"size:16" json:"kind"`
	SecretHash              string  `gorm:"size:64" json:"-"`
	Name                    string  `gorm:"size:200" json:"client_name,omitempty"`
	RedirectURIs            Strings `gorm:"type:text" json:"redirect_uris"`
	GrantTypes              Strings `gorm:"type:text" json:"grant_types"`
	ResponseTypes           Strings `gorm:"type:text" json:"response_types"`
	TokenEndpointAuthMethod string  `gorm:"size:32" json:"token_endpoint_auth_method"`
	ApplicationType         string  `gorm:"size:16" json:"application_type,omitempty"`
	Scope                   string  `gorm:"size:1000" json:"scope,omitempty"`
	ClientURI               string  `gorm:"size:2048" json:"client_uri,omitempty"`
	LogoURI                 string  `gorm:"size:2048" json:"logo_uri,omitempty"`
	MetadataHash            string  `gorm:"size:64;index" json:"-"` // idempotent DCR: same metadata → same client
	SkipConsent             bool    `json:"skip_consent"`
	// JWKS or JWKSURI hold the keys of a private_key_jwt client (RFC 7523 §2.2).
	JWKS       RawJSON    `gorm:"column:jwks;type:text" json:"jwks,omitempty"`
	JWKSURI    string     `gorm:"column:jwks_uri;size:2048" json:"jwks_uri,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// User is a person of one tenant, as identified by an upstream IdP: keyed
// by (tenant, IdP type, IdP issuer, subject), since a subject is unique only
// within its issuer (OIDC Core §2; docs/SECURITY.md §10).
type User struct {
	TenantID   string `gorm:"primaryKey;size:64" json:"-"`
	ID         string `gorm:"primaryKey;size:64" json:"id"`
	IdP        string `gorm:"column:idp;size:16;uniqueIndex:idx_users_idp_issuer_subject" json:"idp"`
	IdPIssuer  string `gorm:"column:idp_issuer;size:2048;uniqueIndex:idx_users_idp_issuer_subject" json:"idp_issuer,omitempty"`
	IdPSubject string `gorm:"column:idp_subject;size:255;uniqueIndex:idx_users_idp_issuer_subject" json:"idp_subject"`
	Email      string `gorm:"size:320" json:"email,omitempty"`
	Name       string `gorm:"size:200" json:"name,omitempty"`
	Username   string `gorm:"size:200" json:"username,omitempty"`
	// Orgs are the GitHub organizations seen at the last login or refresh
	// (read only while allowed_orgs is set).
	Orgs        Strings   `gorm:"type:text" json:"orgs,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	LastLoginAt time.Time `json:"last_login_at"`
}

// Consent remembers that a user approved a client for some scopes.
type Consent struct {
	TenantID  string  `gorm:"primaryKey;size:64"`
	UserID    string  `gorm:"primaryKey;size:64"`
	ClientID  string  `gorm:"primaryKey;size:2048"`
	Scopes    Strings `gorm:"type:text"`
	CreatedAt time.Time
}

// PendingAuthorization is an /authorize request in flight: through upstream
// login and consent, until a code is issued. Its ID is the opaque state sent
// to the upstream IdP.
type PendingAuthorization struct {
	TenantID               string  `gorm:"primaryKey;size:64"`
	ID                     string  `gorm:"primaryKey;size:64"`
	Mode                   string  `gorm:"size:8"`    // path | host: the issuer/resource pair the flow belongs to
	Issuer                 string  `gorm:"size:2048"` // the site (issuer) the flow started at; only it continues the flow
	ClientID               string  `gorm:"size:2048"`
	RedirectURI            string  `gorm:"size:2048"`
	State                  string  `gorm:"size:2048"`
	CodeChallenge          string  `gorm:"size:128"`
	Resource               string  `gorm:"size:2048"`
	Scopes                 Strings `gorm:"type:text"`
	IdP                    string  `gorm:"column:idp;size:16"`
	UpstreamNonce          string  `gorm:"size:128"`
	UpstreamVerifierSealed string  `gorm:"type:text"`
	UserID                 string  `gorm:"size:64"`
	CSRFToken              string  `gorm:"column:csrf_token;size:128"`
	ConsentRequired        bool
	UpstreamTokenSealed    string `gorm:"type:text"` // sealed JSON of the upstream token until a grant takes it
	CreatedAt              time.Time
	ExpiresAt              time.Time `gorm:"index"`
	// Unsaved marks one that Authorize just built: the first step that
	// must outlive the request (login form, chooser, upstream redirect,
	// consent page) stores it, and a flow that ends in the request it
	// started in (auto-login with consent on file) never writes it.
	Unsaved bool `gorm:"-"`
}

// Grant is a user's authorization of a client. Access and refresh tokens hang
// off it; revoking it stops them all.
type Grant struct {
	TenantID             string     `gorm:"primaryKey;size:64" json:"-"`
	ID                   string     `gorm:"primaryKey;size:64" json:"id"`
	UserID               string     `gorm:"size:64;index" json:"user_id,omitempty"`
	Subject              string     `gorm:"size:255" json:"subject"`
	ClientID             string     `gorm:"size:2048;index" json:"client_id"`
	Scopes               Strings    `gorm:"type:text" json:"scopes"`
	Resource             string     `gorm:"size:2048" json:"resource"`
	CreatedAt            time.Time  `json:"created_at"`
	ExpiresAt            time.Time  `gorm:"index" json:"expires_at"`
	LastUsedAt           *time.Time `json:"last_used_at,omitempty"`
	RevokedAt            *time.Time `json:"revoked_at,omitempty"`
	RevokedReason        string     `gorm:"size:64" json:"revoked_reason,omitempty"`
	UpstreamIdP          string     `gorm:"column:upstream_idp;size:16" json:"upstream_idp,omitempty"`
	UpstreamTokenSealed  string     `gorm:"type:text" json:"-"`
	UpstreamTokenExpiry  *time.Time `gorm:"index" json:"upstream_token_expiry,omitempty"`
	UpstreamRefreshError string     `gorm:"size:1000" json:"upstream_refresh_error,omitempty"`
}

// Live reports whether the grant can still be used at t.
func (g *Grant) Live(t time.Time) bool {
	return g.RevokedAt == nil && t.Before(g.ExpiresAt)
}

// AuthCode is an authorization code, stored by hash, single use.
type AuthCode struct {
	TenantID      string  `gorm:"primaryKey;size:64"`
	Hash          string  `gorm:"primaryKey;size:64"`
	GrantID       string  `gorm:"size:64;index"`
	ClientID      string  `gorm:"size:2048"`
	RedirectURI   string  `gorm:"size:2048"`
	CodeChallenge string  `gorm:"size:128"`
	Resource      string  `gorm:"size:2048"`
	Scopes        Strings `gorm:"type:text"`
	UserID        string  `gorm:"size:64"`
	Mode          string  `gorm:"size:8"`
	Issuer        string  `gorm:"size:2048"` // the issuing site; the code redeems only there
	CreatedAt     time.Time
	ExpiresAt     time.Time `gorm:"index"`
	UsedAt        *time.Time
}

// RefreshToken is stored only as a hash. A rotated token keeps a pointer to
// its successor so that a racing second refresh within the grace window gets
// the same successor (the successor's value is derived, never stored).
type RefreshToken struct {
	TenantID      string `gorm:"primaryKey;size:64"`
	Hash          string `gorm:"primaryKey;size:64"`
	GrantID       string `gorm:"size:64;index"`
	ClientID      string `gorm:"size:2048"`
	Generation    int
	CreatedAt     time.Time
	ExpiresAt     time.Time `gorm:"index"` // absolute
	IdleExpiresAt time.Time
	RotatedAt     *time.Time `gorm:"index"`
	SuccessorHash string     `gorm:"size:64"`
	// DPoPJKT binds a public client's refresh token to its DPoP key (RFC 9449 §5).
	DPoPJKT string `gorm:"column:dpop_jkt;size:64"`
}

// Signing key states.
const (
	KeyNext    = "next"    // published in JWKS, not yet signing
	KeyActive  = "active"  // signs new tokens
	KeyRetired = "retired" // published until RetireAfter, then deleted
)

// SigningKey is one ES256 key of a tenant. The private key is sealed.
type SigningKey struct {
	TenantID      string `gorm:"primaryKey;size:64"`
	KID           string `gorm:"column:kid;primaryKey;size:64"`
	Alg           string `gorm:"size:16"`
	State         string `gorm:"size:16;index"`
	PrivateSealed string `gorm:"type:text"`
	PublicJWK     string `gorm:"column:public_jwk;type:text"`
	CreatedAt     time.Time
	ActivatedAt   *time.Time
	RetiredAt     *time.Time
	DeleteAfter   *time.Time
}

// AuditEvent is one security event. It never holds a token, code or secret.
type AuditEvent struct {
	ID        string    `gorm:"primaryKey;size:32" json:"id"` // time-ordered
	TenantID  string    `gorm:"size:64;index:idx_audit_tenant_time" json:"tenant"`
	Time      time.Time `gorm:"index:idx_audit_tenant_time" json:"time"`
	Actor     string    `gorm:"size:255" json:"actor,omitempty"`
	Action    string    `gorm:"size:64" json:"action"`
	ClientID  string    `gorm:"size:2048" json:"client_id,omitempty"`
	Subject   string    `gorm:"size:255" json:"subject,omitempty"`
	IP        string    `gorm:"column:ip;size:64" json:"ip,omitempty"`
	UserAgent string    `gorm:"size:512" json:"user_agent,omitempty"`
	Outcome   string    `gorm:"size:16" json:"outcome"`
	Reason    string    `gorm:"size:255" json:"reason,omitempty"`
	RequestID string    `gorm:"size:64" json:"request_id,omitempty"`
	Details   JSONMap   `gorm:"type:text" json:"details,omitempty"`
}

// WebhookDelivery is one attempt series to deliver audit events to a tenant's
// webhook; dead-lettered after the last retry.
type WebhookDelivery struct {
	ID          string     `gorm:"primaryKey;size:32" json:"id"`
	TenantID    string     `gorm:"size:64;index" json:"-"`
	EventIDs    Strings    `gorm:"type:text" json:"event_ids"`
	Status      string     `gorm:"size:16" json:"status"` // pending | delivered | dead
	Attempts    int        `json:"attempts"`
	LastError   string     `gorm:"size:1000" json:"last_error,omitempty"`
	LastStatus  int        `json:"last_status,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

// Errors returned by stores. Callers match them with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// AllModels lists every gorm model, for the migration/model consistency test.
func AllModels() []any {
	return []any{
		&Tenant{}, &IdPConfig{}, &APIKey{}, &SystemValue{}, &Client{}, &User{}, &Consent{},
		&PendingAuthorization{}, &Grant{}, &AuthCode{}, &RefreshToken{}, &SigningKey{},
		&AuditEvent{}, &WebhookDelivery{}, &EnterpriseIdP{}, &UsedJTI{},
		&Account{}, &AccountIdentity{}, &AccountSession{}, &AccountToken{}, &Membership{}, &Invitation{}, &OutboxMessage{},
	}
}

// Issuer is the issuer users of this IdP are keyed by: the configured
// issuer_url for oidc, the provider's own for GitHub and Google, "" for dev.
func (c *IdPConfig) Issuer() string {
	switch c.Type {
	case IdPGitHub:
		return GitHubIssuer
	case IdPGoogle:
		return GoogleIssuer
	case IdPOIDC:
		return c.IssuerURL
	}
	return ""
}
