// Package console serves the people-facing pages: landing, signup, console
// login and the tenant console. Templates and assets come from the leaf
// package web; handlers stay thin (parse, call the domain, render).
package console

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/doctor"
	"github.com/gatehouse/gatehouse/tenants/limits"
	"github.com/gatehouse/gatehouse/web"
)

// options tune the UI (tests); nil means defaults.
type options struct {
	Now          func() time.Time
	SignupLimit  int           // signup POSTs per IP per SignupWindow (default limits.Signup)
	SignupWindow time.Duration // default 1 h
	LoginLimit   int           // login POSTs per IP, and half that per email, per LoginWindow (default limits.ConsoleLogin)
	LoginWindow  time.Duration // default 10 min
}

type ui struct {
	d      *httpx.Deps
	prov   *tenants.Provisioner
	acc    *accounts.Service
	secure bool   // cookies get Secure when the public URL is https
	origin string // public origin, for the Origin check on POSTs
	now    func() time.Time

	// selfCheck fetches a tenant's public URLs for the doctor page through
	// the outbound address policy (doctor.NewSelfCheckClient).
	selfCheck *http.Client
	// upstreamCheck reaches tenants' MCP servers for the onboarding checklist.
	upstreamCheck *http.Client

	signupLimit     *limiter // per IP
	signupMailLimit *limiter // sign-ups per email: no mail bombing through the sign-up form
	teamLimit       *limiter // teams created per IP
	forgotLimit     *limiter // reset requests per IP
	loginLimit      *limiter // per IP
	loginEmailLimit *limiter // per email: slows guessing one account's password from many addresses
	mailLimit       *limiter // reset requests per email: no mail bombing
	codeLimit       *limiter // second-factor attempts per account
}

