package console

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
)

type membersData struct {
	Members     []tenants.MemberView
	Invitations []tenants.Invitation
	Me          string
	Roles       []string
}

// membersPage is the team's people and open invitations.
func (u *ui) membersPage(c *gin.Context) {
	t := tenantOf(c)
	ms, err := u.d.Store.ListMembers(c.Request.Context(), t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	invs, err := u.d.Store.ListInvitations(c.Request.Context(), t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	open := invs[:0]
	for _, inv := range invs {
		if inv.AcceptedAt == nil && u.now().Before(inv.ExpiresAt) {
			open = append(open, inv)
		}
	}
	v := u.page(c, "Members — "+t.Name, "members")
	v.Data = membersData{Members: ms, Invitations: open, Me: sessionOf(c).Account.ID, Roles: []string{tenants.RoleViewer, tenants.RoleAdmin, tenants.RoleOwner}}
	v.Form["role"] = tenants.RoleViewer
	v.Flash = u.teamFlash(c)
	u.render(c, http.StatusOK, "console_members", v)
}

// memberInvite creates an invitation and shows its link once to the owner
// (it is mailed too when SMTP is configured).
func (u *ui) memberInvite(c *gin.Context) {
	t := tenantOf(c)
	inv, err := u.acc.Invite(c.Request.Context(), sessionOf(c).Account, t, c.PostForm("email"), c.PostForm("role"))
	if fe, ok := fieldErrors(err); ok {
		for f, msgs := range fe {
			u.errorPage(c, http.StatusUnprocessableEntity, "Invitation not sent: "+f+" "+msgs[0]+".")
			return
		}
	}
	if err != nil {
		u.teamErr(c, err)
		return
	}
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).ID, Kind: "invite", Values: map[string]string{"email": inv.Email, "role": inv.Role, "link": inv.Link}}, "/console")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/members"))
}

func (u *ui) memberRole(c *gin.Context) {
	t := tenantOf(c)
	if err := u.acc.SetRole(c.Request.Context(), sessionOf(c).Account, t, c.Param("account"), c.PostForm("role")); err != nil {
		u.teamErr(c, err)
		return
	}
	u.backWith(c, "/members", "Role changed.")
}

func (u *ui) memberRemove(c *gin.Context) {
	t := tenantOf(c)
	s := sessionOf(c)
	id := c.Param("account")
	if err := u.acc.RemoveMember(c.Request.Context(), s.Account, t, id); err != nil {
		u.teamErr(c, err)
		return
	}
	if id == s.Account.ID {
		c.Redirect(http.StatusSeeOther, "/console?list=1")
		return
	}
	u.backWith(c, "/members", "Member removed.")
}

func (u *ui) invitationDelete(c *gin.Context) {
	t := tenantOf(c)
	if err := u.d.Store.DeleteInvitation(c.Request.Context(), t.ID, c.Param("id")); err != nil {
		u.teamErr(c, err)
		return
	}
	u.backWith(c, "/members", "Invitation withdrawn; its link no longer works.")
}

// teamErr shows a domain refusal in words, or fails.
func (u *ui) teamErr(c *gin.Context, err error) {
	switch {
	case errors.Is(err, accounts.ErrForbidden):
		u.errorPage(c, http.StatusForbidden, capitalize(err.Error())+".")
	case errors.Is(err, accounts.ErrLastOwner):
		u.errorPage(c, http.StatusConflict, capitalize(err.Error())+".")
	case errors.Is(err, tenants.ErrNotFound):
		u.errorPage(c, http.StatusNotFound, "No such member or invitation.")
	default:
		if fe, ok := fieldErrors(err); ok {
			for f, msgs := range fe {
				u.errorPage(c, http.StatusUnprocessableEntity, f+" "+msgs[0]+".")
				return
			}
		}
		u.fail(c, err)
	}
}

type inviteData struct {
	Email, Team, Role, Token string
}

// invitePage shows whom an invitation is for: signed in with that address,
// one button accepts it; otherwise sign-up and sign-in links carry it.
func (u *ui) invitePage(c *gin.Context) {
	tok := c.Query("token")
	inv, t, err := u.acc.InvitationFor(c.Request.Context(), tok)
	if !u.accepted(c, err, refusal{accounts.ErrLinkInvalid, http.StatusBadRequest,
		"This invitation is not valid any more: it was used already, withdrawn or has expired. Ask the team's owner for a new one."}) {
		return
	}
	v := u.page(c, "Join "+t.Name+" — Gatehouse", "invite")
	v.Data = inviteData{Email: inv.Email, Team: t.Name, Role: inv.Role, Token: tok}
	u.render(c, http.StatusOK, "account_invite", v)
}

func (u *ui) inviteAccept(c *gin.Context) {
	t, err := u.acc.AcceptInvitation(c.Request.Context(), sessionOf(c).Account, c.PostForm("token"))
	var wrong *accounts.WrongAccountError
	if errors.As(err, &wrong) {
		u.errorPage(c, http.StatusForbidden, capitalize(err.Error())+".")
		return
	}
	if !u.accepted(c, err, refusal{accounts.ErrLinkInvalid, http.StatusBadRequest, ""}) {
		return
	}
	u.changed(c, t)
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, ""))
}
