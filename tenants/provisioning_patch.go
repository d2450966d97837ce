package tenants

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/tenants/jsonx"
)

// DecodeStrict decodes one JSON value from data into v (jsonx.DecodeStrict:
// unknown object fields, wrong types and trailing data are errors). A field
// problem comes back as a *ValidationError naming the field with prefix
// (e.g. "settings."); malformed JSON as a *jsonx.SyntaxError.
func DecodeStrict(data []byte, v any, prefix string) error {
	err := jsonx.DecodeStrict(data, v)
	var fe *jsonx.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := prefix + fe.Field
	if !fe.Unknown {
		field = strings.TrimPrefix(field, ".")
		if fe.Field == "" {
			field = strings.TrimSuffix(prefix, ".")
		}
		if field == "" {
			field = "(body)"
		}
	}
	return &ValidationError{Errors: []FieldError{{Field: field, Detail: fe.Detail}}}
}

// PatchOptions says what the caller may change.
type PatchOptions struct {
	// Admin callers (the platform admin token) may mark a custom domain verified.
	Admin bool
}

// PatchTenant applies a JSON merge patch (RFC 7396) to a tenant: name,
// upstream_mcp_url, custom_domain, custom_domain_verified (admin only) and
// settings, which merge field by field. The write-only settings
// (upstream_headers, audit_webhook_secret) are merged into the sealed
// secrets and never stored in the clear. It returns the updated tenant and
// the names of the fields that changed. *ValidationError on bad input,
// ErrConflict when the custom domain is taken.
func (p *Provisioner) PatchTenant(ctx context.Context, cur *Tenant, patch []byte, opts PatchOptions) (*Tenant, []string, error) {
	var top map[string]json.RawMessage
	if err := DecodeStrict(patch, &top, ""); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, nil, &ValidationError{Errors: []FieldError{{Field: "(body)", Detail: "a merge patch for a tenant must be a JSON object"}}}
		}
		return nil, nil, err
	}
	if top == nil {
		return nil, nil, &ValidationError{Errors: []FieldError{{Field: "(body)", Detail: "a merge patch for a tenant must be a JSON object"}}}
	}
	t := *cur
	t.SealedSecrets = Sealed{}
	for k, v := range cur.SealedSecrets {
		t.SealedSecrets[k] = v
	}
	v := &ValidationError{}
	var changed []string
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	isNull := func(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }
	str := func(field string, raw json.RawMessage) (string, bool) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			v.Add(field, "must be a string")
			return "", false
		}
		return s, true
	}
	domainChanged := false
	for _, k := range keys {
		raw := top[k]
		switch k {
		case "name":
			if isNull(raw) {
				t.Name = t.Slug
				break
			}
			if s, ok := str(k, raw); ok {
				switch {
				case s == "":
					v.Add(k, "must not be empty (send null to reset it to the slug)")
				case len(s) > 200:
					v.Add(k, "must be at most 200 characters")
				default:
					t.Name = s
				}
			}
		case "upstream_mcp_url":
			if isNull(raw) {
				v.Add(k, "is required and cannot be removed")
				break
			}
			if s, ok := str(k, raw); ok {
				if msg := ValidateHTTPURL(s); msg != "" {
					v.Add(k, "%s", msg)
				} else {
					t.UpstreamMCPURL = s
				}
			}
		case "custom_domain":
			if isNull(raw) {
				domainChanged = t.CustomDomain != nil
				t.CustomDomain, t.CustomDomainVerified = nil, false
				break
			}
			if s, ok := str(k, raw); ok {
				if msg := p.validateCustomDomain(s); msg != "" {
					v.Add(k, "%s", msg)
				} else if t.CustomDomain == nil || *t.CustomDomain != s {
					// A new domain must be verified again before it serves.
					domainChanged = true
					t.CustomDomain, t.CustomDomainVerified = &s, false
				}
			}
		case "custom_domain_verified":
			var b bool
			if err := json.Unmarshal(raw, &b); err != nil || isNull(raw) {
				v.Add(k, "must be a boolean")
				break
			}
			if !opts.Admin {
				v.Add(k, "can only be changed with the platform admin token")
				break
			}
			t.CustomDomainVerified = b
		case "settings":
			p.patchSettings(&t, raw, v)
		case "slug":
			v.Add(k, "cannot be changed (the issuer and connector URL derive from it); create a new tenant instead")
		default:
			v.Add(k, "is not a known field")
		}
		changed = append(changed, k)
	}
	if _, ok := top["custom_domain_verified"]; ok && t.CustomDomain == nil && t.CustomDomainVerified {
		v.Add("custom_domain_verified", "needs a custom_domain")
	}
	if domainChanged {
		if _, ok := top["custom_domain_verified"]; ok && t.CustomDomainVerified && t.CustomDomain != nil {
			// An admin may set a domain and verify it in one request.
		} else {
			t.CustomDomainVerified = false
		}
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	if err := p.Store.UpdateTenant(ctx, &t); err != nil {
		return nil, nil, err
	}
	p.audit(ctx, t.ID, "admin.tenant.updated", JSONMap{DetailSlug: t.Slug, DetailFields: changed})
	return &t, changed, nil
}