func newUI(d *httpx.Deps, o *options) *ui {
	if o == nil {
		o = &options{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SignupLimit == 0 {
		o.SignupLimit, o.SignupWindow = limits.Signup.Burst, time.Duration(limits.Signup.Burst)*limits.Signup.Every
	}
	if o.SignupWindow == 0 {
		o.SignupWindow = time.Hour
	}
	if o.LoginLimit == 0 {
		o.LoginLimit, o.LoginWindow = limits.ConsoleLogin.Burst, time.Duration(limits.ConsoleLogin.Burst)*limits.ConsoleLogin.Every
	}
	if o.LoginWindow == 0 {
		o.LoginWindow = 10 * time.Minute
	}
	u := &ui{d: d, now: o.Now, acc: d.Accounts, prov: d.Provisioner,
		selfCheck:       doctor.NewSelfCheckClient(8*time.Second, d.AllowPrivateFetch),
		upstreamCheck:   newUpstreamCheckClient(d.RefusePrivateUpstreams),
		signupLimit:     newLimiter(d, "signup", o.SignupLimit, o.SignupWindow, o.Now),
		signupMailLimit: newLimiter(d, "signup_email", 3, time.Hour, o.Now),
		teamLimit:       newLimiter(d, "team_create", o.SignupLimit, o.SignupWindow, o.Now),
		forgotLimit:     newLimiter(d, "password_reset", o.LoginLimit, o.LoginWindow, o.Now),
		loginLimit:      newLimiter(d, "console_login", o.LoginLimit, o.LoginWindow, o.Now),
		loginEmailLimit: newLimiter(d, "console_login_email", max(o.LoginLimit/2, 1), o.LoginWindow, o.Now),
		mailLimit:       newLimiter(d, "password_reset_email", 5, time.Hour, o.Now),
		codeLimit:       newLimiter(d, "second_factor", 10, o.LoginWindow, o.Now),
	}
	if pu, err := url.Parse(d.PublicURL); err == nil {
		u.secure = pu.Scheme == "https"
		u.origin = pu.Scheme + "://" + pu.Host
	}
	return u
}

// Register mounts the landing page, sign-up and sign-in, account settings,
// the team console, the operator view and static assets. It returns the
// HTML "not found" page for api.New's NoRoute (people-facing paths).
func Register(r *gin.Engine, d *httpx.Deps) gin.HandlerFunc {
	u := newUI(d, nil)
	u.register(r)
	return u.notFoundPage()
}

// notFoundPage renders the HTML 404 with the site's headers and session.
func (u *ui) notFoundPage() gin.HandlerFunc {
	h, load := u.headers(), u.loadSession()
	return func(c *gin.Context) {
		h(c)
		load(c)
		if !c.IsAborted() {
			u.notFound(c)
		}
	}
}

func (u *ui) register(r *gin.Engine) {
	static := http.FileServer(http.FS(web.Static()))
	r.GET("/static/*filepath", func(c *gin.Context) {
		p := strings.TrimPrefix(c.Param("filepath"), "/")
		if p == "" || strings.HasSuffix(p, "/") {
			c.Status(http.StatusNotFound)
			return
		}
		if _, err := fs.Stat(web.Static(), p); err != nil {
			c.Status(http.StatusNotFound)
			return
		}
		// Assets are embedded in the binary and change only with a release;
		// the version query string in the templates busts the cache.
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
		c.Header("X-Content-Type-Options", "nosniff")
		req := c.Request.Clone(c.Request.Context())
		req.URL.Path = "/" + p
		static.ServeHTTP(c.Writer, req)
	})
	// Browsers ask for /favicon.ico whatever the page links; answer with
	// the SVG icon rather than a 404 in every log.
	r.GET("/favicon.ico", func(c *gin.Context) {
		b, err := fs.ReadFile(web.Static(), "favicon.svg")
		if err != nil {
			c.Status(http.StatusNotFound)
			return
		}
		c.Header("Cache-Control", "public, max-age=86400")
		c.Header("X-Content-Type-Options", "nosniff")
		c.Data(http.StatusOK, "image/svg+xml", b)
	})

	site := r.Group("", u.headers(), u.loadSession())
	site.GET("/", u.landing)
	site.GET("/signup", u.signupForm)
	site.POST("/signup", u.preCSRF(), u.signupSubmit)
	site.GET("/account/verify", u.verifyForm)
	site.POST("/account/verify", u.preCSRF(), u.verifySubmit)
	site.GET("/account/forgot", u.forgotForm)
	site.POST("/account/forgot", u.preCSRF(), u.forgotSubmit)
	site.GET("/account/reset", u.resetForm)
	site.POST("/account/reset", u.preCSRF(), u.resetSubmit)
	site.GET("/invite", u.invitePage)
	site.POST("/invite", u.requireSession(), u.csrf(), u.inviteAccept)
	site.GET("/console/login", u.loginForm)
	site.POST("/console/login", u.preCSRF(), u.loginSubmit)
	site.GET("/console/login/totp", u.totpForm)
	site.POST("/console/login/totp", u.preCSRF(), u.totpSubmit)
	site.GET("/console/login/idp/:provider", u.idpStart)
	site.GET("/console/login/idp/:provider/callback", u.idpCallback)
	// Sign-out works from every page, signed in or not (an ended session
	// just clears the cookie); with a session it needs that session's
	// CSRF token.
	site.POST("/console/logout", u.csrf(), u.logout)

	acct := site.Group("/account", u.requireSession(), u.csrf())
	acct.GET("", u.accountPage)
	acct.POST("/name", u.accountName)
	acct.POST("/password", u.accountPassword)
	acct.POST("/sessions/:id/end", u.accountEndSession)
	acct.POST("/sessions/end-others", u.accountEndOthers)
	acct.GET("/totp", u.totpSetupPage)
	acct.POST("/totp/enable", u.totpEnable)
	acct.POST("/totp/disable", u.totpDisable)

	con := site.Group("/console", u.requireSession(), u.csrf())
	con.GET("", u.home)
	con.GET("/", u.home)
	con.GET("/teams/new", u.teamNewForm)
	con.POST("/teams/new", u.teamCreate)
	con.GET("/teams/slug", u.slugSuggestion)
	op := con.Group("/operator", u.requireOperator())
	op.GET("", u.operatorTeams)
	op.POST("/teams/:slug/suspend", u.operatorSuspend)
	op.POST("/teams/:slug/resume", u.operatorResume)
	op.POST("/teams/:slug/delete", u.operatorDelete)
	op.GET("/audit", u.operatorAudit)
	op.GET("/mail", u.operatorMail)

	viewer, admin, owner := u.need(tenants.RoleViewer), u.need(tenants.RoleAdmin), u.need(tenants.RoleOwner)
	t := con.Group("/t/:slug", u.requireTenant())
	t.GET("", viewer, u.overview)
	t.GET("/settings", viewer, u.settingsPage)
	t.POST("/idp", admin, u.idpSubmit)
	t.POST("/idp/:type/test", admin, u.idpTest)
	t.POST("/idp/:type/remove", admin, u.idpRemove)
	t.POST("/settings", admin, u.settingsSubmit)
	t.GET("/clients", viewer, u.clientsPage)
	t.POST("/clients", admin, u.clientCreate)
	t.POST("/clients/delete", admin, u.clientDelete)
	t.GET("/grants", viewer, u.grantsPage)
	t.POST("/grants/:id/revoke", admin, u.grantRevoke)
	t.GET("/users", viewer, u.usersPage)
	t.GET("/users/:id", viewer, u.userPage)
	t.POST("/users/:id/revoke", admin, u.userRevoke)
	t.GET("/audit", viewer, u.auditPage)
	t.GET("/integrations", viewer, u.integrationsPage)
	t.POST("/integrations/domain", admin, u.domainSet)
	t.POST("/integrations/domain/remove", admin, u.domainRemove)
	t.POST("/integrations/webhook", admin, u.webhookSet)
	t.POST("/integrations/webhook/remove", admin, u.webhookRemove)
	t.GET("/doctor", viewer, u.doctorPage)
	t.GET("/keys", viewer, u.keysPage)
	t.POST("/api-keys", owner, u.apiKeyCreate)
	t.POST("/api-keys/:id/delete", owner, u.apiKeyDelete)
	t.POST("/keys/rotate", admin, u.rotateKeys)
	t.GET("/enterprise", viewer, u.enterprisePage)
	t.POST("/enterprise", admin, u.enterpriseCreate)
	t.POST("/enterprise/:id/delete", admin, u.enterpriseDelete)
	t.GET("/members", viewer, u.membersPage)
	t.POST("/members/invite", owner, u.memberInvite)
	t.POST("/members/:account/role", owner, u.memberRole)
	t.POST("/members/:account/remove", viewer, u.memberRemove) // owners, or oneself (leave): the domain decides
	t.POST("/invitations/:id/delete", owner, u.invitationDelete)
	t.POST("/delete", owner, u.teamDelete)
}

// csp allows only same-origin scripts and styles: no inline script, no
// inline style, no framing, forms post only to us.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// headers sets the security headers of every page.
func (u *ui) headers() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", csp)
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		c.Next()
	}
}

