package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

type operatorTeamRow struct {
	T       tenants.Tenant
	Members int
	Clients int
}

type operatorData struct {
	Teams  []operatorTeamRow
	Q      string
	Next   string
	Cursor string
	Events []auditRow
	Mail   []mailRow
}

type mailRow struct {
	tenants.OutboxMessage
	Body string
}

// operatorTeams lists every team with search, size and status.
func (u *ui) operatorTeams(c *gin.Context) {
	ctx := c.Request.Context()
	d := operatorData{Q: strings.TrimSpace(c.Query("q"))}
	v := u.page(c, "Operator — teams", "operator")
	items, next, cursor, err := listPage(c, v, "first page", func(p tenants.Page) ([]tenants.Tenant, string, error) {
		return u.d.Store.SearchTenants(ctx, d.Q, p)
	})
	if err != nil {
		u.fail(c, err)
		return
	}
	d.Next, d.Cursor = next, cursor
	for _, t := range items {
		ms, err := u.d.Store.ListMembers(ctx, t.ID)
		if err != nil {
			u.fail(c, err)
			return
		}
		cl, _, err := u.d.Store.ListClients(ctx, t.ID, tenants.Page{Limit: 200})
		if err != nil {
			u.fail(c, err)
			return
		}
		d.Teams = append(d.Teams, operatorTeamRow{T: t, Members: len(ms), Clients: len(cl)})
	}
	v.Data = d
	v.Flash = u.teamFlash(c)
	u.render(c, http.StatusOK, "operator_teams", v)
}

func (u *ui) operatorTeam(c *gin.Context) *tenants.Tenant {
	t, err := u.d.Store.GetTenantBySlug(c.Request.Context(), c.Param("slug"))
	if !u.done(c, err, "No such team.") {
		return nil
	}
	return t
}

func (u *ui) operatorSuspend(c *gin.Context) { u.operatorSetSuspended(c, true) }
func (u *ui) operatorResume(c *gin.Context)  { u.operatorSetSuspended(c, false) }

func (u *ui) operatorSetSuspended(c *gin.Context, suspend bool) {
	t := u.operatorTeam(c)
	if t == nil {
		return
	}
	if err := u.acc.SetSuspended(c.Request.Context(), sessionOf(c).Account, t, suspend); err != nil {
		u.teamErr(c, err)
		return
	}
	u.d.Sites.Invalidate()
	msg := "Team " + t.Name + " is suspended: its connector refuses every request and its tokens stop working."
	if !suspend {
		msg = "Team " + t.Name + " is active again."
	}
	u.notice(c, msg)
	c.Redirect(http.StatusSeeOther, "/console/operator")
}

func (u *ui) operatorDelete(c *gin.Context) {
	t := u.operatorTeam(c)
	if t != nil {
		u.deleteTeam(c, t, "/console/operator")
	}
}

// operatorAudit is the platform audit: accounts, operators, team lifecycle.
func (u *ui) operatorAudit(c *gin.Context) {
	d := operatorData{Cursor: c.Query("cursor")}
	items, next, err := u.d.Store.ListAuditEvents(c.Request.Context(), "", tenants.AuditFilter{Page: tenants.Page{Limit: 50, Cursor: d.Cursor}})
	if err != nil && !errors.Is(err, tenants.ErrBadCursor) {
		u.fail(c, err)
		return
	}
	d.Next = next
	for _, ev := range items {
		d.Events = append(d.Events, auditRow{AuditEvent: ev, DetailPairs: detailPairs(ev.Details), Sentence: sentence(ev)})
	}
	v := u.page(c, "Operator — platform audit", "operator")
	v.Data = d
	u.render(c, http.StatusOK, "operator_audit", v)
}

// operatorMail shows the mail the platform sent or could not send (no SMTP
// server): an operator passes verification, reset and invitation links on.
func (u *ui) operatorMail(c *gin.Context) {
	d := operatorData{Cursor: c.Query("cursor")}
	items, next, err := u.d.Store.ListOutboxMessages(c.Request.Context(), tenants.Page{Limit: 50, Cursor: d.Cursor})
	if err != nil && !errors.Is(err, tenants.ErrBadCursor) {
		u.fail(c, err)
		return
	}
	d.Next = next
	for i := range items {
		d.Mail = append(d.Mail, mailRow{OutboxMessage: items[i], Body: u.acc.OpenOutboxBody(&items[i])})
	}
	v := u.page(c, "Operator — mail", "operator")
	v.Data = d
	u.render(c, http.StatusOK, "operator_mail", v)
}
