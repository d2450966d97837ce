package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
)

type landingData struct {
	Demo *tenants.TenantView
}

// landing is GET /: what Gatehouse is, sign-up and sign-in links, and the
// demo connector when a demo tenant exists.
func (u *ui) landing(c *gin.Context) {
	v := u.page(c, "Gatehouse — OAuth for your MCP server", "home")
	d := landingData{}
	if t, err := u.d.Store.GetTenantBySlug(c.Request.Context(), "demo"); err == nil {
		tv := u.tenantView(t)
		d.Demo = &tv
	}
	v.Data = d
	u.render(c, http.StatusOK, "site_landing", v)
}

// notFound is the HTML 404 of people-facing pages (the API and protocol
// paths answer in their own formats, see api.New).
func (u *ui) notFound(c *gin.Context) {
	u.errorPage(c, http.StatusNotFound, "There is no page at this address.")
	c.Abort()
}

// preView is a page with a pre-session CSRF token for its form.
func (u *ui) preView(c *gin.Context, title, section string) *view {
	v := u.page(c, title, section)
	v.PreCSRF = u.preToken(c)
	return v
}

type signupData struct {
	Mode        string
	InviteToken string
	InviteEmail string
	InviteTeam  string
}

func (u *ui) signupView(c *gin.Context, invite string) *view {
	v := u.preView(c, "Sign up — Gatehouse", "signup")
	d := signupData{Mode: u.acc.Signup, InviteToken: invite}
	if invite != "" {
		if inv, t, err := u.acc.InvitationFor(c.Request.Context(), invite); err == nil {
			d.InviteEmail, d.InviteTeam = inv.Email, t.Name
			v.Form["email"] = inv.Email
		}
	}
	v.Data = d
	return v
}

func (u *ui) signupForm(c *gin.Context) {
	u.render(c, http.StatusOK, "site_signup", u.signupView(c, c.Query("invite")))
}

// signupSubmit creates the account; the answer is the same "check your
// email" page whether or not the address already had an account.
func (u *ui) signupSubmit(c *gin.Context) {
	invite := c.PostForm("invite")
	v := u.signupView(c, invite)
	v.Form["email"], v.Form["name"] = strings.TrimSpace(c.PostForm("email")), strings.TrimSpace(c.PostForm("name"))
	if !u.signupLimit.allow(c) {
		v.Notice = "Too many sign-ups from your address. Try again in an hour."
		u.render(c, http.StatusTooManyRequests, "site_signup", v)
		return
	}
	// Counted for known and unknown addresses alike, so the answer says
	// nothing about whether an account exists.
	if !u.signupMailLimit.allowKey(c, strings.ToLower(v.Form["email"])) {
		v.Notice = "Too many sign-ups for this email address. Try again in an hour."
		u.render(c, http.StatusTooManyRequests, "site_signup", v)
		return
	}
	res, err := u.acc.SignUp(c.Request.Context(), accounts.SignupInput{Email: v.Form["email"], Password: c.PostForm("password"),
		Name: v.Form["name"], InviteToken: invite})
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			v.Errors = fe
			v.Notice = "Please fix the fields marked below."
			u.render(c, http.StatusUnprocessableEntity, "site_signup", v)
			return
		}
		if errors.Is(err, accounts.ErrSignupClosed) || errors.Is(err, accounts.ErrLinkInvalid) {
			v.Notice = capitalize(err.Error()) + "."
			u.render(c, http.StatusForbidden, "site_signup", v)
			return
		}
		u.fail(c, err)
		return
	}
	if res.Account != nil { // invited: the link proved the address
		if err := u.signIn(c, res.Account, accounts.MethodPassword); err != nil {
			u.fail(c, err)
			return
		}
		next := "/console/teams/new"
		if res.Team != nil {
			next = u.tenantURL(res.Team, "")
		}
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	v = u.page(c, "Check your email — Gatehouse", "signup")
	v.Data = v.Form["email"]
	u.render(c, http.StatusOK, "account_check_email", v)
}

// verifyForm shows a button: mail scanners that fetch links (GET) do not
// use the link up; only the person's POST does.
func (u *ui) verifyForm(c *gin.Context) {
	v := u.preView(c, "Confirm your email — Gatehouse", "signup")
	v.Form["token"] = c.Query("token")
	u.render(c, http.StatusOK, "account_verify", v)
}