const ginSession = "gatehouse.console.session"

// loadSession resolves the session cookie to its server-side session.
func (u *ui) loadSession() gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, err := c.Cookie(sessionCookie)
		if err != nil || raw == "" {
			c.Next()
			return
		}
		as, a, err := u.acc.Session(c.Request.Context(), raw)
		if err != nil {
			if !errors.Is(err, accounts.ErrNoSession) {
				u.fail(c, err)
				c.Abort()
				return
			}
			http.SetCookie(c.Writer, u.cookie(sessionCookie, "", "/", -1))
			c.Next()
			return
		}
		c.Set(ginSession, &session{AccountSession: as, Account: a})
		ri := tenants.RequestInfoFrom(c.Request.Context())
		ri.Actor = accounts.ActorOf(a)
		c.Request = c.Request.WithContext(tenants.WithRequestInfo(c.Request.Context(), ri))
		c.Next()
	}
}

func sessionOf(c *gin.Context) *session {
	if v, ok := c.Get(ginSession); ok {
		return v.(*session)
	}
	return nil
}

func (u *ui) requireSession() gin.HandlerFunc {
	return func(c *gin.Context) {
		if sessionOf(c) != nil {
			c.Next()
			return
		}
		if c.Request.Method == http.MethodGet {
			c.Redirect(http.StatusSeeOther, "/console/login?"+url.Values{"next": {c.Request.URL.RequestURI()}}.Encode())
		} else {
			u.errorPage(c, http.StatusForbidden, "Your session has ended. Sign in again.")
		}
		c.Abort()
	}
}

