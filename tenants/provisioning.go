package tenants

import (
	"context"
	"errors"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Provisioner is the domain behind the provisioning API and the CLI: it
// validates input, seals secrets, writes the store and audits admin changes.
type Provisioner struct {
	Store   Store
	Sealer  *Sealer
	Auditor Auditor
	// AllowDevIdP permits the dev IdP (embedded default, tests).
	AllowDevIdP bool
	// AllowPrivateFetch (GATEHOUSE_ALLOW_PRIVATE_FETCH, tests) also accepts
	// an http issuer_url; otherwise it must be https.
	AllowPrivateFetch bool
	// Bus, when set, tells every replica about revocations and tenant changes.
	Bus Bus
	// PublicHost and TenantDomain, when set, are refused as custom domains
	// (they are the platform's own hosts).
	PublicHost   string
	TenantDomain string
}

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$`)

// reservedSlugs would collide with platform paths, hosts or be confusing.
var reservedSlugs = map[string]bool{
	"api": true, "www": true, "admin": true, "app": true, "console": true, "static": true, "assets": true,
	"oauth": true, "mcp": true, "auth": true, "login": true, "logout": true, "signup": true, "healthz": true,
	"readyz": true, "metrics": true, "docs": true, "status": true, "gatehouse": true, "root": true,
	"system": true, "help": true, "support": true, "mail": true, "well-known": true, "authorize": true,
	"token": true, "register": true, "jwks": true, "static-assets": true, "internal": true,
}

// ValidateSlug checks a tenant slug (docs/RULES.md §9: ^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$ minus reserved words).
func ValidateSlug(s string) string {
	switch {
	case !slugPattern.MatchString(s):
		return "must be 3-40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"
	case strings.Contains(s, "--"):
		return "must not contain '--'"
	case reservedSlugs[s]:
		return "is reserved"
	}
	return ""
}

// SuggestSlug makes a valid slug from a team name ("Café Ürban Labs" →
// "cafe-urban-labs"): accents dropped, other runs of characters become one
// '-', cut to 40; a reserved or too short result gets "-team". "" when no
// letter or digit is left.
func SuggestSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(strings.ToLower(name)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
	}
	s := b.String()
	if s == "" {
		return ""
	}
	for _, cand := range []string{s, s + "-team"} {
		if len(cand) > 40 {
			cand = strings.TrimRight(cand[:40], "-")
		}
		if ValidateSlug(cand) == "" {
			return cand
		}
	}
	return ""
}

// ValidateHTTPURL checks an absolute http(s) URL without credentials or fragment.
func ValidateHTTPURL(raw string) string {
	if raw == "" {
		return "is required"
	}
	if len(raw) > 2048 {
		return "must be at most 2048 characters"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return "must be an absolute http(s) URL"
	}
	if u.User != nil {
		return "must not contain credentials"
	}
	if u.Fragment != "" {
		return "must not contain a fragment"
	}
	return ""
}

// ValidateIssuerURL checks an OIDC issuer_url (OpenID Connect Discovery
// §4, RFC 8414 §2): an absolute https URL with a host and no query,
// fragment or credentials. The discovery path is appended to it, so a "?"
// would make the fetch land on another path of the server. allowHTTP
// (GATEHOUSE_ALLOW_PRIVATE_FETCH, tests only) also accepts http.
func ValidateIssuerURL(raw string, allowHTTP bool) string {
	if msg := ValidateHTTPURL(raw); msg != "" {
		return msg
	}
	u, _ := url.Parse(raw)
	switch {
	case u.Scheme != "https" && !allowHTTP:
		return "must be an https URL"
	case strings.Contains(raw, "?"):
		return "must not contain a query"
	case strings.Contains(raw, "#"):
		return "must not contain a fragment"
	case strings.Contains(raw, "@"):
		return "must not contain credentials"
	}
	return ""
}

var domainLabel = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateDomain checks a custom domain: lower-case DNS name, at least two
// labels, no port, not an IP address.
func ValidateDomain(d string) string {
	if len(d) > 253 || d == "" {
		return "must be a DNS name of at most 253 characters"
	}
	if net.ParseIP(d) != nil {
		return "must be a DNS name, not an IP address"
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "must have at least two labels (e.g. mcp.example.com)"
	}
	for _, l := range labels {
		if !domainLabel.MatchString(l) {
			return "is not a valid lower-case DNS name"
		}
	}
	return ""
}

// TenantInput is what creating a tenant takes.
type TenantInput struct {
	Slug           string
	Name           string
	UpstreamMCPURL string
	CustomDomain   *string
	IdP            *IdPInput
	Settings       *Settings
}

// IdPInput configures one upstream IdP.
type IdPInput struct {
	Type           string
	ClientID       string
	ClientSecret   string
	IssuerURL      string
	Scopes         []string
	AllowedDomains []string
	AllowedOrgs    []string
	AutoLogin      string
}

// Validate checks the IdP input; prefix names the field path. allowDev
// permits the dev IdP; allowHTTPIssuer an http issuer_url (both: see
// Provisioner).
func (in IdPInput) Validate(prefix string, allowDev, allowHTTPIssuer bool) *ValidationError {
	v := &ValidationError{}
	switch in.Type {
	case IdPGitHub, IdPGoogle:
		if in.ClientID == "" {
			v.Add(prefix+"client_id", "is required for %s", in.Type)
		}
	case IdPOIDC:
		if in.ClientID == "" {
			v.Add(prefix+"client_id", "is required for oidc")
		}
		if msg := ValidateIssuerURL(in.IssuerURL, allowHTTPIssuer); msg != "" {
			v.Add(prefix+"issuer_url", "%s", msg)
		}
	case IdPDev:
		if !allowDev {
			v.Add(prefix+"type", "the dev IdP is disabled on this deployment (GATEHOUSE_ALLOW_DEV_IDP)")
		}
	case "":
		v.Add(prefix+"type", "is required (github, google, oidc or dev)")
	default:
		v.Add(prefix+"type", "must be one of github, google, oidc, dev")
	}
	if in.Type != IdPOIDC && in.IssuerURL != "" {
		v.Add(prefix+"issuer_url", "is only used by the oidc type")
	}
	if in.Type != IdPGitHub && len(in.AllowedOrgs) > 0 {
		v.Add(prefix+"allowed_orgs", "is only used by the github type")
	}
	for _, d := range in.AllowedDomains {
		if msg := ValidateDomain(strings.ToLower(d)); msg != "" {
			v.Add(prefix+"allowed_domains", "%q %s", d, msg)
		}
	}
	for _, s := range in.Scopes {
		if !validScopeToken(s) {
			v.Add(prefix+"scopes", "%q is not a valid scope", s)
		}
	}
	if len(in.AutoLogin) > 200 {
		v.Add(prefix+"auto_login", "must be at most 200 characters")
	}
	if in.AutoLogin != "" && in.Type != IdPDev {
		v.Add(prefix+"auto_login", "is only used by the dev type")
	}
	return v
}

func (p *Provisioner) audit(ctx context.Context, tenantID, action string, details JSONMap) {
	if p.Auditor != nil {
		p.Auditor.Record(ctx, AuditEvent{TenantID: tenantID, Action: action, Details: details})
	}
}

// SealSettingsSecrets moves write-only settings into the tenant's sealed
// secrets (an empty value clears one).
func (p *Provisioner) SealSettingsSecrets(t *Tenant, s *Settings) error {
	if t.SealedSecrets == nil {
		t.SealedSecrets = Sealed{}
	}
	if s.UpstreamHeaders != nil {
		if len(s.UpstreamHeaders) == 0 {
			delete(t.SealedSecrets, SecretUpstreamHeaders)
		} else {
			raw, _ := jsonMarshal(s.UpstreamHeaders)
			sealed, err := p.Sealer.Seal(string(raw), "tenant:"+t.ID+":"+SecretUpstreamHeaders)
			if err != nil {
				return err
			}
			t.SealedSecrets[SecretUpstreamHeaders] = sealed
		}
	}
	if s.AuditWebhookSecret != "" {
		sealed, err := p.Sealer.Seal(s.AuditWebhookSecret, "tenant:"+t.ID+":"+SecretAuditWebhookSecret)
		if err != nil {
			return err
		}
		t.SealedSecrets[SecretAuditWebhookSecret] = sealed
	}
	s.UpstreamHeaders, s.AuditWebhookSecret = nil, ""
	return nil
}

// OpenTenantSecret opens a tenant secret sealed by SealSettingsSecrets.
func OpenTenantSecret(s *Sealer, t *Tenant, name string) (string, error) {
	return s.Open(t.SealedSecrets[name], "tenant:"+t.ID+":"+name)
}

// CreateTenant validates and creates a tenant with its IdP (default: dev where
// allowed). ErrConflict when the slug or domain is taken.
func (p *Provisioner) CreateTenant(ctx context.Context, in TenantInput) (*Tenant, error) {
	v := &ValidationError{}
	if msg := ValidateSlug(in.Slug); msg != "" {
		v.Add("slug", "%s", msg)
	}
	if len(in.Name) > 200 {
		v.Add("name", "must be at most 200 characters")
	}
	if msg := ValidateHTTPURL(in.UpstreamMCPURL); msg != "" {
		v.Add("upstream_mcp_url", "%s", msg)
	}
	if in.CustomDomain != nil {
		if msg := p.validateCustomDomain(*in.CustomDomain); msg != "" {
			v.Add("custom_domain", "%s", msg)
		}
	}
	var settings Settings
	if in.Settings != nil {
		settings = *in.Settings
		if err := settings.Validate("settings."); err != nil {
			v.Errors = append(v.Errors, err.(*ValidationError).Errors...)
		}
	}
	idp := in.IdP
	if idp == nil {
		if !p.AllowDevIdP {
			v.Add("idp", "is required on this deployment (the dev IdP is disabled)")
		} else {
			idp = &IdPInput{Type: IdPDev}
		}
	}
	if idp != nil {
		v.Errors = append(v.Errors, idp.Validate("idp.", p.AllowDevIdP, p.AllowPrivateFetch).Errors...)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	name := in.Name
	if name == "" {
		name = in.Slug
	}
	t := &Tenant{ID: RandomID(), Slug: in.Slug, Name: name, UpstreamMCPURL: in.UpstreamMCPURL, CustomDomain: in.CustomDomain, CreatedAt: now, UpdatedAt: now}
	if err := p.SealSettingsSecrets(t, &settings); err != nil {
		return nil, err
	}
	t.Settings = settings
	err := p.Store.InTx(ctx, func(s Store) error {
		if err := s.CreateTenant(ctx, t); err != nil {
			return err
		}
		cfg, err := p.idpConfig(t.ID, *idp)
		if err != nil {
			return err
		}
		return s.PutIdP(ctx, cfg)
	})
	if err != nil {
		return nil, err
	}
	p.audit(ctx, t.ID, "admin.tenant.created", JSONMap{DetailSlug: t.Slug})
	return t, nil
}

func (p *Provisioner) idpConfig(tenantID string, in IdPInput) (*IdPConfig, error) {
	cfg := &IdPConfig{TenantID: tenantID, Type: in.Type, ClientID: in.ClientID, IssuerURL: strings.TrimRight(in.IssuerURL, "/"),
		Scopes: Strings(in.Scopes), AllowedDomains: lowerAll(in.AllowedDomains), AllowedOrgs: Strings(in.AllowedOrgs), AutoLogin: in.AutoLogin}
	if in.ClientSecret != "" {
		sealed, err := p.Sealer.Seal(in.ClientSecret, IdPSecretContext(tenantID, in.Type))
		if err != nil {
			return nil, err
		}
		cfg.ClientSecretSealed = sealed
	}
	return cfg, nil
}

// IdPSecretContext is the seal context of an IdP client secret.
func IdPSecretContext(tenantID, typ string) string { return "idp:" + tenantID + ":" + typ }

func lowerAll(in []string) Strings {
	out := make(Strings, 0, len(in))
	for _, s := range in {
		out = append(out, strings.ToLower(s))
	}
	return out
}

// PutIdP validates and stores the tenant's IdP of in.Type (replaceAll: as
// its only IdP). An empty client secret keeps the stored one (PUT without
// re-sending it). Users the new configuration no longer admits — another
// type or issuer, or narrowed allowed_domains/allowed_orgs — have their
// grants and consents revoked (RevokeUnadmitted).
func (p *Provisioner) PutIdP(ctx context.Context, t *Tenant, in IdPInput, replaceAll bool) (*IdPConfig, error) {
	if v := in.Validate("", p.AllowDevIdP, p.AllowPrivateFetch); v.Err() != nil {
		return nil, v
	}
	cfg, err := p.idpConfig(t.ID, in)
	if err != nil {
		return nil, err
	}
	if in.ClientSecret == "" {
		if old, err := p.Store.GetIdP(ctx, t.ID, in.Type); err == nil {
			cfg.ClientSecretSealed = old.ClientSecretSealed
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		// GitHub and Google apps are confidential clients: without a secret
		// no login can succeed, so refuse the setting now rather than then.
		if cfg.ClientSecretSealed == "" && (in.Type == IdPGitHub || in.Type == IdPGoogle) {
			return nil, &ValidationError{Errors: []FieldError{{Field: "client_secret", Detail: "is required for " + in.Type + " (none is stored yet)"}}}
		}
	}
	if replaceAll {
		err = p.Store.ReplaceIdPs(ctx, t.ID, []IdPConfig{*cfg})
	} else {
		err = p.Store.PutIdP(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	// Every way of changing an IdP (API PUT, console, CLI) comes through
	// here: users the new configuration no longer admits lose their access
	// now, not when their refresh tokens end (docs/SECURITY.md §10, §11).
	users, grants, err := p.RevokeUnadmitted(ctx, t)
	p.audit(ctx, t.ID, "admin.idp.updated", JSONMap{DetailType: in.Type, DetailRevokedUsers: users, DetailRevokedGrants: grants})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// RemoveIdP removes the tenant's IdP of type typ. The last one stays (the
// connector could sign no one in): add another first. The users it
// admitted lose their grants and consents (RevokeUnadmitted), as when the
// IdP is replaced.
func (p *Provisioner) RemoveIdP(ctx context.Context, t *Tenant, typ string) error {
	cfgs, err := p.Store.ListIdPs(ctx, t.ID)
	if err != nil {
		return err
	}
	keep := make([]IdPConfig, 0, len(cfgs))
	for _, c := range cfgs {
		if c.Type != typ {
			keep = append(keep, c)
		}
	}
	if len(keep) == len(cfgs) {
		return ErrNotFound
	}
	if len(keep) == 0 {
		return &ValidationError{Errors: []FieldError{{Field: "type", Detail: "is the team's only identity provider; add another one before removing it"}}}
	}
	if err := p.Store.ReplaceIdPs(ctx, t.ID, keep); err != nil {
		return err
	}
	users, grants, err := p.RevokeUnadmitted(ctx, t)
	p.audit(ctx, t.ID, ActIdPRemoved, JSONMap{DetailType: typ, DetailRevokedUsers: users, DetailRevokedGrants: grants})
	return err
}

// APIKeyInput describes an automation key (DESIGN §12: named, optional
// expiry, optional read-only).
type APIKeyInput struct {
	Name      string
	ExpiresAt *time.Time
	ReadOnly  bool
}

// CreateAPIKey makes a tenant API key; the key is returned once.
func (p *Provisioner) CreateAPIKey(ctx context.Context, t *Tenant, in APIKeyInput) (string, *APIKey, error) {
	v := &ValidationError{}
	if len(in.Name) > 200 {
		v.Add("name", "must be at most 200 characters")
	}
	now := time.Now().UTC()
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		v.Add("expires_at", "must be in the future")
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	key := APIKeyPrefix + RandomToken()
	k := &APIKey{ID: RandomID(), TenantID: t.ID, Name: in.Name, Prefix: key[:10], Hash: HashSecret(key), CreatedAt: now, ReadOnly: in.ReadOnly}
	if in.ExpiresAt != nil {
		exp := in.ExpiresAt.UTC()
		k.ExpiresAt = &exp
	}
	if err := p.Store.CreateAPIKey(ctx, k); err != nil {
		return "", nil, err
	}
	p.audit(ctx, t.ID, "admin.api_key.created", JSONMap{DetailAPIKeyID: k.ID, DetailName: in.Name, DetailReadOnly: in.ReadOnly})
	return key, k, nil
}

// DeleteTenant removes the tenant and everything it holds.
func (p *Provisioner) DeleteTenant(ctx context.Context, t *Tenant) error {
	if err := p.Store.DeleteTenant(ctx, t.ID); err != nil {
		return err
	}
	if p.Bus != nil {
		// Replicas drop the tenant and its keys; its tokens stop verifying.
		_ = p.Bus.Publish(context.WithoutCancel(ctx), TopicTenantChanged, t.ID)
		_ = p.Bus.Publish(context.WithoutCancel(ctx), TopicKeysRotated, t.ID)
	}
	// The tenant's own audit rows went with it; the platform keeps a record.
	p.audit(ctx, "", "admin.tenant.deleted", JSONMap{DetailSlug: t.Slug, DetailTenantID: t.ID})
	return nil
}
