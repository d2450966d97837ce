package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

type keysData struct {
	APIKeys     []tenants.APIKey
	SigningKeys []tenants.SigningKey
	Now         time.Time
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
	v.Data = keysData{APIKeys: ak, SigningKeys: sk, Now: u.now()}
	v.Flash = u.teamFlash(c)
	u.render(c, http.StatusOK, "console_keys", v)
}

func (u *ui) apiKeyCreate(c *gin.Context) {
	t := tenantOf(c)
	in := tenants.APIKeyInput{Name: strings.TrimSpace(c.PostForm("name")), ReadOnly: c.PostForm("read_only") == "on"}
	if d := strings.TrimSpace(c.PostForm("expires_days")); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 3650 {
			u.errorPage(c, http.StatusUnprocessableEntity, "The API key was not created: “expires after” is a number of days from 1 to 3650, or empty for no expiry.")
			return
		}
		exp := u.now().Add(time.Duration(n) * 24 * time.Hour)
		in.ExpiresAt = &exp
	}
	key, ak, err := u.prov.CreateAPIKey(c.Request.Context(), t, in)
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			for f, msgs := range fe {
				u.errorPage(c, http.StatusUnprocessableEntity, "The API key was not created: "+f+" "+strings.Join(msgs, "; ")+".")
				return
			}
		}
		u.fail(c, err)
		return
	}
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).ID, Kind: "api_key", Values: map[string]string{"key": key, "id": ak.ID, "name": ak.Name}}, "/console")
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
	u.backWith(c, "/keys", "API key deleted: automation using it stops working now.")
}

// rotateKeys makes the published next signing key active now ("rotate
// now"); the old key stays in the JWKS until every token it signed expired.
func (u *ui) rotateKeys(c *gin.Context) {
	t := tenantOf(c)
	res, err := u.d.Rotation.RotateNow(c.Request.Context(), t)
	if err != nil {
		u.fail(c, err)
		return
	}
	u.backWith(c, "/keys", "Signing key rotated: new tokens are signed with key "+res.Promoted+".")
}
