package oauth

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// userinfo answers who an access token of this site belongs to (OIDC Core §5.3).
func (h *handler) userinfo(c *gin.Context) {
	tok, _ := bearer(c)
	info, e := h.as.UserInfo(c.Request.Context(), httpx.Site(c), tok)
	if e != nil {
		h.jsonError(c, e)
		return
	}
	c.JSON(http.StatusOK, info)
}
