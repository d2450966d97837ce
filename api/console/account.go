package console

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
)

type accountData struct {
	Sessions []tenants.AccountSession
	Current  string
	Teams    []accounts.TeamRole
	TOTP     *accounts.TOTPSetup
}

func (u *ui) accountView(c *gin.Context) (*view, error) {
	s := sessionOf(c)
	list, err := u.acc.Sessions(c.Request.Context(), s.Account)
	if err != nil {
		return nil, err
	}
	teams, err := u.acc.Teams(c.Request.Context(), s.Account)
	if err != nil {
		return nil, err
	}
	v := u.page(c, "Your account — Gatehouse", "account")
	v.Data = &accountData{Sessions: list, Current: s.ID, Teams: teams}
	v.Form["name"] = s.Account.Name
	return v, nil
}

// accountPage is GET /account: name, password, two-step sign-in, sessions.
func (u *ui) accountPage(c *gin.Context) {
	u.show(c, u.accountView, "account_settings", func(c *gin.Context) *flash { return u.takeFlash(c, sessionOf(c).ID, "/account") })
}

func (u *ui) accountNotice(c *gin.Context, msg string) {
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).ID, Kind: "notice", Values: map[string]string{"msg": msg}}, "/account")
	c.Redirect(http.StatusSeeOther, "/account")
}

func (u *ui) accountName(c *gin.Context) {
	a := sessionOf(c).Account
	name := strings.TrimSpace(c.PostForm("name"))
	if len(name) > 200 {
		u.errorPage(c, http.StatusUnprocessableEntity, "A name has at most 200 characters.")
		return
	}
	a.Name = name
	if err := u.d.Store.UpdateAccount(c.Request.Context(), a); err != nil {
		u.fail(c, err)
		return
	}
	u.accountNotice(c, "Name saved.")
}

// accountPassword changes the password and ends every other session.
func (u *ui) accountPassword(c *gin.Context) {
	s := sessionOf(c)
	err := u.acc.ChangePassword(c.Request.Context(), s.Account, c.PostForm("current_password"), c.PostForm("password"), s.ID)
	if fe, ok := fieldErrors(err); ok {
		u.refuse(c, u.accountView, "account_settings", nil, fe, "The password was not changed; fix the fields marked below.")
		return
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	u.accountNotice(c, "Password changed. Every other session was ended.")
}

func (u *ui) accountEndSession(c *gin.Context) {
	s := sessionOf(c)
	id := c.Param("id")
	if !u.done(c, u.acc.EndSession(c.Request.Context(), s.Account, id), "No such session.") {
		return
	}
	if id == s.ID {
		http.SetCookie(c.Writer, u.cookie(sessionCookie, "", "/", -1))
		c.Redirect(http.StatusSeeOther, "/console/login")
		return
	}
	u.accountNotice(c, "Session ended.")
}

func (u *ui) accountEndOthers(c *gin.Context) {
	s := sessionOf(c)
	if _, err := u.acc.EndOtherSessions(c.Request.Context(), s.Account, s.ID); err != nil {
		u.fail(c, err)
		return
	}
	u.accountNotice(c, "Every other session was ended.")
}

// totpSetupPage shows a new secret to add to an authenticator app.
func (u *ui) totpSetupPage(c *gin.Context) {
	s := sessionOf(c)
	if s.Account.TOTPEnabled() {
		c.Redirect(http.StatusSeeOther, "/account")
		return
	}
	setup, err := u.acc.BeginTOTP(s.Account)
	if err != nil {
		u.fail(c, err)
		return
	}
	v := u.page(c, "Two-step sign-in — Gatehouse", "account")
	v.Data = &accountData{TOTP: setup}
	u.render(c, http.StatusOK, "account_totp", v)
}

func (u *ui) totpEnable(c *gin.Context) {
	s := sessionOf(c)
	codes, err := u.acc.EnableTOTP(c.Request.Context(), s.Account, c.PostForm("setup"), c.PostForm("code"))
	const again = "That code did not match. Start the set-up again and type the code your app shows now."
	if !u.accepted(c, err, refusal{accounts.ErrBadCode, http.StatusUnprocessableEntity, again}, refusal{accounts.ErrLinkInvalid, http.StatusUnprocessableEntity, again}) {
		return
	}
	_ = u.setFlash(c, &flash{Binding: s.ID, Kind: "recovery_codes", List: codes}, "/account")
	c.Redirect(http.StatusSeeOther, "/account")
}

func (u *ui) totpDisable(c *gin.Context) {
	s := sessionOf(c)
	err := u.acc.DisableTOTP(c.Request.Context(), s.Account, c.PostForm("code"))
	if !u.accepted(c, err, refusal{accounts.ErrBadCode, http.StatusUnprocessableEntity, "That code did not match; two-step sign-in stays on."}) {
		return
	}
	u.accountNotice(c, "Two-step sign-in is off.")
}
