package oauth

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// introspect is token introspection (RFC 7662 §2) for tenant API keys
// (Authorization: Bearer <key>) and pre-registered confidential clients.
func (h *handler) introspect(c *gin.Context) {
	site := httpx.Site(c)
	form, ok := h.backChannelForm(c, "token", "token_type_hint")
	if !ok {
		return
	}
	if key, ok := bearer(c); ok {
		if e := h.as.AuthenticateAPIKey(c.Request.Context(), site, key); e != nil {
			h.jsonError(c, e)
			return
		}
	} else {
		client, e := h.authenticate(c, form)
		if e != nil {
			h.jsonError(c, e)
			return
		}
		if e := as.MayIntrospect(client); e != nil {
			h.jsonError(c, e)
			return
		}
	}
	resp, e := h.as.Introspect(c.Request.Context(), site, form.Get("token"))
	if e != nil {
		h.jsonError(c, e)
		return
	}
	c.JSON(http.StatusOK, resp)
}
