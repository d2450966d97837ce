package console

import (
	"errors"
	"net/http"

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
