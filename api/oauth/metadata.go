package oauth

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// metadata is RFC 8414 authorization server metadata for the request's site
// (path or host mode: each is its own issuer).
func (h *handler) metadata(c *gin.Context) { h.siteMetadata(c, false) }

// openIDConfiguration is OpenID Connect Discovery 1.0.
func (h *handler) openIDConfiguration(c *gin.Context) { h.siteMetadata(c, true) }

func (h *handler) siteMetadata(c *gin.Context, oidc bool) {
	doc, err := h.as.MetadataDocument(c.Request.Context(), httpx.Site(c), oidc)
	if err != nil {
		h.jsonError(c, err)
		return
	}
	writeDocument(c, doc.Body, doc.ETag)
}

// jwks publishes the tenant's signing keys (next, active, retired).
func (h *handler) jwks(c *gin.Context) {
	doc, etag, err := h.d.Keys.JWKSDocument(c.Request.Context(), httpx.Site(c).Tenant.ID)
	if err != nil {
		h.jsonError(c, err)
		return
	}
	writeDocument(c, doc, etag)
}

// writeDocument answers with a public JSON document serialized once (and
// 304 Not Modified when the client has it: RFC 9110 §13.1.2).
func writeDocument(c *gin.Context, doc []byte, etag string) {
	hdr := c.Writer.Header()
	hdr["Cache-Control"] = publicFiveMinutes
	hdr["Etag"] = []string{etag}
	if inm := c.Request.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", doc)
}

var publicFiveMinutes = []string{"public, max-age=300"}

// etagMatches is the weak comparison of If-None-Match (RFC 9110 §13.1.2).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
