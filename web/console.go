package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

type tenantRow struct {
	T        tenants.Tenant
	Resource string
}

type homeData struct {
	Tenants []tenantRow
	Next    string
	Cursor  string
}

// home is GET /console: the admin's tenant list; a tenant key goes to its tenant.
func (u *ui) home(c *gin.Context) {
	s := sessionOf(c)
	if !s.admin() {
		t, err := u.d.Store.GetTenant(c.Request.Context(), s.TenantID)
		if err != nil {
			u.fail(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, u.tenantURL(t, ""))
		return
	}
	cursor := c.Query("cursor")
	items, next, err := u.d.Store.ListTenants(c.Request.Context(), tenants.Page{Limit: 25, Cursor: cursor})
	v := u.page(c, "Tenants — Gatehouse console", "tenants")
	if errors.Is(err, tenants.ErrBadCursor) {
		v.Notice = "That page link is no longer valid; showing the first page."
		cursor = ""
		items, next, err = u.d.Store.ListTenants(c.Request.Context(), tenants.Page{Limit: 25})
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	d := homeData{Next: next, Cursor: cursor}
	for i := range items {
		d.Tenants = append(d.Tenants, tenantRow{T: items[i], Resource: u.tenantView(&items[i]).Resource})
	}
	v.Data = d
	u.render(c, http.StatusOK, "console_tenants", v)
}

type overviewData struct {
	IdPs []tenants.IdPConfig
}

// overview is GET /console/t/:slug.
func (u *ui) overview(c *gin.Context) {
	t := tenantOf(c)
	idps, err := u.d.Store.ListIdPs(c.Request.Context(), t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	v := u.page(c, t.Name+" — Gatehouse console", "overview")
	v.Data = overviewData{IdPs: idps}
	u.render(c, http.StatusOK, "console_overview", v)
}

// ---- settings and IdP ----

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
	var tools []string
	for k, sc := range st.ToolScopes {
		tools = append(tools, k+" = "+sc)
	}
	sort.Strings(tools)
	v.Form["settings.tool_scopes"] = strings.Join(tools, "\n")
	v.Form["idp_type"] = tenants.IdPDev
	if len(idps) > 0 {
		cur := idps[0]
		v.Form["idp_type"] = cur.Type
		v.Form["idp_client_id"] = cur.ClientID
		v.Form["idp_issuer_url"] = cur.IssuerURL
		v.Form["idp_scopes"] = strings.Join(cur.Scopes, " ")
		v.Form["idp_allowed_domains"] = strings.Join(cur.AllowedDomains, "\n")
		v.Form["idp_allowed_orgs"] = strings.Join(cur.AllowedOrgs, "\n")
		v.Form["idp_auto_login"] = cur.AutoLogin
	}
	return v, nil
}

func (u *ui) settingsPage(c *gin.Context) {
	v, err := u.settingsView(c)
	if err != nil {
		u.fail(c, err)
		return
	}
	if f := u.takeFlash(c, sessionOf(c).SID, "/console"); f != nil && f.Kind == "notice" {
		v.Flash = f
	}
	u.render(c, http.StatusOK, "console_settings", v)
}

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
		v, verr := u.settingsView(c)
		if verr != nil {
			u.fail(c, verr)
			return
		}
		for _, f := range []string{"idp_type", "idp_client_id", "idp_issuer_url", "idp_scopes", "idp_allowed_domains", "idp_allowed_orgs", "idp_auto_login"} {
			v.Form[f] = c.PostForm(f)
		}
		for k, msgs := range fe {
			v.Errors["idp."+k] = msgs
		}
		v.Notice = "The identity provider was not saved; fix the fields marked below."
		u.render(c, http.StatusUnprocessableEntity, "console_settings", v)
		return
	}
	u.changed(c, t)
	u.notice(c, "Identity provider saved.")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/settings"))
}

