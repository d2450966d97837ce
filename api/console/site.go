package console

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

type landingData struct {
	Demo *tenants.TenantView
}

// landing is GET /: what Gatehouse is, signup and console links, and the
// demo connector when a demo tenant exists.
func (u *ui) landing(c *gin.Context) {
	v := u.page(c, "Gatehouse — OAuth for your MCP server", "home")
	d := landingData{}
	if t, err := u.d.Store.GetTenantBySlug(c.Request.Context(), "demo"); err == nil {
		tv := u.tenantView(t)
		d.Demo = &tv
	}
	v.Data = d
	u.render(c, http.StatusOK, "site_landing", v)
}

type signupData struct {
	IdPTypes []string
}

func (u *ui) signupView(c *gin.Context) *view {
	v := u.page(c, "Sign up — Gatehouse", "signup")
	v.CSRF = u.preToken(c)
	types := []string{tenants.IdPGitHub, tenants.IdPGoogle, tenants.IdPOIDC}
	if u.d.AllowDevIdP {
		types = append([]string{tenants.IdPDev}, types...)
	}
	v.Data = signupData{IdPTypes: types}
	return v
}

func (u *ui) signupForm(c *gin.Context) {
	v := u.signupView(c)
	if u.d.AllowDevIdP {
		v.Form["idp_type"] = tenants.IdPDev
	} else {
		v.Form["idp_type"] = tenants.IdPGitHub
	}
	u.render(c, http.StatusOK, "site_signup", v)
}

var signupFields = []string{"name", "slug", "upstream_mcp_url", "idp_type", "idp_client_id", "idp_issuer_url", "idp_allowed_domains", "idp_allowed_orgs"}