func (u *ui) requireOperator() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !sessionOf(c).IsOperator() {
			u.notFound(c)
			c.Abort()
			return
		}
		c.Next()
	}
}

// originOK refuses a cross-site POST outright when the browser says where it
// came from (defence in depth beside the CSRF token and SameSite=Lax).
func (u *ui) originOK(c *gin.Context) bool {
	o := c.GetHeader("Origin")
	return o == "" || o == u.origin
}

// csrf checks the session-bound token on every POST.
func (u *ui) csrf() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method != http.MethodPost {
			c.Next()
			return
		}
		s := sessionOf(c)
		if s == nil && c.FullPath() == "/console/logout" {
			c.Next() // nothing to end, nothing to forge
			return
		}
		if s == nil || !u.originOK(c) || !u.csrfOK(s.ID, c.PostForm("csrf")) {
			u.errorPage(c, http.StatusForbidden, "The form was stale or did not come from this console (CSRF check failed). Reload the page and try again.")
			c.Abort()
			return
		}
		c.Next()
	}
}

// preToken returns the pre-session binding, setting its cookie if absent
// (login and signup forms, which have no session yet).
func (u *ui) preToken(c *gin.Context) string {
	if v, err := c.Cookie(preCookie); err == nil && len(v) >= 32 {
		return u.csrfFor("pre:" + v)
	}
	v := tenants.RandomID()
	http.SetCookie(c.Writer, u.cookie(preCookie, v, "/", 0))
	return u.csrfFor("pre:" + v)
}

func (u *ui) preCSRF() gin.HandlerFunc {
	return func(c *gin.Context) {
		v, err := c.Cookie(preCookie)
		if err != nil || len(v) < 32 || !u.originOK(c) || !u.csrfOK("pre:"+v, c.PostForm("csrf")) {
			u.errorPage(c, http.StatusForbidden, "The form was stale or did not come from this site (CSRF check failed). Reload the page and try again.")
			c.Abort()
			return
		}
		c.Next()
	}
}

const (
	ginTenant = "gatehouse.console.tenant"
	ginRole   = "gatehouse.console.role"
)

// requireTenant loads /console/t/:slug and the account's role in it. A team
// the account is not in answers 404, exactly like a slug that does not exist.
func (u *ui) requireTenant() gin.HandlerFunc {
	return func(c *gin.Context) {
		t, err := u.d.Store.GetTenantBySlug(c.Request.Context(), c.Param("slug"))
		if err != nil && !errors.Is(err, tenants.ErrNotFound) {
			u.fail(c, err)
			c.Abort()
			return
		}
		role := ""
		if t != nil {
			if role, err = u.acc.Role(c.Request.Context(), t, sessionOf(c).Account); err != nil {
				u.fail(c, err)
				c.Abort()
				return
			}
		}
		if role == "" {
			u.errorPage(c, http.StatusNotFound, "There is no team here, or you are not a member of it.")
			c.Abort()
			return
		}
		c.Set(ginTenant, t)
		c.Set(ginRole, role)
		c.Next()
	}
}

// need refuses a request whose role is below role (DESIGN §12).
func (u *ui) need(role string) gin.HandlerFunc {
	return func(c *gin.Context) {
		have := c.GetString(ginRole)
		if !accounts.Allows(have, role) {
			u.errorPage(c, http.StatusForbidden, "Your role in this team is "+have+"; this needs "+role+". Ask an owner of the team.")
			c.Abort()
			return
		}
		c.Next()
	}
}

func tenantOf(c *gin.Context) *tenants.Tenant { return c.MustGet(ginTenant).(*tenants.Tenant) }

