package provision

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// doctorHandler serves GET /api/v1/tenants/{slug}/doctor.
// Placeholder until the connection doctor lands (issue 6): it answers 501.
func doctorHandler(d *httpx.Deps) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Content-Type", "application/problem+json")
		c.String(http.StatusNotImplemented, `{"type":"about:blank","title":"Not Implemented","status":501,"detail":"the connection doctor is not built yet"}`)
	}
}