// signupSubmit creates the tenant and its first API key, logs the browser
// into the new tenant's console and redirects to the result page, which
// shows the key once.
func (u *ui) signupSubmit(c *gin.Context) {
	v := u.signupView(c)
	for _, f := range signupFields {
		v.Form[f] = strings.TrimSpace(c.PostForm(f))
	}
	if !u.signupLimit.allow(c) {
		v.Notice = "Too many signups from your address. Try again in an hour."
		u.render(c, http.StatusTooManyRequests, "site_signup", v)
		return
	}
	in := tenants.TenantInput{Slug: strings.ToLower(v.Form["slug"]), Name: v.Form["name"], UpstreamMCPURL: v.Form["upstream_mcp_url"],
		IdP: &tenants.IdPInput{Type: v.Form["idp_type"], ClientID: v.Form["idp_client_id"], ClientSecret: c.PostForm("idp_client_secret"),
			IssuerURL: v.Form["idp_issuer_url"], AllowedDomains: splitList(v.Form["idp_allowed_domains"]), AllowedOrgs: splitList(v.Form["idp_allowed_orgs"])}}
	if in.Name == "" {
		v.Errors["name"] = append(v.Errors["name"], "is required")
	}
	var t *tenants.Tenant
	var err error
	if len(v.Errors) == 0 {
		t, err = u.prov.CreateTenant(c.Request.Context(), in)
	}
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			v.Errors = fe
		} else if errors.Is(err, tenants.ErrConflict) {
			v.Errors["slug"] = []string{"is already taken"}
		} else {
			u.fail(c, err)
			return
		}
	}
	if len(v.Errors) > 0 {
		v.Notice = "Please fix the fields marked below."
		u.render(c, http.StatusUnprocessableEntity, "site_signup", v)
		return
	}
	key, ak, err := u.prov.CreateAPIKey(c.Request.Context(), t, "created at signup")
	if err != nil {
		// Nothing half-written: the tenant goes if its key cannot be made.
		if derr := u.d.Store.DeleteTenant(c.Request.Context(), t.ID); derr != nil {
			u.d.Logger.Error("signup rollback failed", "tenant", t.ID, "err", derr)
		}
		u.fail(c, err)
		return
	}
	if u.d.Keys != nil {
		if err := u.d.Keys.Ensure(c.Request.Context(), t.ID); err != nil {
			u.d.Logger.Warn("signup: signing key not created yet (created on first use)", "tenant", t.ID, "err", err)
		}
	}
	u.changed(c, t)
	s, sealed, err := u.newSession(c.Request.Context(), ak.ID, t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	http.SetCookie(c.Writer, u.cookie(sessionCookie, sealed, "/", sessionTTL))
	if err := u.setFlash(c, &flash{Binding: s.SID, Kind: "signup", Once: ak.ID, Values: map[string]string{"key": key}}, "/signup"); err != nil {
		u.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/signup/done")
}

type signupDoneData struct {
	Key string
}

// signupDone shows the new tenant's connector URLs, and its API key exactly
// once: the flash cookie is cleared and a server-side marker refuses a replay.
func (u *ui) signupDone(c *gin.Context) {
	s := sessionOf(c)
	if s == nil || s.admin() {
		c.Redirect(http.StatusSeeOther, "/console")
		return
	}
	t, err := u.d.Store.GetTenant(c.Request.Context(), s.TenantID)
	if err != nil {
		u.fail(c, err)
		return
	}
	c.Set(ginTenant, t)
	v := u.page(c, "Your connector is ready — Gatehouse", "signup")
	d := signupDoneData{}
	if f := u.takeFlash(c, s.SID, "/signup"); f != nil && f.Kind == "signup" && f.Once != "" {
		first, err := u.d.Store.PutSystemValueIfAbsent(c.Request.Context(), "console.signup_key_shown."+f.Once, u.now().UTC().Format("2006-01-02T15:04:05Z"))
		if err != nil {
			u.fail(c, err)
			return
		}
		if first {
			d.Key = f.Values["key"]
		}
	}
	v.Data = d
	u.render(c, http.StatusOK, "site_signup_done", v)
}

func (u *ui) loginForm(c *gin.Context) {
	if s := sessionOf(c); s != nil {
		c.Redirect(http.StatusSeeOther, "/console")
		return
	}
	v := u.page(c, "Console login — Gatehouse", "login")
	v.CSRF = u.preToken(c)
	v.Form["next"] = c.Query("next")
	u.render(c, http.StatusOK, "console_login", v)
}

// loginSubmit accepts a tenant API key or the admin token.
func (u *ui) loginSubmit(c *gin.Context) {
	v := u.page(c, "Console login — Gatehouse", "login")
	v.CSRF = u.preToken(c)
	v.Form["next"] = c.PostForm("next")
	if !u.loginLimit.allow(c) {
		v.Notice = "Too many login attempts from your address. Wait a few minutes."
		u.render(c, http.StatusTooManyRequests, "console_login", v)
		return
	}
	token := strings.TrimSpace(c.PostForm("token"))
	var keyID, tenantID string
	h := tenants.HashSecret(token)
	switch {
	case token == "":
	case u.d.AdminTokenHash != "" && subtle.ConstantTimeCompare([]byte(h), []byte(u.d.AdminTokenHash)) == 1:
		keyID = adminKeyID
	default:
		k, err := u.d.Store.GetAPIKeyByHash(c.Request.Context(), h)
		if err != nil && !errors.Is(err, tenants.ErrNotFound) {
			u.fail(c, err)
			return
		}
		if k != nil {
			keyID, tenantID = k.ID, k.TenantID
			_ = u.d.Store.TouchAPIKey(c.Request.Context(), k.TenantID, k.ID, u.now().UTC())
		}
	}
	if keyID == "" {
		v.Errors["token"] = []string{"is not a valid API key or admin token"}
		u.render(c, http.StatusUnauthorized, "console_login", v)
		return
	}
	_, sealed, err := u.newSession(c.Request.Context(), keyID, tenantID)
	if err != nil {
		u.fail(c, err)
		return
	}
	http.SetCookie(c.Writer, u.cookie(sessionCookie, sealed, "/", sessionTTL))
	next := v.Form["next"]
	// Only our own console paths: never an open redirect.
	if !strings.HasPrefix(next, "/console") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		next = "/console"
	}
	c.Redirect(http.StatusSeeOther, next)
}

// logout ends the session server-side, so a copy of the cookie stops
// working too (docs/SECURITY.md §14), and clears the cookie.
func (u *ui) logout(c *gin.Context) {
	if s := sessionOf(c); s != nil {
		if err := u.endSession(c.Request.Context(), s); err != nil {
			u.fail(c, err)
			return
		}
	}
	http.SetCookie(c.Writer, u.cookie(sessionCookie, "", "/", -1))
	c.Redirect(http.StatusSeeOther, "/console/login")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\r' || r == '\t' }) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}