// view is the data every page template gets.
type view struct {
	Title   string
	Section string
	S       *session
	Role    string // the account's role in Tenant
	CSRF    string // session-bound: every signed-in form, logout included
	PreCSRF string // forms shown before sign-in
	Tenant  *tenants.Tenant
	TV      *tenants.TenantView
	Flash   *flash
	Errors  map[string][]string
	Form    map[string]string
	Notice  string
	Data    any
	DevIdP  bool
	Version string
}

func (u *ui) page(c *gin.Context, title, section string) *view {
	v := &view{Title: title, Section: section, S: sessionOf(c), DevIdP: u.d.AllowDevIdP, Version: u.d.Version,
		Errors: map[string][]string{}, Form: map[string]string{}}
	if v.S != nil {
		v.CSRF = u.csrfFor(v.S.ID)
	}
	v.Role = c.GetString(ginRole)
	if t, ok := c.Get(ginTenant); ok {
		v.Tenant = t.(*tenants.Tenant)
		tv := u.tenantView(v.Tenant)
		v.TV = &tv
	}
	return v
}

func (u *ui) tenantView(t *tenants.Tenant) tenants.TenantView {
	var hs *tenants.Site
	if h, ok := u.d.Sites.Host(t); ok {
		hs = &h
	}
	return tenants.ViewOf(t, u.d.Sites.Path(t), hs)
}

func (u *ui) render(c *gin.Context, status int, name string, v *view) {
	var buf bytes.Buffer
	if err := u.d.Pages.Execute(&buf, name, v); err != nil {
		u.d.Logger.Error("console template failed", "template", name, "err", err, "request_id", c.GetString("request_id"))
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error; request "+c.GetString("request_id")))
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

func (u *ui) errorPage(c *gin.Context, status int, msg string) {
	v := u.page(c, http.StatusText(status), "")
	v.Notice = msg
	v.Data = status
	u.render(c, status, "console_error", v)
}

// fail logs an unexpected error and shows a page naming only the request id.
func (u *ui) fail(c *gin.Context, err error) {
	u.d.Logger.Error("console request failed", "err", err, "route", c.FullPath(), "request_id", c.GetString("request_id"))
	u.errorPage(c, http.StatusInternalServerError, "Something went wrong on our side (request "+c.GetString("request_id")+"). Nothing you did caused it; try again.")
}

// fieldErrors turns a domain validation error into per-field messages; ok is
// false for any other error.
func fieldErrors(err error) (map[string][]string, bool) {
	var ve *tenants.ValidationError
	if !errors.As(err, &ve) {
		return nil, false
	}
	out := map[string][]string{}
	for _, fe := range ve.Errors {
		out[fe.Field] = append(out[fe.Field], fe.Detail)
	}
	return out, true
}

// setFlash stores a one-time value for the next page of this session.
func (u *ui) setFlash(c *gin.Context, f *flash, path string) error {
	f.Exp = u.now().Add(flashTTL).Unix()
	v, err := u.sealJSON(f, flashContext)
	if err != nil {
		return err
	}
	http.SetCookie(c.Writer, u.cookie(flashCookie, v, path, flashTTL))
	return nil
}

// takeFlash reads and clears the flash if it belongs to binding.
func (u *ui) takeFlash(c *gin.Context, binding, path string) *flash {
	raw, err := c.Cookie(flashCookie)
	if err != nil || raw == "" {
		return nil
	}
	http.SetCookie(c.Writer, u.cookie(flashCookie, "", path, -1))
	var f flash
	if !u.openJSON(raw, flashContext, &f) || f.Binding != binding || u.now().Unix() >= f.Exp {
		return nil
	}
	return &f
}

// changed tells caches on every replica that a tenant changed.
func (u *ui) changed(c *gin.Context, t *tenants.Tenant) {
	u.d.Sites.Invalidate()
	if u.d.Bus != nil {
		_ = u.d.Bus.Publish(c.Request.Context(), tenants.TopicTenantChanged, t.ID)
	}
}

func (u *ui) tenantURL(t *tenants.Tenant, sub string) string {
	return "/console/t/" + url.PathEscape(t.Slug) + sub
}
