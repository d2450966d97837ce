package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
)

type teamRow struct {
	T        *tenants.Tenant
	Role     string
	Resource string
}

type homeData struct {
	Teams []teamRow
}

// home is GET /console: the account's teams. An account with one team goes
// straight to it.
func (u *ui) home(c *gin.Context) {
	s := sessionOf(c)
	teams, err := u.acc.Teams(c.Request.Context(), s.Account)
	if err != nil {
		u.fail(c, err)
		return
	}
	if len(teams) == 1 && !s.IsOperator() && c.Query("list") == "" {
		c.Redirect(http.StatusSeeOther, u.tenantURL(teams[0].Tenant, ""))
		return
	}
	v := u.page(c, "Your teams — Gatehouse", "teams")
	d := homeData{}
	for _, tr := range teams {
		d.Teams = append(d.Teams, teamRow{T: tr.Tenant, Role: tr.Role, Resource: u.tenantView(tr.Tenant).Resource})
	}
	v.Data = d
	v.Flash = u.teamFlash(c)
	u.render(c, http.StatusOK, "console_teams", v)
}

type teamNewData struct {
	IdPTypes []string
}

var teamFields = []string{"name", "slug", "upstream_mcp_url", "idp_type", "idp_client_id", "idp_issuer_url", "idp_allowed_domains", "idp_allowed_orgs"}

func (u *ui) teamNewView(c *gin.Context) *view {
	v := u.page(c, "New team — Gatehouse", "teams")
	types := []string{tenants.IdPGitHub, tenants.IdPGoogle, tenants.IdPOIDC}
	if u.d.AllowDevIdP {
		types = append([]string{tenants.IdPDev}, types...)
	}
	v.Data = teamNewData{IdPTypes: types}
	return v
}

func (u *ui) teamNewForm(c *gin.Context) {
	v := u.teamNewView(c)
	v.Form["idp_type"] = tenants.IdPGitHub
	if u.d.AllowDevIdP {
		v.Form["idp_type"] = tenants.IdPDev
	}
	if !sessionOf(c).Account.Verified() {
		v.Notice = "Confirm your email address first: open the link we sent you."
	}
	u.render(c, http.StatusOK, "console_team_new", v)
}

// slugSuggestion answers the slug SuggestSlug makes of ?name=, for the
// new-team page's script (the same rule the form applies when the slug is
// left empty).
func (u *ui) slugSuggestion(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"slug": tenants.SuggestSlug(c.Query("name"))})
}

// teamCreate creates the team (the tenant) with the account as its owner.
// It never touches the session: an operator creating a team stays who they are.
func (u *ui) teamCreate(c *gin.Context) {
	v := u.teamNewView(c)
	for _, f := range teamFields {
		v.Form[f] = strings.TrimSpace(c.PostForm(f))
	}
	if !u.teamLimit.allow(c) {
		v.Notice = "Too many teams created from your address. Try again in an hour."
		u.render(c, http.StatusTooManyRequests, "console_team_new", v)
		return
	}
	if v.Form["slug"] == "" { // suggested from the name (the page's script shows it as one types)
		v.Form["slug"] = tenants.SuggestSlug(v.Form["name"])
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
		t, err = u.acc.CreateTeam(c.Request.Context(), sessionOf(c).Account, in)
	}
	switch {
	case err == nil:
	case errors.Is(err, accounts.ErrUnverified):
		v.Notice = "Confirm your email address first: open the link we sent you."
		u.render(c, http.StatusForbidden, "console_team_new", v)
		return
	case errors.Is(err, tenants.ErrConflict):
		v.Errors["slug"] = []string{"is already taken"}
	default:
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(c, err)
			return
		}
		v.Errors = fe
	}
	if len(v.Errors) > 0 {
		v.Notice = "Please fix the fields marked below."
		u.render(c, http.StatusUnprocessableEntity, "console_team_new", v)
		return
	}
	if u.d.Keys != nil {
		if err := u.d.Keys.Ensure(c.Request.Context(), t.ID); err != nil {
			u.d.Logger.Warn("new team: signing key not created yet (created on first use)", "tenant", t.ID, "err", err)
		}
	}
	u.changed(c, t)
	u.notice(c, "Your team is ready. Its connector URL is below.")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, ""))
}

// teamDelete deletes the team and everything it holds (owners).
func (u *ui) teamDelete(c *gin.Context) { u.deleteTeam(c, tenantOf(c), "/console?list=1") }

// deleteTeam deletes t once its slug is typed to confirm (owners from the
// team, operators from their view; the domain checks who may).
func (u *ui) deleteTeam(c *gin.Context, t *tenants.Tenant, back string) {
	if c.PostForm("confirm_slug") != t.Slug {
		u.errorPage(c, http.StatusUnprocessableEntity, "Type the team's slug to confirm deleting it.")
		return
	}
	if err := u.acc.DeleteTeam(c.Request.Context(), sessionOf(c).Account, t); err != nil {
		u.teamErr(c, err)
		return
	}
	u.changed(c, t)
	u.notice(c, "Team "+t.Name+" deleted with everything it held.")
	c.Redirect(http.StatusSeeOther, back)
}