func (u *ui) notice(c *gin.Context, msg string) {
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).SID, Kind: "notice", Values: map[string]string{"msg": msg}}, "/console")
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
	// tool_scopes: one "tool = scope" per line. A merge patch merges maps,
	// so tools no longer listed are sent as null to remove them.
	tools := map[string]any{}
	for k := range t.Settings.ToolScopes {
		tools[k] = nil
	}
	for _, line := range strings.Split(c.PostForm("settings.tool_scopes"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, scope, ok := strings.Cut(line, "=")
		name, scope = strings.TrimSpace(name), strings.TrimSpace(scope)
		if !ok || name == "" || scope == "" {
			formErrs["settings.tool_scopes"] = append(formErrs["settings.tool_scopes"], "line "+strconv.Quote(line)+" is not \"tool = scope\"")
			continue
		}
		tools[name] = scope
	}
	st["tool_scopes"] = tools
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
		_, _, err = u.prov.PatchTenant(c.Request.Context(), t, raw, tenants.PatchOptions{Admin: sessionOf(c).admin()})
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
		v, verr := u.settingsView(c)
		if verr != nil {
			u.fail(c, verr)
			return
		}
		for k := range v.Form {
			if strings.HasPrefix(k, "settings.") || k == "name" || k == "upstream_mcp_url" {
				v.Form[k] = c.PostForm(k)
			}
		}
		v.Errors = formErrs
		v.Notice = "The settings were not saved; fix the fields marked below."
		u.render(c, http.StatusUnprocessableEntity, "console_settings", v)
		return
	}
	u.changed(c, t)
	u.notice(c, "Settings saved.")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/settings"))
}

// ---- clients ----

type clientsData struct {
	Clients []tenants.Client
	Next    string
	Cursor  string
}

func (u *ui) clientsView(c *gin.Context) (*view, error) {
	t := tenantOf(c)
	cursor := c.Query("cursor")
	items, next, err := u.d.Store.ListClients(c.Request.Context(), t.ID, tenants.Page{Limit: 50, Cursor: cursor})
	v := u.page(c, "Clients — "+t.Name, "clients")
	if errors.Is(err, tenants.ErrBadCursor) {
		v.Notice = "That page link is no longer valid; showing the first page."
		cursor = ""
		items, next, err = u.d.Store.ListClients(c.Request.Context(), t.ID, tenants.Page{Limit: 50})
	}
	if err != nil {
		return nil, err
	}
	v.Data = clientsData{Clients: items, Next: next, Cursor: cursor}
	v.Form["token_endpoint_auth_method"] = tenants.AuthClientSecretBasic
	return v, nil
}

func (u *ui) clientsPage(c *gin.Context) {
	v, err := u.clientsView(c)
	if err != nil {
		u.fail(c, err)
		return
	}
	v.Flash = u.takeFlash(c, sessionOf(c).SID, "/console")
	u.render(c, http.StatusOK, "console_clients", v)
}

var clientFields = []string{"client_id", "client_name", "redirect_uris", "token_endpoint_auth_method", "application_type", "scope", "skip_consent", "client_credentials", "jwks"}

// clientCreate pre-registers a client; a confidential client's secret is
// shown once on the next page.
func (u *ui) clientCreate(c *gin.Context) {
	t := tenantOf(c)
	in := tenants.PreregisteredClientInput{ClientID: strings.TrimSpace(c.PostForm("client_id")), ClientName: strings.TrimSpace(c.PostForm("client_name")),
		RedirectURIs: splitList(c.PostForm("redirect_uris")), TokenEndpointAuthMethod: c.PostForm("token_endpoint_auth_method"),
		ApplicationType: c.PostForm("application_type"), Scope: strings.TrimSpace(c.PostForm("scope")), SkipConsent: c.PostForm("skip_consent") == "on"}
	in.JWKS, in.JWKSURI = clientKeys(c.PostForm("jwks"))
	if c.PostForm("client_credentials") == "on" {
		in.GrantTypes = []string{tenants.GrantAuthorizationCode, tenants.GrantRefreshToken, tenants.GrantClientCredentials}
		if len(in.RedirectURIs) == 0 {
			in.GrantTypes = []string{tenants.GrantClientCredentials}
		}
	}
	secret, cl, err := u.prov.CreatePreregisteredClient(c.Request.Context(), t, in)
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok && errors.Is(err, tenants.ErrConflict) {
			fe, ok = map[string][]string{"client_id": {"is already taken"}}, true
		}
		if !ok {
			u.fail(c, err)
			return
		}
		v, verr := u.clientsView(c)
		if verr != nil {
			u.fail(c, verr)
			return
		}
		for _, f := range clientFields {
			v.Form[f] = c.PostForm(f)
		}
		v.Errors = fe
		v.Notice = "The client was not created; fix the fields marked below."
		u.render(c, http.StatusUnprocessableEntity, "console_clients", v)
		return
	}
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).SID, Kind: "client", Values: map[string]string{"client_id": cl.ID, "client_secret": secret, "client_name": cl.Name}}, "/console")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/clients"))
}

