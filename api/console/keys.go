package console

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

type keysData struct {
	APIKeys     []tenants.APIKey
	SigningKeys []tenants.SigningKey
	Current     string // the key this session logged in with
}

func (u *ui) keysPage(c *gin.Context) {
	t := tenantOf(c)
	ak, err := u.d.Store.ListAPIKeys(c.Request.Context(), t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	sk, err := u.d.Store.ListSigningKeys(c.Request.Context(), t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	v := u.page(c, "Keys — "+t.Name, "keys")
	v.Data = keysData{APIKeys: ak, SigningKeys: sk, Current: sessionOf(c).KeyID}
	v.Flash = u.takeFlash(c, sessionOf(c).SID, "/console")
	u.render(c, http.StatusOK, "console_keys", v)
}

func (u *ui) apiKeyCreate(c *gin.Context) {
	t := tenantOf(c)
	name := strings.TrimSpace(c.PostForm("name"))
	key, ak, err := u.prov.CreateAPIKey(c.Request.Context(), t, name)
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			u.errorPage(c, http.StatusUnprocessableEntity, "API key name "+strings.Join(fe["name"], "; "))
			return
		}
		u.fail(c, err)
		return
	}
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).SID, Kind: "api_key", Values: map[string]string{"key": key, "id": ak.ID, "name": ak.Name}}, "/console")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/keys"))
}

func (u *ui) apiKeyDelete(c *gin.Context) {
	t := tenantOf(c)
	id := c.Param("id")
	keys, err := u.d.Store.ListAPIKeys(c.Request.Context(), t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	found := false
	for _, k := range keys {
		found = found || k.ID == id
	}
	if !found {
		u.errorPage(c, http.StatusNotFound, "No such API key.")
		return
	}
	if err := u.prov.DeleteAPIKey(c.Request.Context(), t, id); err != nil {
		u.fail(c, err)
		return
	}
	if id == sessionOf(c).KeyID {
		// The key this session stands on is gone: so is the session.
		http.SetCookie(c.Writer, u.cookie(sessionCookie, "", "/", -1))
		c.Redirect(http.StatusSeeOther, "/console/login")
		return
	}
	u.notice(c, "API key deleted; its console sessions ended.")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/keys"))
}

// rotateKeys makes the published next signing key active now ("rotate
// now"); the old key stays in the JWKS until every token it signed expired.
func (u *ui) rotateKeys(c *gin.Context) {
	t := tenantOf(c)
	res, err := u.d.KeyRotation().RotateNow(c.Request.Context(), t)
	if err != nil {
		u.fail(c, err)
		return
	}
	u.notice(c, "Signing key rotated: new tokens are signed with key "+res.Promoted+".")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/keys"))
}
