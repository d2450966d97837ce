package console

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
)

type doctorData struct {
	Report    *doctor.Report
	SelfCheck bool
}

// doctorPage renders the connection doctor (tenants/doctor): per-client
// timelines with the first failing step and, on request (?self_check=1), a
// self-check of the tenant's public URLs fetched the way clients discover
// them. The self-check is not run on every view: its probes of the MCP URL
// are themselves audited (mcp.denied), and would fill the audit log.
func (u *ui) doctorPage(c *gin.Context) {
	t := tenantOf(c)
	ctx := c.Request.Context()
	rep, err := doctor.Diagnosis(ctx, u.d.Store, t, &doctor.LoadOptions{Now: u.now().UTC()})
	if err != nil {
		u.fail(c, err)
		return
	}
	d := doctorData{Report: &rep, SelfCheck: c.Query("self_check") == "1"}
	if d.SelfCheck {
		sites := []tenants.Site{u.d.Sites.Path(t)}
		if hs, ok := u.d.Sites.Host(t); ok {
			sites = append(sites, hs)
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		rep.SelfCheck = doctor.SelfCheckSites(cctx, u.selfCheck, sites)
	}
	v := u.page(c, "Connection doctor — "+t.Name, "doctor")
	v.Data = d
	u.render(c, http.StatusOK, "console_doctor", v)
}
