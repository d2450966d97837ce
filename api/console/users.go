package console

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

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
	v := u.page(c, "Users — "+t.Name, "users")
	items, next, cursor, err := listPage(c, v, "first page", func(p tenants.Page) ([]tenants.User, string, error) {
		return u.d.Store.ListUsers(c.Request.Context(), t.ID, p)
	})
	if err != nil {
		u.fail(c, err)
		return
	}
	v.Data = usersData{Users: items, Next: next, Cursor: cursor}
	v.Flash = u.takeNotice(c)
	u.render(c, http.StatusOK, "console_users", v)
}

// userRevoke ends all of a user's access through Provisioner.RevokeUser
// (the same call as the API): every replica hears of each grant.
func (u *ui) userRevoke(c *gin.Context) {
	n, err := u.prov.RevokeUser(c.Request.Context(), tenantOf(c), c.Param("id"))
	if !u.done(c, err, "No such user.") {
		return
	}
	back := "/users"
	if c.PostForm("from") == "user" {
		back += "/" + url.PathEscape(c.Param("id"))
	}
	u.backWith(c, back, fmt.Sprintf("All of this user's access was revoked (%d grants); their next sign-in asks for consent again.", n))
}

type userData struct {
	User         *tenants.User
	Clients      []userClient
	Grants       []grantRow
	Next, Cursor string
	All          bool
	Hidden       int
}

// userClient is one client the user authorized, summed over its grants on
// the page: when first authorized and when last used.
type userClient struct {
	ID, Name  string
	CreatedAt time.Time
	LastUsed  *time.Time
	Live      int
}

// userPage shows one person: their clients and grants, newest first, with
// a revoke button per grant and "revoke all of this user's access".
func (u *ui) userPage(c *gin.Context) {
	t := tenantOf(c)
	ctx := c.Request.Context()
	usr, err := u.d.Store.GetUser(ctx, t.ID, c.Param("id"))
	if !u.done(c, err, "No such user in this team.") {
		return
	}
	v := u.page(c, firstNonEmpty(usr.Name, usr.Email, usr.Username, "User")+" — "+t.Name, "users")
	items, next, cursor, err := listPage(c, v, "first page", func(p tenants.Page) ([]tenants.Grant, string, error) {
		return u.d.Store.ListGrantsForUser(ctx, t.ID, usr.ID, p)
	})
	if err != nil {
		u.fail(c, err)
		return
	}
	d := userData{User: usr, Next: next, Cursor: cursor, All: c.Query("all") == "1"}
	d.Grants, d.Hidden = u.grantRows(ctx, t, items, d.All)
	d.Clients = clientsOf(d.Grants)
	v.Data = d
	v.Flash = u.takeNotice(c)
	u.render(c, http.StatusOK, "console_user", v)
}

// clientsOf sums grants (newest first) per client, in that order.
func clientsOf(rows []grantRow) []userClient {
	var out []userClient
	at := map[string]int{}
	for _, g := range rows {
		i, ok := at[g.ClientID]
		if !ok {
			i, at[g.ClientID] = len(out), len(out)
			out = append(out, userClient{ID: g.ClientID, Name: g.ClientName, CreatedAt: g.CreatedAt})
		}
		cl := &out[i]
		if g.CreatedAt.Before(cl.CreatedAt) {
			cl.CreatedAt = g.CreatedAt
		}
		if g.LastUsedAt != nil && (cl.LastUsed == nil || g.LastUsedAt.After(*cl.LastUsed)) {
			cl.LastUsed = g.LastUsedAt
		}
		if g.Live {
			cl.Live++
		}
	}
	return out
}