func (u *ui) clientDelete(c *gin.Context) {
	t := tenantOf(c)
	id := c.PostForm("client_id")
	if err := u.prov.DeleteClient(c.Request.Context(), t, id); err != nil {
		if errors.Is(err, tenants.ErrNotFound) {
			u.errorPage(c, http.StatusNotFound, "No such client.")
			return
		}
		u.fail(c, err)
		return
	}
	u.notice(c, "Client deleted; its grants were revoked.")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/clients"))
}

// ---- grants ----

type grantsData struct {
	Grants []grantRow
	Next   string
	Cursor string
}

type grantRow struct {
	tenants.Grant
	Live bool
}

func (u *ui) grantsPage(c *gin.Context) {
	t := tenantOf(c)
	cursor := c.Query("cursor")
	items, next, err := u.d.Store.ListGrants(c.Request.Context(), t.ID, tenants.Page{Limit: 50, Cursor: cursor})
	v := u.page(c, "Grants — "+t.Name, "grants")
	if errors.Is(err, tenants.ErrBadCursor) {
		v.Notice = "That page link is no longer valid; showing the first page."
		cursor = ""
		items, next, err = u.d.Store.ListGrants(c.Request.Context(), t.ID, tenants.Page{Limit: 50})
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	now := u.now()
	d := grantsData{Next: next, Cursor: cursor}
	for _, g := range items {
		d.Grants = append(d.Grants, grantRow{Grant: g, Live: g.Live(now)})
	}
	v.Data = d
	if f := u.takeFlash(c, sessionOf(c).SID, "/console"); f != nil && f.Kind == "notice" {
		v.Flash = f
	}
	u.render(c, http.StatusOK, "console_grants", v)
}

// grantRevoke revokes through tenants.RevokeGrant: every replica hears of it.
func (u *ui) grantRevoke(c *gin.Context) {
	t := tenantOf(c)
	err := tenants.RevokeGrant(c.Request.Context(), u.d.Store, u.d.Bus, u.d.Auditor, t.ID, c.Param("id"), "console")
	if errors.Is(err, tenants.ErrNotFound) {
		u.errorPage(c, http.StatusNotFound, "No such grant.")
		return
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	u.notice(c, "Grant revoked: its access and refresh tokens no longer work.")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/grants"))
}

// ---- users ----

type usersData struct {
	Users        []tenants.User
	Next, Cursor string
}

// usersPage lists the people who signed in through the tenant's IdP, each
// with a "revoke all access" button (docs/SECURITY.md §11).
func (u *ui) usersPage(c *gin.Context) {
	t := tenantOf(c)
	cursor := c.Query("cursor")
	items, next, err := u.d.Store.ListUsers(c.Request.Context(), t.ID, tenants.Page{Limit: 50, Cursor: cursor})
	v := u.page(c, "Users — "+t.Name, "users")
	if errors.Is(err, tenants.ErrBadCursor) {
		v.Notice = "That page link is no longer valid; showing the first page."
		cursor = ""
		items, next, err = u.d.Store.ListUsers(c.Request.Context(), t.ID, tenants.Page{Limit: 50})
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	v.Data = usersData{Users: items, Next: next, Cursor: cursor}
	if f := u.takeFlash(c, sessionOf(c).SID, "/console"); f != nil && f.Kind == "notice" {
		v.Flash = f
	}
	u.render(c, http.StatusOK, "console_users", v)
}

// userRevoke ends all of a user's access through Provisioner.RevokeUser
// (the same call as the API): every replica hears of each grant.
func (u *ui) userRevoke(c *gin.Context) {
	t := tenantOf(c)
	n, err := u.prov.RevokeUser(c.Request.Context(), t, c.Param("id"))
	if errors.Is(err, tenants.ErrNotFound) {
		u.errorPage(c, http.StatusNotFound, "No such user.")
		return
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	u.notice(c, fmt.Sprintf("All of this user's access was revoked (%d grants); their next sign-in asks for consent again.", n))
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/users"))
}

// ---- audit ----

type auditData struct {
	Events   []auditRow
	Next     string
	Cursor   string
	Action   string
	ClientID string
	Actions  []string
}

type auditRow struct {
	tenants.AuditEvent
	DetailPairs []kv
}

type kv struct{ K, V string }

// detailPairs renders event details as sorted key/value lines; strings
// unquoted, everything else as compact JSON.
func detailPairs(m tenants.JSONMap) []kv {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		v, ok := m[k].(string)
		if !ok {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // html/template escapes on output
			_ = enc.Encode(m[k])
			v = strings.TrimSpace(buf.String())
		}
		out = append(out, kv{K: k, V: v})
	}
	return out
}

var knownActions = []string{
	tenants.ActClientRegistered, tenants.ActClientExpired, tenants.ActClientDeleted, tenants.ActAuthorizeStarted,
	tenants.ActLoginSucceeded, tenants.ActLoginFailed, tenants.ActConsentGranted, tenants.ActConsentDenied,
	tenants.ActCodeIssued, tenants.ActTokenIssued, tenants.ActTokenRefreshed, tenants.ActRefreshReused,
	tenants.ActTokenRevoked, tenants.ActGrantRevoked, tenants.ActKeyRotated, tenants.ActMCPDenied,
	tenants.ActMCPToolCalled, tenants.ActMCPRequest, tenants.ActUpstreamFailed,
	"admin.tenant.created", "admin.tenant.updated", "admin.idp.updated", "admin.api_key.created", "admin.api_key.deleted",
}

func (u *ui) auditPage(c *gin.Context) {
	t := tenantOf(c)
	d := auditData{Action: strings.TrimSpace(c.Query("action")), ClientID: strings.TrimSpace(c.Query("client_id")), Cursor: c.Query("cursor"), Actions: knownActions}
	f := tenants.AuditFilter{Action: d.Action, ClientID: d.ClientID, Page: tenants.Page{Limit: 50, Cursor: d.Cursor}}
	items, next, err := u.d.Store.ListAuditEvents(c.Request.Context(), t.ID, f)
	v := u.page(c, "Audit log — "+t.Name, "audit")
	if errors.Is(err, tenants.ErrBadCursor) {
		v.Notice = "That page link is no longer valid; showing the newest events."
		d.Cursor, f.Cursor = "", ""
		items, next, err = u.d.Store.ListAuditEvents(c.Request.Context(), t.ID, f)
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	d.Next = next
	for _, ev := range items {
		d.Events = append(d.Events, auditRow{AuditEvent: ev, DetailPairs: detailPairs(ev.Details)})
	}
	v.Data = d
	u.render(c, http.StatusOK, "console_audit", v)
}

// ---- API keys and signing keys ----

type keysData struct {
	APIKeys     []tenants.APIKey
	SigningKeys []tenants.SigningKey
	Current     string // the key this session logged in with
}

func (u *ui) keysPage(c *gin.Context) {
	t := tenantOf(c)
	ak, err := u.d.Store.ListAPIKeys(c.Request.Context(), t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	sk, err := u.d.Store.ListSigningKeys(c.Request.Context(), t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	v := u.page(c, "Keys — "+t.Name, "keys")
	v.Data = keysData{APIKeys: ak, SigningKeys: sk, Current: sessionOf(c).KeyID}
	v.Flash = u.takeFlash(c, sessionOf(c).SID, "/console")
	u.render(c, http.StatusOK, "console_keys", v)
}

func (u *ui) apiKeyCreate(c *gin.Context) {
	t := tenantOf(c)
	name := strings.TrimSpace(c.PostForm("name"))
	key, ak, err := u.prov.CreateAPIKey(c.Request.Context(), t, name)
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			u.errorPage(c, http.StatusUnprocessableEntity, "API key name "+strings.Join(fe["name"], "; "))
			return
		}
		u.fail(c, err)
		return
	}
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).SID, Kind: "api_key", Values: map[string]string{"key": key, "id": ak.ID, "name": ak.Name}}, "/console")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/keys"))
}

func (u *ui) apiKeyDelete(c *gin.Context) {
	t := tenantOf(c)
	id := c.Param("id")
	keys, err := u.d.Store.ListAPIKeys(c.Request.Context(), t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	found := false
	for _, k := range keys {
		found = found || k.ID == id
	}
	if !found {
		u.errorPage(c, http.StatusNotFound, "No such API key.")
		return
	}
	if err := u.prov.DeleteAPIKey(c.Request.Context(), t, id); err != nil {
		u.fail(c, err)
		return
	}
	if id == sessionOf(c).KeyID {
		// The key this session stands on is gone: so is the session.
		http.SetCookie(c.Writer, u.cookie(sessionCookie, "", "/", -1))
		c.Redirect(http.StatusSeeOther, "/console/login")
		return
	}
	u.notice(c, "API key deleted; its console sessions ended.")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/keys"))
}

// rotateKeys makes the published next signing key active now ("rotate
// now"); the old key stays in the JWKS until every token it signed expired.
func (u *ui) rotateKeys(c *gin.Context) {
	t := tenantOf(c)
	res, err := u.d.KeyRotation().RotateNow(c.Request.Context(), t)
	if err != nil {
		u.fail(c, err)
		return
	}
	u.notice(c, "Signing key rotated: new tokens are signed with key "+res.Promoted+".")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/keys"))
}
