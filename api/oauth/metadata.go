package oauth

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// metadata is RFC 8414 authorization server metadata for the request's site
// (path or host mode: each is its own issuer).
func (h *handler) metadata(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, h.as.SiteMetadata(c.Request.Context(), httpx.Site(c), false))
}

// openIDConfiguration is OpenID Connect Discovery 1.0.
func (h *handler) openIDConfiguration(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, h.as.SiteMetadata(c.Request.Context(), httpx.Site(c), true))
}

// jwks publishes the tenant's signing keys (next, active, retired).
func (h *handler) jwks(c *gin.Context) {
	set, err := h.d.Keys.JWKS(c.Request.Context(), httpx.Site(c).Tenant.ID)
	if err != nil {
		h.jsonError(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, set)
}