func (u *ui) verifySubmit(c *gin.Context) {
	a, err := u.acc.VerifyEmail(c.Request.Context(), c.PostForm("token"))
	if !u.accepted(c, err, refusal{accounts.ErrLinkInvalid, http.StatusBadRequest, capitalize(accounts.ErrLinkInvalid.Error()) + ". Sign in to get a new one."}) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/login?"+url.Values{"verified": {"1"}, "email": {a.Email}}.Encode())
}

func (u *ui) forgotForm(c *gin.Context) {
	u.render(c, http.StatusOK, "account_forgot", u.preView(c, "Forgot your password — Gatehouse", "login"))
}

// forgotSubmit answers the same for every address (no enumeration).
func (u *ui) forgotSubmit(c *gin.Context) {
	v := u.preView(c, "Forgot your password — Gatehouse", "login")
	email := strings.ToLower(strings.TrimSpace(c.PostForm("email")))
	if !u.forgotLimit.allow(c) || !u.mailLimit.allowKey(c, email) {
		v.Notice = "Too many requests. Try again later."
		u.render(c, http.StatusTooManyRequests, "account_forgot", v)
		return
	}
	if err := u.acc.RequestPasswordReset(c.Request.Context(), email); err != nil {
		u.fail(c, err)
		return
	}
	v = u.page(c, "Check your email — Gatehouse", "login")
	v.Data = email
	u.render(c, http.StatusOK, "account_check_email", v)
}

func (u *ui) resetForm(c *gin.Context) {
	v := u.preView(c, "Choose a new password — Gatehouse", "login")
	v.Form["token"] = c.Query("token")
	if !u.acc.ResetPasswordValid(c.Request.Context(), v.Form["token"]) {
		u.errorPage(c, http.StatusBadRequest, capitalize(accounts.ErrLinkInvalid.Error())+". Ask for a new one from the sign-in page.")
		return
	}
	u.render(c, http.StatusOK, "account_reset", v)
}

func (u *ui) resetSubmit(c *gin.Context) {
	v := u.preView(c, "Choose a new password — Gatehouse", "login")
	v.Form["token"] = c.PostForm("token")
	_, err := u.acc.ResetPassword(c.Request.Context(), v.Form["token"], c.PostForm("password"))
	if fe, ok := fieldErrors(err); ok {
		v.Errors = fe
		u.render(c, http.StatusUnprocessableEntity, "account_reset", v)
		return
	}
	if !u.accepted(c, err, refusal{accounts.ErrLinkInvalid, http.StatusBadRequest, ""}) {
		return
	}
	// Every session ended with the password change, this browser's too.
	http.SetCookie(c.Writer, u.cookie(sessionCookie, "", "/", -1))
	c.Redirect(http.StatusSeeOther, "/console/login?reset=1")
}

type loginData struct {
	IdPs []idpButton
}

type idpButton struct{ Label, URL string }

func (u *ui) loginView(c *gin.Context) *view {
	v := u.preView(c, "Sign in — Gatehouse", "login")
	d := loginData{}
	for _, p := range u.d.PlatformIdPs {
		d.IdPs = append(d.IdPs, idpButton{Label: p.Label, URL: "/console/login/idp/" + p.Config.Type + "?" + url.Values{"next": {c.Query("next")}}.Encode()})
	}
	v.Data = d
	return v
}

func (u *ui) loginForm(c *gin.Context) {
	if s := sessionOf(c); s != nil {
		c.Redirect(http.StatusSeeOther, "/console")
		return
	}
	v := u.loginView(c)
	v.Form["next"], v.Form["email"] = c.Query("next"), c.Query("email")
	switch {
	case c.Query("verified") == "1":
		v.Notice = "Your email address is confirmed. Sign in to continue."
	case c.Query("reset") == "1":
		v.Notice = "Your password is changed and every session ended. Sign in with the new password."
	}
	u.render(c, http.StatusOK, "console_login", v)
}

