package console

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

type usersData struct {
	Users        []tenants.User
	Next, Cursor string
}

// usersPage lists the people who signed in through the tenant's IdP, each
// with a "revoke all access" button (docs/SECURITY.md §11).
func (u *ui) usersPage(c *gin.Context) {
	t := tenantOf(c)
	cursor := c.Query("cursor")
	items, next, err := u.d.Store.ListUsers(c.Request.Context(), t.ID, tenants.Page{Limit: 50, Cursor: cursor})
	v := u.page(c, "Users — "+t.Name, "users")
	if errors.Is(err, tenants.ErrBadCursor) {
		v.Notice = "That page link is no longer valid; showing the first page."
		cursor = ""
		items, next, err = u.d.Store.ListUsers(c.Request.Context(), t.ID, tenants.Page{Limit: 50})
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	v.Data = usersData{Users: items, Next: next, Cursor: cursor}
	if f := u.takeFlash(c, sessionOf(c).ID, "/console"); f != nil && f.Kind == "notice" {
		v.Flash = f
	}
	u.render(c, http.StatusOK, "console_users", v)
}

// userRevoke ends all of a user's access through Provisioner.RevokeUser
// (the same call as the API): every replica hears of each grant.
func (u *ui) userRevoke(c *gin.Context) {
	t := tenantOf(c)
	n, err := u.prov.RevokeUser(c.Request.Context(), t, c.Param("id"))
	if errors.Is(err, tenants.ErrNotFound) {
		u.errorPage(c, http.StatusNotFound, "No such user.")
		return
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	u.notice(c, fmt.Sprintf("All of this user's access was revoked (%d grants); their next sign-in asks for consent again.", n))
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/users"))
}
