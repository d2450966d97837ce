package access

import (
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
)

// Challenge is the WWW-Authenticate value for d at site (RFC 6750 §3, RFC
// 9728 §5.1): always the absolute, path-inserted resource_metadata URL
// (clients reject a relative one, claude-ai-mcp #136) and a scope; error and
// error_description when the request carried a bearer credential.
func (d *Denial) Challenge(site tenants.Site) string {
	scope := d.Scope
	if scope == "" {
		scope = strings.Join(site.Tenant.Settings.DefaultScopeList(), " ")
	}
	var b strings.Builder
	b.WriteString(`Bearer resource_metadata="`)
	b.WriteString(quoteSafe(site.PRMURL()))
	b.WriteString(`", scope="`)
	b.WriteString(quoteSafe(scope))
	b.WriteString(`"`)
	if d.Code != "" {
		b.WriteString(`, error="`)
		b.WriteString(d.Code)
		b.WriteString(`"`)
		if d.Description != "" {
			b.WriteString(`, error_description="`)
			b.WriteString(quoteSafe(d.Description))
			b.WriteString(`"`)
		}
	}
	return b.String()
}

// NoCredentials is the denial for a request without a token (used by
// callers that want the bare challenge).
func NoCredentials() *Denial {
	return deny(401, tenants.ReasonNoHeader, "", "")
}

// quoteSafe keeps only the characters RFC 6750 §3 allows inside the quoted
// attribute values: %x20-21 / %x23-5B / %x5D-7E.
func quoteSafe(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c < 0x20 || c == '"' || c == '\\' || c > 0x7e) {
			b.WriteByte(c)
		}
	}
	return b.String()
}
