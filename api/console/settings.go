package console

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/web"
)

type settingsData struct {
	IdPs     []tenants.IdPConfig
	IdPTypes []string
}

func (u *ui) settingsView(c *gin.Context) (*view, error) {
	t := tenantOf(c)
	idps, err := u.d.Store.ListIdPs(c.Request.Context(), t.ID)
	if err != nil {
		return nil, err
	}
	v := u.page(c, "Settings — "+t.Name, "settings")
	types := []string{tenants.IdPGitHub, tenants.IdPGoogle, tenants.IdPOIDC}
	if u.d.AllowDevIdP {
		types = append([]string{tenants.IdPDev}, types...)
	}
	v.Data = settingsData{IdPs: idps, IdPTypes: types}
	// Current values fill the forms.
	st := t.Settings
	intStr := func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	}
	v.Form["name"] = t.Name
	v.Form["upstream_mcp_url"] = t.UpstreamMCPURL
	v.Form["settings.access_token_ttl"] = intStr(st.AccessTokenTTL)
	v.Form["settings.refresh_token_ttl"] = intStr(st.RefreshTokenTTL)
	v.Form["settings.refresh_idle_ttl"] = intStr(st.RefreshIdleTTL)
	v.Form["settings.refresh_grace_seconds"] = intStr(st.RefreshGraceSeconds)
	v.Form["settings.client_idle_ttl_days"] = intStr(st.ClientIdleTTLDays)
	v.Form["settings.scopes"] = strings.Join(st.Scopes, " ")
	v.Form["settings.default_scopes"] = strings.Join(st.DefaultScopes, " ")
	v.Form["settings.dcr_policy"] = st.DCR()
	v.Form["settings.dcr_allowed_redirect_hosts"] = strings.Join(st.DCRAllowedRedirectHosts, "\n")
	v.Form["settings.cimd_allowed_hosts"] = strings.Join(st.CIMDAllowedHosts, "\n")
	v.Form["settings.audit_mcp_calls"] = st.AuditMCP()
	if st.SkipConsent {
		v.Form["settings.skip_consent"] = "on"
	}
	if st.ClientCredentials {
		v.Form["settings.client_credentials"] = "on"
	}
	if st.DPoPRequired {
		v.Form["settings.dpop_required"] = "on"
	}
	if st.ForwardUpstreamToken {
		v.Form["settings.forward_upstream_token"] = "on"
	}
	v.Form["settings.tool_scopes"] = pairLines(st.ToolScopes)
	v.Form["settings.scope_descriptions"] = pairLines(st.ScopeDescriptions)
	// The form shows the chosen provider (?idp_type=…, else the first
	// configured) with its saved values.
	v.Form["idp_type"] = tenants.IdPDev
	if len(idps) > 0 {
		v.Form["idp_type"] = idps[0].Type
	}
	if q := c.Query("idp_type"); slices.Contains(types, q) {
		v.Form["idp_type"] = q
	}
	for _, cur := range idps {
		if cur.Type != v.Form["idp_type"] {
			continue
		}
		v.Form["idp_client_id"] = cur.ClientID
		v.Form["idp_issuer_url"] = cur.IssuerURL
		v.Form["idp_scopes"] = strings.Join(cur.Scopes, " ")
		v.Form["idp_allowed_domains"] = strings.Join(cur.AllowedDomains, "\n")
		v.Form["idp_allowed_orgs"] = strings.Join(cur.AllowedOrgs, "\n")
		v.Form["idp_auto_login"] = cur.AutoLogin
	}
	return v, nil
}

func (u *ui) settingsPage(c *gin.Context) { u.show(c, u.settingsView, "console_settings", u.teamFlash) }

// idpFields are the IdP form's fields shown again when it is refused (the
// client secret is write-only).
var idpFields = []string{"idp_type", "idp_client_id", "idp_issuer_url", "idp_scopes", "idp_allowed_domains", "idp_allowed_orgs", "idp_auto_login"}