// loginSubmit checks email and password, then asks for the second factor
// when the account has one, then starts a new session.
func (u *ui) loginSubmit(c *gin.Context) {
	v := u.loginView(c)
	v.Form["next"], v.Form["email"] = c.PostForm("next"), strings.TrimSpace(c.PostForm("email"))
	if !u.loginLimit.allow(c) || !u.loginEmailLimit.allowKey(c, strings.ToLower(v.Form["email"])) {
		v.Notice = "Too many sign-in attempts. Wait a few minutes."
		u.render(c, http.StatusTooManyRequests, "console_login", v)
		return
	}
	a, err := u.acc.Login(c.Request.Context(), v.Form["email"], c.PostForm("password"))
	if errors.Is(err, accounts.ErrBadCredentials) || errors.Is(err, accounts.ErrUnverified) {
		v.Notice = capitalize(err.Error()) + "."
		v.Errors["password"] = []string{}
		u.render(c, http.StatusUnauthorized, "console_login", v)
		return
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	u.afterFirstFactor(c, a, accounts.MethodPassword, v.Form["next"])
}

// afterFirstFactor starts the session, or first asks for the TOTP code.
func (u *ui) afterFirstFactor(c *gin.Context, a *tenants.Account, method, next string) {
	if a.TOTPEnabled() {
		p := &pending{AccountID: a.ID, Method: method, Next: next, Exp: u.now().Add(pendingTTL).Unix()}
		sealed, err := u.sealJSON(p, totpContext)
		if err != nil {
			u.fail(c, err)
			return
		}
		http.SetCookie(c.Writer, u.cookie(totpCookie, sealed, "/console/login", pendingTTL))
		c.Redirect(http.StatusSeeOther, "/console/login/totp")
		return
	}
	if err := u.signIn(c, a, method); err != nil {
		u.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, safeNext(next))
}

// safeNext keeps redirects on our own console and account pages: never an
// open redirect.
func safeNext(next string) string {
	if !(strings.HasPrefix(next, "/console") || strings.HasPrefix(next, "/account") || strings.HasPrefix(next, "/invite")) ||
		strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console"
	}
	return next
}

func (u *ui) pendingLogin(c *gin.Context) *pending {
	raw, err := c.Cookie(totpCookie)
	if err != nil || raw == "" {
		return nil
	}
	var p pending
	if !u.openJSON(raw, totpContext, &p) || p.AccountID == "" || u.now().Unix() >= p.Exp {
		return nil
	}
	return &p
}

func (u *ui) totpForm(c *gin.Context) {
	if u.pendingLogin(c) == nil {
		c.Redirect(http.StatusSeeOther, "/console/login")
		return
	}
	u.render(c, http.StatusOK, "console_login_totp", u.preView(c, "Two-step sign-in — Gatehouse", "login"))
}

func (u *ui) totpSubmit(c *gin.Context) {
	p := u.pendingLogin(c)
	if p == nil {
		c.Redirect(http.StatusSeeOther, "/console/login")
		return
	}
	v := u.preView(c, "Two-step sign-in — Gatehouse", "login")
	if !u.codeLimit.allowKey(c, p.AccountID) {
		v.Notice = "Too many codes tried. Wait a few minutes."
		u.render(c, http.StatusTooManyRequests, "console_login_totp", v)
		return
	}
	a, err := u.d.Store.GetAccount(c.Request.Context(), p.AccountID)
	if err != nil {
		u.fail(c, err)
		return
	}
	if err := u.acc.CheckSecondFactor(c.Request.Context(), a, c.PostForm("code")); err != nil {
		if errors.Is(err, accounts.ErrBadCode) {
			v.Errors["code"] = []string{err.Error()}
			u.render(c, http.StatusUnauthorized, "console_login_totp", v)
			return
		}
		u.fail(c, err)
		return
	}
	method := p.Method
	if method == accounts.MethodPassword {
		method = accounts.MethodPasswordTOTP
	}
	if err := u.signIn(c, a, method); err != nil {
		u.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, safeNext(p.Next))
}

// logout ends this session on the server and clears the cookie.
func (u *ui) logout(c *gin.Context) {
	if s := sessionOf(c); s != nil {
		if err := u.acc.EndSession(c.Request.Context(), s.Account, s.ID); err != nil && !errors.Is(err, tenants.ErrNotFound) {
			u.fail(c, err)
			return
		}
	}
	http.SetCookie(c.Writer, u.cookie(sessionCookie, "", "/", -1))
	c.Redirect(http.StatusSeeOther, "/console/login")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\r' || r == '\t' }) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
