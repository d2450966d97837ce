package tenants

import "strings"

// The tenant's sign-in rules (allowed_domains, allowed_orgs) live here once:
// tenants/idp applies them at login and on every upstream refresh, and the
// provisioner re-applies them to stored users when the rules narrow
// (docs/SECURITY.md §11).

// EmailDomain is the lower-cased part after the last "@", or "".
func EmailDomain(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 || i == len(email)-1 {
		return ""
	}
	return strings.ToLower(email[i+1:])
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// DomainAllowed reports whether a verified email passes allowed_domains
// (exact, case-insensitive; subdomains are not implied). Without the rule
// any address passes, an absent one included.
func (c *IdPConfig) DomainAllowed(verifiedEmail string) bool {
	if len(c.AllowedDomains) == 0 {
		return true
	}
	d := EmailDomain(verifiedEmail)
	return d != "" && containsFold(c.AllowedDomains, d)
}

// OrgAllowed reports whether one of orgs passes allowed_orgs (GitHub org
// logins, case-insensitive). Without the rule anyone passes.
func (c *IdPConfig) OrgAllowed(orgs []string) bool {
	if len(c.AllowedOrgs) == 0 {
		return true
	}
	for _, o := range orgs {
		if containsFold(c.AllowedOrgs, o) {
			return true
		}
	}
	return false
}

// Admits reports whether a stored user still belongs under this IdP: the
// same type and issuer, and the sign-in rules met by what was stored at
// the user's last login (the email is stored only when verified; orgs only
// while allowed_orgs was set, so a rule added later admits nobody until
// they sign in again).
func (c *IdPConfig) Admits(u *User) bool {
	return u.IdP == c.Type && u.IdPIssuer == c.Issuer() && c.DomainAllowed(u.Email) && c.OrgAllowed(u.Orgs)
}