// idpSubmit sets the tenant's IdP (Provisioner.PutIdP). The client secret is
// write-only: an empty field keeps the stored one.
func (u *ui) idpSubmit(c *gin.Context) {
	t := tenantOf(c)
	in := tenants.IdPInput{Type: c.PostForm("idp_type"), ClientID: strings.TrimSpace(c.PostForm("idp_client_id")),
		ClientSecret: c.PostForm("idp_client_secret"), IssuerURL: strings.TrimSpace(c.PostForm("idp_issuer_url")),
		Scopes: splitList(c.PostForm("idp_scopes")), AllowedDomains: splitList(c.PostForm("idp_allowed_domains")),
		AllowedOrgs: splitList(c.PostForm("idp_allowed_orgs")), AutoLogin: strings.TrimSpace(c.PostForm("idp_auto_login"))}
	_, err := u.prov.PutIdP(c.Request.Context(), t, in, c.PostForm("idp_keep_others") != "on")
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(c, err)
			return
		}
		errs := map[string][]string{}
		for k, msgs := range fe {
			errs["idp."+k] = msgs
		}
		u.refuse(c, u.settingsView, "console_settings", idpFields, errs, "The identity provider was not saved; fix the fields marked below.")
		return
	}
	u.changed(c, t)
	u.backWith(c, "/settings", "Identity provider saved.")
}

// idpRemove removes one configured IdP (Provisioner.RemoveIdP: audited, its
// users' access revoked; the last one stays).
func (u *ui) idpRemove(c *gin.Context) {
	t := tenantOf(c)
	err := u.prov.RemoveIdP(c.Request.Context(), t, c.Param("type"))
	if fe, ok := fieldErrors(err); ok {
		u.errorPage(c, http.StatusConflict, "Not removed: this "+strings.Join(fe["type"], "; ")+".")
		return
	}
	if !u.done(c, err, "No such identity provider on this team.") {
		return
	}
	u.changed(c, t)
	u.backWith(c, "/settings", web.IdPName(c.Param("type"))+" removed; the people who signed in with it lost their access.")
}

