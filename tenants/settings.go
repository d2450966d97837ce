package tenants

import (
	"bytes"
	"cmp"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// Settings are a tenant's per-tenant policies (docs/RULES.md §5). Every field is
// optional: nil means the platform default, read through the accessor methods.
type Settings struct {
	AccessTokenTTL          *int              `json:"access_token_ttl,omitempty"`
	RefreshTokenTTL         *int              `json:"refresh_token_ttl,omitempty"`
	RefreshIdleTTL          *int              `json:"refresh_idle_ttl,omitempty"`
	RefreshGraceSeconds     *int              `json:"refresh_grace_seconds,omitempty"`
	Scopes                  []string          `json:"scopes,omitempty"`
	DefaultScopes           []string          `json:"default_scopes,omitempty"`
	DCRPolicy               string            `json:"dcr_policy,omitempty"`
	DCRAllowedRedirectHosts []string          `json:"dcr_allowed_redirect_hosts,omitempty"`
	CIMDAllowedHosts        []string          `json:"cimd_allowed_hosts,omitempty"`
	ClientIdleTTLDays       *int              `json:"client_idle_ttl_days,omitempty"`
	SkipConsent             bool              `json:"skip_consent,omitempty"`
	ClientCredentials       bool              `json:"client_credentials,omitempty"` // pre-registered clients only, never DCR/CIMD
	DPoPRequired            bool              `json:"dpop_required,omitempty"`      // the connector accepts DPoP-bound tokens only (RFC 9449)
	ToolScopes              map[string]string `json:"tool_scopes,omitempty"`
	// ScopeDescriptions are the words the consent page shows for each scope.
	ScopeDescriptions    map[string]string `json:"scope_descriptions,omitempty"`
	AuditMCPCalls        string            `json:"audit_mcp_calls,omitempty"`
	ForwardUpstreamToken bool              `json:"forward_upstream_token,omitempty"`
	AuditWebhookURL      string            `json:"audit_webhook_url,omitempty"`
	AuditRetentionDays   *int              `json:"audit_retention_days,omitempty"`
	KeyRotationDays      *int              `json:"key_rotation_days,omitempty"`
	// MCP quotas (requests per minute; 0 = unlimited; absent = the plan's
	// default, GATEHOUSE_MCP_REQUESTS_PER_MINUTE[_PER_USER]).
	MCPRequestsPerMinute        *int `json:"mcp_requests_per_minute,omitempty"`
	MCPRequestsPerMinutePerUser *int `json:"mcp_requests_per_minute_per_user,omitempty"`
	// Write-only fields: accepted on input, sealed into Tenant.SealedSecrets,
	// never echoed. Their presence is reported by the API as booleans.
	UpstreamHeaders    map[string]string `json:"upstream_headers,omitempty"`
	AuditWebhookSecret string            `json:"audit_webhook_secret,omitempty"`
}

// Names of sealed tenant secrets.
const (
	SecretUpstreamHeaders    = "upstream_headers"
	SecretAuditWebhookSecret = "audit_webhook_secret"
)

// Value implements driver.Valuer. Write-only fields are never stored here.
func (s Settings) Value() (driver.Value, error) {
	s.UpstreamHeaders = nil
	s.AuditWebhookSecret = ""
	b, err := json.Marshal(s)
	return string(b), err
}

// Scan implements sql.Scanner.
func (s *Settings) Scan(src any) error { return scanJSON(src, s) }

// DCR policies.
const (
	DCROpen      = "open"
	DCRAllowlist = "allowlist"
	DCRClosed    = "closed"
)

// Audit MCP call levels.
const (
	AuditMCPNone  = "none"
	AuditMCPTools = "tools"
	AuditMCPAll   = "all"
)

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func secs(n int) time.Duration { return time.Duration(n) * time.Second }

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// MCPQuotas are the tenant's MCP requests per minute, per tenant and per
// user, falling back to the plan defaults given (0 = unlimited).
func (s Settings) MCPQuotas(planTenant, planUser int) (perTenant, perUser int) {
	return intOr(s.MCPRequestsPerMinute, planTenant), intOr(s.MCPRequestsPerMinutePerUser, planUser)
}

// AccessTTL is the access token lifetime (default 1 h).
func (s Settings) AccessTTL() time.Duration { return secs(intOr(s.AccessTokenTTL, 3600)) }

// RefreshTTL is the absolute refresh token lifetime (default 30 days).
func (s Settings) RefreshTTL() time.Duration { return secs(intOr(s.RefreshTokenTTL, 2592000)) }

// RefreshIdle is the refresh token idle lifetime (default 14 days).
func (s Settings) RefreshIdle() time.Duration { return secs(intOr(s.RefreshIdleTTL, 1209600)) }

// RefreshGrace is the window in which a rotated refresh token still returns
// its successor (default 60 s; 0 disables).
func (s Settings) RefreshGrace() time.Duration { return secs(intOr(s.RefreshGraceSeconds, 60)) }

// OfferedScopes are the scopes the tenant's AS offers.
func (s Settings) OfferedScopes() []string {
	if len(s.Scopes) == 0 {
		return []string{"mcp"}
	}
	return s.Scopes
}

// DefaultScopeList are granted when a client asks for none.
func (s Settings) DefaultScopeList() []string {
	if len(s.DefaultScopes) == 0 {
		return []string{"mcp"}
	}
	return s.DefaultScopes
}

// DCR returns the registration policy (default open).
func (s Settings) DCR() string { return cmp.Or(s.DCRPolicy, DCROpen) }

// ClientIdleTTL is how long an unused registered client lives (default 90 days).
func (s Settings) ClientIdleTTL() time.Duration { return days(intOr(s.ClientIdleTTLDays, 90)) }

// AuditMCP returns the MCP call audit level (default tools).
func (s Settings) AuditMCP() string { return cmp.Or(s.AuditMCPCalls, AuditMCPTools) }

// AuditRetention is how long audit events are kept (default 90 days).
func (s Settings) AuditRetention() time.Duration { return days(intOr(s.AuditRetentionDays, 90)) }

// KeyRotation is the signing key rotation period (default 30 days).
func (s Settings) KeyRotation() time.Duration { return days(intOr(s.KeyRotationDays, 30)) }

// FieldError names one invalid field of an input.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// ValidationError is returned by domain validation; the API renders it as a
// problem+json with an errors list.
type ValidationError struct{ Errors []FieldError }

func (e *ValidationError) Error() string {
	if len(e.Errors) == 0 {
		return "invalid input"
	}
	return fmt.Sprintf("invalid %s: %s", e.Errors[0].Field, e.Errors[0].Detail)
}

// Add appends a field error.
func (e *ValidationError) Add(field, format string, args ...any) {
	e.Errors = append(e.Errors, FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
}

// Err returns e if it holds errors, else nil.
func (e *ValidationError) Err() error {
	if len(e.Errors) == 0 {
		return nil
	}
	return e
}

// Validate checks every settings field; prefix names the field path.
func (s Settings) Validate(prefix string) error {
	v := &ValidationError{}
	pos := func(name string, p *int, min, max int) {
		if p != nil && (*p < min || *p > max) {
			v.Add(prefix+name, "must be between %d and %d", min, max)
		}
	}
	pos("access_token_ttl", s.AccessTokenTTL, 60, 86400)
	pos("refresh_token_ttl", s.RefreshTokenTTL, 300, 31536000)
	pos("refresh_idle_ttl", s.RefreshIdleTTL, 300, 31536000)
	pos("refresh_grace_seconds", s.RefreshGraceSeconds, 0, 600)
	pos("client_idle_ttl_days", s.ClientIdleTTLDays, 1, 3650)
	pos("audit_retention_days", s.AuditRetentionDays, 1, 3650)
	pos("key_rotation_days", s.KeyRotationDays, 1, 365)
	pos("mcp_requests_per_minute", s.MCPRequestsPerMinute, 0, 1_000_000)
	pos("mcp_requests_per_minute_per_user", s.MCPRequestsPerMinutePerUser, 0, 1_000_000)
	for _, sc := range append(append([]string{}, s.Scopes...), s.DefaultScopes...) {
		if !validScopeToken(sc) {
			v.Add(prefix+"scopes", "scope %q is not a valid scope token (RFC 6749 §3.3)", sc)
		}
	}
	if len(s.Scopes) > 0 {
		for _, d := range s.DefaultScopes {
			if !Strings(s.Scopes).Contains(d) {
				v.Add(prefix+"default_scopes", "default scope %q is not in scopes", d)
			}
		}
	}
	switch s.DCRPolicy {
	case "", DCROpen, DCRAllowlist, DCRClosed:
	default:
		v.Add(prefix+"dcr_policy", "must be one of open, allowlist, closed")
	}
	for _, e := range s.DCRAllowedRedirectHosts {
		if msg := ValidateRedirectAllowEntry(e); msg != "" {
			v.Add(prefix+"dcr_allowed_redirect_hosts", "%q %s", e, msg)
		}
	}
	switch s.AuditMCPCalls {
	case "", AuditMCPNone, AuditMCPTools, AuditMCPAll:
	default:
		v.Add(prefix+"audit_mcp_calls", "must be one of none, tools, all")
	}
	for sc, words := range s.ScopeDescriptions {
		if !validScopeToken(sc) {
			v.Add(prefix+"scope_descriptions", "%q is not a valid scope", sc)
		}
		if words == "" || len(words) > 200 {
			v.Add(prefix+"scope_descriptions", "the description of %q must be 1 to 200 characters", sc)
		}
	}
	for tool, sc := range s.ToolScopes {
		if tool == "" || !validScopeToken(sc) {
			v.Add(prefix+"tool_scopes", "tool %q maps to an invalid scope %q", tool, sc)
		}
	}
	if s.AuditWebhookURL != "" {
		if u, err := url.Parse(s.AuditWebhookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.Add(prefix+"audit_webhook_url", "must be an absolute http(s) URL")
		}
	}
	for k := range s.UpstreamHeaders {
		if !validHeaderName(k) {
			v.Add(prefix+"upstream_headers", "%q is not a valid header name", k)
		}
	}
	return v.Err()
}

// validScopeToken: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E {
			return false
		}
	}
	return true
}

func validHeaderName(s string) bool {
	if s == "" || len(s) > 128 || bytes.ContainsAny([]byte(s), " \t\r\n:") {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7E {
			return false
		}
	}
	// Identity headers are the gateway's own (X_Gatehouse_* included: an
	// upstream framework may read it as the real one).
	return !IsIdentityHeader(s)
}
