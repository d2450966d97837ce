package oauth

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// token is the token endpoint (RFC 6749 §3.2): authorization_code (+PKCE),
// refresh_token (rotation), client_credentials. JSON, no-store, §5.2 errors.
func (h *handler) token(c *gin.Context) {
	form, client, ok := h.clientForm(c, "grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "resource", "assertion")
	if !ok {
		return
	}
	resp, e := h.as.Token(c.Request.Context(), httpx.Site(c), client, as.TokenRequest{
		GrantType: form.Get("grant_type"), Code: form.Get("code"), RedirectURI: form.Get("redirect_uri"), CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"), Scope: form.Get("scope"), ScopePresent: present(form, "scope"),
		Resource: form.Get("resource"), ResourcePresent: present(form, "resource"), Assertion: form.Get("assertion"),
		DPoP: c.Request.Header.Values("DPoP"),
	})
	if e != nil {
		h.jsonError(c, e)
		return
	}
	c.JSON(http.StatusOK, resp)
}
