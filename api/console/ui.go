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
	"github.com/gatehouse/gatehouse/tenants/doctor"
	"github.com/gatehouse/gatehouse/tenants/limits"
	"github.com/gatehouse/gatehouse/web"
)

// options tune the UI (tests); nil means defaults.
type options struct {
	Now          func() time.Time
	SignupLimit  int           // signup POSTs per IP per SignupWindow (default limits.Signup)
	SignupWindow time.Duration // default 1 h
	LoginLimit   int           // login POSTs per IP per LoginWindow (default limits.ConsoleLogin)
	LoginWindow  time.Duration // default 10 min
}

type ui struct {
	d      *httpx.Deps
	prov   *tenants.Provisioner
	secure bool   // cookies get Secure when the public URL is https
	origin string // public origin, for the Origin check on POSTs
	now    func() time.Time

	// selfCheck fetches a tenant's public URLs for the doctor page through
	// the outbound address policy (doctor.NewSelfCheckClient).
	selfCheck *http.Client

	signupLimit *limiter
	loginLimit  *limiter
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
	u := &ui{d: d, now: o.Now,
		prov: &tenants.Provisioner{Store: d.Store, Sealer: d.Sealer, Auditor: d.Auditor, AllowDevIdP: d.AllowDevIdP, AllowPrivateFetch: d.AllowPrivateFetch,
			Bus: d.Bus, TenantDomain: d.TenantDomain},
		selfCheck:   doctor.NewSelfCheckClient(8*time.Second, d.AllowPrivateFetch),
		signupLimit: newLimiter(d, "signup", o.SignupLimit, o.SignupWindow, o.Now),
		loginLimit:  newLimiter(d, "console_login", o.LoginLimit, o.LoginWindow, o.Now),
	}
	if pu, err := url.Parse(d.PublicURL); err == nil {
		u.secure = pu.Scheme == "https"
		u.origin = pu.Scheme + "://" + pu.Host
		u.prov.PublicHost = pu.Hostname()
	}
	return u
}

// Register mounts the landing page, signup, the console and static assets.
func Register(r *gin.Engine, d *httpx.Deps) {
	newUI(d, nil).register(r)
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

	site := r.Group("", u.headers(), u.loadSession())
	site.GET("/", u.landing)
	site.GET("/signup", u.signupForm)
	site.POST("/signup", u.preCSRF(), u.signupSubmit)
	site.GET("/signup/done", u.signupDone)
	site.GET("/console/login", u.loginForm)
	site.POST("/console/login", u.preCSRF(), u.loginSubmit)
	// Logout works from every page, signed in or not (an ended session
	// just clears the cookie); with a session it needs that session's
	// CSRF token.
	site.POST("/console/logout", u.csrf(), u.logout)

	con := site.Group("/console", u.requireSession(), u.csrf())
	con.GET("", u.home)
	con.GET("/", u.home)
	t := con.Group("/t/:slug", u.requireTenant())
	t.GET("", u.overview)
	t.GET("/settings", u.settingsPage)
	t.POST("/idp", u.idpSubmit)
	t.POST("/settings", u.settingsSubmit)
	t.GET("/clients", u.clientsPage)
	t.POST("/clients", u.clientCreate)
	t.POST("/clients/delete", u.clientDelete)
	t.GET("/grants", u.grantsPage)
	t.POST("/grants/:id/revoke", u.grantRevoke)
	t.GET("/users", u.usersPage)
	t.GET("/enterprise", u.enterprisePage)
	t.POST("/enterprise", u.enterpriseCreate)
	t.POST("/enterprise/:id/delete", u.enterpriseDelete)
	t.POST("/users/:id/revoke", u.userRevoke)
	t.GET("/audit", u.auditPage)
	t.GET("/doctor", u.doctorPage)
	t.GET("/keys", u.keysPage)
	t.POST("/api-keys", u.apiKeyCreate)
	t.POST("/api-keys/:id/delete", u.apiKeyDelete)
	t.POST("/keys/rotate", u.rotateKeys)
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

// loadSession opens the session cookie and re-checks its key on every
// request: a deleted API key (or a changed admin token) ends its sessions.
func (u *ui) loadSession() gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, err := c.Cookie(sessionCookie)
		if err != nil || raw == "" {
			c.Next()
			return
		}
		var s session
		if !u.openJSON(raw, sessionContext, &s) || s.SID == "" || u.now().Unix() >= s.Exp || !u.sessionLive(c, &s) {
			http.SetCookie(c.Writer, u.cookie(sessionCookie, "", "/", -1))
			c.Next()
			return
		}
		c.Set(ginSession, &s)
		actor := "console:admin"
		if !s.admin() {
			actor = "console:api_key:" + s.KeyID
		}
		ri := tenants.RequestInfoFrom(c.Request.Context())
		ri.Actor = actor
		c.Request = c.Request.WithContext(tenants.WithRequestInfo(c.Request.Context(), ri))
		c.Next()
	}
}

