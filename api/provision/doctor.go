package provision

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
)

// maxDoctorWindow bounds ?window (the default audit retention is 90 days).
const maxDoctorWindow = 90 * 24 * time.Hour

// doctorHandler serves GET /api/v1/tenants/{slug}/doctor: the connection
// doctor's report (tenants/doctor) for the tenant tenantScope resolved.
//
// Query: window (Go duration, default 168h: how far back events are read),
// self_check (default true: also fetch the tenant's public metadata the way
// clients do, in path mode and, where enabled, host mode).
func doctorHandler(d *httpx.Deps) gin.HandlerFunc {
	h := &handler{d: d}
	// The tenant's public URLs are fetched through the outbound address
	// policy (see doctor.NewSelfCheckClient).
	selfCheckClient := doctor.NewSelfCheckClient(15*time.Second, d.AllowPrivateFetch)
	return func(c *gin.Context) {
		t := tenantOf(c)
		if t == nil { // mounted without tenantScope: never expected
			notFound(c, "tenant "+c.Param("slug"))
			return
		}
		opts := &doctor.LoadOptions{}
		var errs []tenants.FieldError
		if v := c.Query("window"); v != "" {
			w, err := time.ParseDuration(v)
			if err != nil || w <= 0 || w > maxDoctorWindow {
				errs = append(errs, tenants.FieldError{Field: "window", Detail: "must be a duration between 1s and 2160h, e.g. 24h"})
			}
			opts.Since = w
		}
		selfCheck := true
		if v := c.Query("self_check"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, tenants.FieldError{Field: "self_check", Detail: "must be true or false"})
			}
			selfCheck = b
		}
		if len(errs) > 0 {
			problem(c, http.StatusBadRequest, probBadQuery, "invalid query parameters", errs)
			return
		}
		ctx := c.Request.Context()
		rep, err := doctor.Diagnosis(ctx, d.Store, t, opts)
		if err != nil {
			h.fail(c, err, "tenant "+t.Slug)
			return
		}
		if selfCheck {
			sites := []tenants.Site{d.Sites.Path(t)}
			if hs, ok := d.Sites.Host(t); ok {
				sites = append(sites, hs)
			}
			rep.SelfCheck = doctor.SelfCheckSites(ctx, selfCheckClient, sites)
		}
		c.JSON(http.StatusOK, rep)
	}
}
