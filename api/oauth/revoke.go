package oauth

import (
	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// revoke is token revocation (RFC 7009 §2.1); 200 with an empty body.
func (h *handler) revoke(c *gin.Context) {
	form, client, ok := h.clientForm(c, "token", "token_type_hint")
	if !ok {
		return
	}
	if e := h.as.Revoke(c.Request.Context(), httpx.Site(c), client, form.Get("token"), form.Get("token_type_hint")); e != nil {
		h.jsonError(c, e)
		return
	}
	c.Status(200)
}