func (u *ui) sessionLive(c *gin.Context, s *session) bool {
	// The server-side row decides: a logged-out session stays ended
	// whatever copy of the cookie comes back.
	row, err := u.d.Store.GetConsoleSession(c.Request.Context(), s.rowID())
	if err != nil || !row.Live(u.now()) || row.KeyID != s.KeyID || row.TenantID != s.TenantID {
		return false
	}
	if s.admin() {
		return u.d.AdminTokenHash != "" && u.adminFingerprintOK(s.AdminFP)
	}
	keys, err := u.d.Store.ListAPIKeys(c.Request.Context(), s.TenantID)
	if err != nil {
		return false
	}
	for _, k := range keys {
		if k.ID == s.KeyID {
			return true
		}
	}
	return false
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
			c.Redirect(http.StatusSeeOther, "/console/login?"+url.Values{"next": {c.Request.URL.Path}}.Encode())
		} else {
			u.errorPage(c, http.StatusForbidden, "Your console session has ended. Log in again.")
		}
		c.Abort()
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
		if s == nil || !u.originOK(c) || !u.csrfOK(s.SID, c.PostForm("csrf")) {
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

const ginTenant = "gatehouse.console.tenant"

// requireTenant loads /console/t/:slug. A tenant key session sees only its
// own tenant: any other slug is 404, exactly like a slug that does not exist.
func (u *ui) requireTenant() gin.HandlerFunc {
	return func(c *gin.Context) {
		s := sessionOf(c)
		t, err := u.d.Store.GetTenantBySlug(c.Request.Context(), c.Param("slug"))
		if err != nil && !errors.Is(err, tenants.ErrNotFound) {
			u.fail(c, err)
			c.Abort()
			return
		}
		if t == nil || (!s.admin() && t.ID != s.TenantID) {
			u.errorPage(c, http.StatusNotFound, "No such tenant.")
			c.Abort()
			return
		}
		c.Set(ginTenant, t)
		c.Next()
	}
}

func tenantOf(c *gin.Context) *tenants.Tenant { return c.MustGet(ginTenant).(*tenants.Tenant) }

// view is the data every page template gets.
type view struct {
	Title   string
	Section string
	S       *session
	CSRF    string
	// SessionCSRF is the session's own token, for the logout form in the
	// layout: pages with a pre-session form (signup, login) put another
	// token in CSRF.
	SessionCSRF string
	Tenant      *tenants.Tenant
	TV          *tenants.TenantView
	Flash       *flash
	Errors      map[string][]string
	Form        map[string]string
	Notice      string
	Data        any
	DevIdP      bool
	Version     string
}

func (u *ui) page(c *gin.Context, title, section string) *view {
	v := &view{Title: title, Section: section, S: sessionOf(c), DevIdP: u.d.AllowDevIdP, Version: u.d.Version,
		Errors: map[string][]string{}, Form: map[string]string{}}
	if v.S != nil {
		v.CSRF = u.csrfFor(v.S.SID)
		v.SessionCSRF = v.CSRF
	}
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

func (u *ui) audit(c *gin.Context, t *tenants.Tenant, action string, details tenants.JSONMap) {
	if u.d.Auditor != nil {
		u.d.Auditor.Record(c.Request.Context(), tenants.AuditEvent{TenantID: t.ID, Action: action, Details: details})
	}
}

func (u *ui) tenantURL(t *tenants.Tenant, sub string) string {
	return "/console/t/" + url.PathEscape(t.Slug) + sub
}
