package oauth

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

// The browser session of an authorization flow is a random cookie scoped to
// the site's /oauth path. A pending authorization stores its hash, so only
// the browser that started a flow can continue it (login CSRF), and every
// form carries a CSRF token derived from the session and the pending id.
const sessionCookie = "gatehouse_oauth"

func cookiePath(site tenants.Site) string {
	return strings.TrimPrefix(site.Issuer, site.Origin) + "/oauth"
}

// session returns the browser's session id, creating one when create is set.
func session(c *gin.Context, site tenants.Site, create bool) string {
	if ck, err := c.Request.Cookie(sessionCookie); err == nil && len(ck.Value) >= 40 && len(ck.Value) <= 64 {
		return ck.Value
	}
	if !create {
		return ""
	}
	sid := tenants.RandomToken()
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: sid, Path: cookiePath(site), HttpOnly: true,
		Secure: strings.HasPrefix(site.Origin, "https://"), SameSite: http.SameSiteLaxMode})
	return sid
}

func sessionHash(sid string) string {
	if sid == "" {
		return ""
	}
	return tenants.HashSecret(sid)
}

// csrfToken binds a form to the session and the pending authorization.
func (h *handler) csrfToken(sid, pendingID string) string {
	return h.d.Sealer.MACText("oauth-form-csrf", []byte(sid+"|"+pendingID), 0)
}

// csrfOK accepts a token made under any configured secret key, so a key
// rotation does not break a consent page already on screen.
func (h *handler) csrfOK(sid, pendingID, got string) bool {
	if sid == "" || got == "" {
		return false
	}
	return h.d.Sealer.VerifyMACText("oauth-form-csrf", []byte(sid+"|"+pendingID), got)
}