// patchSettings merges a settings patch into t: ordinary fields by RFC 7396
// over the stored settings, write-only fields into the sealed secrets.
func (p *Provisioner) patchSettings(t *Tenant, raw json.RawMessage, v *ValidationError) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		// Removing settings resets every policy to its default, secrets included.
		t.Settings = Settings{}
		delete(t.SealedSecrets, SecretUpstreamHeaders)
		delete(t.SealedSecrets, SecretAuditWebhookSecret)
		return
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		v.Add("settings", "must be an object")
		return
	}
	var headersPatch, secretPatch json.RawMessage
	hasHeaders, hasSecret := false, false
	if h, ok := obj[SecretUpstreamHeaders]; ok {
		headersPatch, hasHeaders = h, true
		delete(obj, SecretUpstreamHeaders)
	}
	if s, ok := obj[SecretAuditWebhookSecret]; ok {
		secretPatch, hasSecret = s, true
		delete(obj, SecretAuditWebhookSecret)
	}
	cur := t.Settings
	cur.UpstreamHeaders, cur.AuditWebhookSecret = nil, ""
	curJSON, _ := json.Marshal(cur)
	rest, _ := json.Marshal(obj)
	merged, err := jsonx.MergePatch(curJSON, rest)
	if err != nil {
		v.Add("settings", "must be an object")
		return
	}
	var next Settings
	if err := DecodeStrict(merged, &next, "settings."); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			v.Errors = append(v.Errors, ve.Errors...)
		} else {
			v.Add("settings", "%s", err.Error())
		}
		return
	}
	// Validate write-only values alongside the rest.
	check := next
	if hasHeaders && !bytes.Equal(bytes.TrimSpace(headersPatch), []byte("null")) {
		var hp map[string]*string
		if err := json.Unmarshal(headersPatch, &hp); err != nil || hp == nil {
			v.Add("settings.upstream_headers", "must be an object of header name to string (or null to remove one)")
			return
		}
		headers := map[string]string{}
		if t.SealedSecrets[SecretUpstreamHeaders] != "" {
			plain, err := OpenTenantSecret(p.Sealer, t, SecretUpstreamHeaders)
			if err != nil {
				v.Add("settings.upstream_headers", "the stored headers cannot be opened (%v); send null to replace them", err)
				return
			}
			_ = json.Unmarshal([]byte(plain), &headers)
		}
		for k, val := range hp {
			if val == nil {
				delete(headers, k)
			} else {
				headers[k] = *val
			}
		}
		check.UpstreamHeaders = headers
	}
	if hasSecret && !bytes.Equal(bytes.TrimSpace(secretPatch), []byte("null")) {
		var s string
		if err := json.Unmarshal(secretPatch, &s); err != nil {
			v.Add("settings.audit_webhook_secret", "must be a string (or null to remove it)")
			return
		}
		if len(s) > 512 {
			v.Add("settings.audit_webhook_secret", "must be at most 512 characters")
		}
		check.AuditWebhookSecret = s
	}
	if err := check.Validate("settings."); err != nil {
		v.Errors = append(v.Errors, err.(*ValidationError).Errors...)
		return
	}
	if len(v.Errors) > 0 {
		return
	}
	if hasHeaders {
		if check.UpstreamHeaders == nil {
			check.UpstreamHeaders = map[string]string{} // empty clears
		}
	}
	if hasSecret && check.AuditWebhookSecret == "" {
		delete(t.SealedSecrets, SecretAuditWebhookSecret)
	}
	if err := p.SealSettingsSecrets(t, &check); err != nil {
		v.Add("settings", "sealing secrets failed: %v", err)
		return
	}
	t.Settings = check
}

// validateCustomDomain checks a custom domain's form and that it is not a
// platform host (the public host or a name under the tenant domain).
func (p *Provisioner) validateCustomDomain(d string) string {
	if msg := ValidateDomain(d); msg != "" {
		return msg
	}
	if p.PublicHost != "" && strings.EqualFold(d, p.PublicHost) {
		return "is the platform's own host"
	}
	if p.TenantDomain != "" && (strings.EqualFold(d, p.TenantDomain) || strings.HasSuffix(strings.ToLower(d), "."+strings.ToLower(p.TenantDomain))) {
		return "is under the platform's tenant domain; those hosts are served already"
	}
	return ""
}

// DeleteAPIKey removes one API key of the tenant.
func (p *Provisioner) DeleteAPIKey(ctx context.Context, t *Tenant, id string) error {
	if err := p.Store.DeleteAPIKey(ctx, t.ID, id); err != nil {
		return err
	}
	if p.Bus != nil {
		// Replicas that cache keys (introspection) drop it at once.
		_ = p.Bus.Publish(context.WithoutCancel(ctx), TopicAPIKeyDeleted, t.ID+" "+id)
	}
	p.audit(ctx, t.ID, "admin.api_key.deleted", JSONMap{DetailAPIKeyID: id})
	return nil
}
