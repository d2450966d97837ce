package console

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

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
	v.Flash = u.takeFlash(c, sessionOf(c).ID, "/console")
	u.render(c, http.StatusOK, "console_overview", v)
}