// idpTest checks one configured IdP (idp.Check: discovery and the
// authorization request, no sign-in) and shows the steps on the next page.
func (u *ui) idpTest(c *gin.Context) {
	t := tenantOf(c)
	cfg, err := u.d.Store.GetIdP(c.Request.Context(), t.ID, c.Param("type"))
	if !u.done(c, err, "No such identity provider on this team.") {
		return
	}
	secret := ""
	if cfg.ClientSecretSealed != "" {
		if secret, err = u.d.Sealer.Open(cfg.ClientSecretSealed, tenants.IdPSecretContext(t.ID, cfg.Type)); err != nil {
			u.fail(c, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
	defer cancel()
	steps := idp.Check(ctx, idp.Config{IdP: cfg, ClientSecret: secret, RedirectURL: u.tenantView(t).Issuer + "/oauth/callback", HTTPClient: u.d.IdPClient()})
	f := &flash{Binding: sessionOf(c).ID, Kind: "idp_check", Values: map[string]string{"type": cfg.Type, "ok": "1"}}
	for _, s := range steps {
		mark := "✓ "
		if !s.OK {
			mark, f.Values["ok"] = "✗ ", "0"
		}
		f.List = append(f.List, mark+s.Name+": "+s.Detail)
	}
	_ = u.setFlash(c, f, "/console")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/settings#idp-check"))
}

// pairLines shows a map setting as sorted "key = value" lines.
func pairLines(m map[string]string) string {
	lines := make([]string, 0, len(m))
	for k, v := range m {
		lines = append(lines, k+" = "+v)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// parsePairs reads "key = value" lines into a merge-patch map. A merge patch
// merges maps (RFC 7396), so keys of cur no longer listed are sent as null
// to remove them; malformed lines become errors of field.
func parsePairs(text string, cur map[string]string, field, shape string, errs map[string][]string) map[string]any {
	out := map[string]any{}
	for k := range cur {
		out[k] = nil
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			errs[field] = append(errs[field], "line "+strconv.Quote(line)+" is not \""+shape+"\"")
			continue
		}
		out[k] = v
	}
	return out
}

var settingsIntFields = []string{"access_token_ttl", "refresh_token_ttl", "refresh_idle_ttl", "refresh_grace_seconds", "client_idle_ttl_days"}

// settingsSubmit turns the form into a JSON merge patch (RFC 7396) and lets
// Provisioner.PatchTenant validate and apply it: one path for API and console.
func (u *ui) settingsSubmit(c *gin.Context) {
	t := tenantOf(c)
	formErrs := map[string][]string{}
	st := map[string]any{}
	for _, f := range settingsIntFields {
		raw := strings.TrimSpace(c.PostForm("settings." + f))
		if raw == "" {
			st[f] = nil // back to the default
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil {
			formErrs["settings."+f] = []string{"must be a whole number"}
			continue
		}
		st[f] = n
	}
	list := func(name string) any {
		l := splitList(c.PostForm("settings." + name))
		if len(l) == 0 {
			return nil
		}
		return l
	}
	st["scopes"] = list("scopes")
	st["default_scopes"] = list("default_scopes")
	st["dcr_allowed_redirect_hosts"] = list("dcr_allowed_redirect_hosts")
	st["cimd_allowed_hosts"] = list("cimd_allowed_hosts")
	st["dcr_policy"] = c.PostForm("settings.dcr_policy")
	st["audit_mcp_calls"] = c.PostForm("settings.audit_mcp_calls")
	st["skip_consent"] = c.PostForm("settings.skip_consent") == "on"
	st["client_credentials"] = c.PostForm("settings.client_credentials") == "on"
	st["dpop_required"] = c.PostForm("settings.dpop_required") == "on"
	st["forward_upstream_token"] = c.PostForm("settings.forward_upstream_token") == "on"
	st["tool_scopes"] = parsePairs(c.PostForm("settings.tool_scopes"), t.Settings.ToolScopes, "settings.tool_scopes", "tool = scope", formErrs)
	st["scope_descriptions"] = parsePairs(c.PostForm("settings.scope_descriptions"), t.Settings.ScopeDescriptions, "settings.scope_descriptions", "scope = words", formErrs)
	patch := map[string]any{"settings": st}
	if n := strings.TrimSpace(c.PostForm("name")); n != t.Name {
		patch["name"] = n
	}
	if up := strings.TrimSpace(c.PostForm("upstream_mcp_url")); up != t.UpstreamMCPURL {
		patch["upstream_mcp_url"] = up
	}
	var err error
	if len(formErrs) == 0 {
		raw, _ := json.Marshal(patch)
		_, _, err = u.prov.PatchTenant(c.Request.Context(), t, raw, tenants.PatchOptions{Admin: sessionOf(c).IsOperator()})
		if err != nil {
			fe, ok := fieldErrors(err)
			if !ok {
				u.fail(c, err)
				return
			}
			formErrs = fe
		}
	}
	if len(formErrs) > 0 {
		// Every settings field the page shows is posted back as typed.
		posted := func(c *gin.Context) (*view, error) {
			v, err := u.settingsView(c)
			if err == nil {
				for k := range v.Form {
					if strings.HasPrefix(k, "settings.") || k == "name" || k == "upstream_mcp_url" {
						v.Form[k] = c.PostForm(k)
					}
				}
			}
			return v, err
		}
		u.refuse(c, posted, "console_settings", nil, formErrs, "The settings were not saved; fix the fields marked below.")
		return
	}
	u.changed(c, t)
	u.backWith(c, "/settings", "Settings saved.")
}
