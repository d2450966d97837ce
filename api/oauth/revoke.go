package oauth

import (
	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// revoke is token revocation (RFC 7009 §2.1); 200 with an empty body.
func (h *handler) revoke(c *gin.Context) {
	form, e := readForm(c, true)
	if e != nil {
		h.jsonError(c, e)
		return
	}
	if rep := repeated(form, "token", "token_type_hint"); len(rep) > 0 {
		h.jsonError(c, &as.Error{Code: as.ErrInvalidRequest, Description: "parameter " + rep[0] + " was sent more than once"})
		return
	}
	client, e := h.authenticate(c, form)
	if e != nil {
		h.jsonError(c, e)
		return
	}
	if e := h.as.Revoke(c.Request.Context(), httpx.Site(c), client, form.Get("token"), form.Get("token_type_hint")); e != nil {
		h.jsonError(c, e)
		return
	}
	c.Status(200)
}
