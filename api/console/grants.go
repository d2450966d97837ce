package console

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

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
	if f := u.takeFlash(c, sessionOf(c).ID, "/console"); f != nil && f.Kind == "notice" {
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
