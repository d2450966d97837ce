package console

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

type grantsData struct {
	Grants []grantRow
	Next   string
	Cursor string
	All    bool // unredeemed code-stage grants shown too
	Hidden int  // how many of this page were hidden
}

type grantRow struct {
	tenants.Grant
	Live       bool
	ClientName string // the client's registered name ("" if none)
	Person     string // the user's name or email, else the subject
}

// codeStage reports a grant whose authorization code was never exchanged:
// it was created with the code and expired with it (60 s), unused.
func codeStage(g *tenants.Grant, now time.Time) bool {
	return g.RevokedAt == nil && g.LastUsedAt == nil && !g.Live(now) && g.ExpiresAt.Sub(g.CreatedAt) <= 5*time.Minute
}

func (u *ui) grantsPage(c *gin.Context) {
	t := tenantOf(c)
	v := u.page(c, "Grants — "+t.Name, "grants")
	items, next, cursor, err := listPage(c, v, "first page", func(p tenants.Page) ([]tenants.Grant, string, error) {
		return u.d.Store.ListGrants(c.Request.Context(), t.ID, p)
	})
	if err != nil {
		u.fail(c, err)
		return
	}
	d := grantsData{Next: next, Cursor: cursor, All: c.Query("all") == "1"}
	d.Grants, d.Hidden = u.grantRows(c.Request.Context(), t, items, d.All)
	v.Data = d
	v.Flash = u.takeNotice(c)
	u.render(c, http.StatusOK, "console_grants", v)
}

// grantRows names each grant's client and person for the page; unless all,
// code-stage grants are left out and counted in hidden.
func (u *ui) grantRows(ctx context.Context, t *tenants.Tenant, items []tenants.Grant, all bool) (rows []grantRow, hidden int) {
	now := u.now()
	clients, people := map[string]string{}, map[string]string{}
	for _, g := range items {
		if !all && codeStage(&g, now) {
			hidden++
			continue
		}
		if _, ok := clients[g.ClientID]; !ok {
			if cl, err := u.d.Store.GetClient(ctx, t.ID, g.ClientID); err == nil {
				clients[g.ClientID] = cl.Name
			}
		}
		if _, ok := people[g.UserID]; !ok && g.UserID != "" {
			if usr, err := u.d.Store.GetUser(ctx, t.ID, g.UserID); err == nil {
				people[g.UserID] = firstNonEmpty(usr.Name, usr.Email, usr.Username)
			}
		}
		rows = append(rows, grantRow{Grant: g, Live: g.Live(now), ClientName: clients[g.ClientID], Person: firstNonEmpty(people[g.UserID], g.Subject)})
	}
	return rows, hidden
}

// grantRevoke revokes through tenants.RevokeGrant: every replica hears of it.
func (u *ui) grantRevoke(c *gin.Context) {
	err := tenants.RevokeGrant(c.Request.Context(), u.d.Store, u.d.Bus, u.d.Auditor, tenantOf(c).ID, c.Param("id"), tenants.RevokedInConsole)
	if !u.done(c, err, "No such grant.") {
		return
	}
	back := "/grants"
	if id := c.PostForm("user"); id != "" { // revoked from the user's page
		back = "/users/" + url.PathEscape(id)
	}
	u.backWith(c, back, "Grant revoked: its access and refresh tokens no longer work.")
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
