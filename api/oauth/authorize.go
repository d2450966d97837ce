package oauth

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// authorize is the authorization endpoint (RFC 6749 §4.1.1 with PKCE, RFC
// 8707 resource, RFC 9207 iss). GET and POST (OAuth 2.1 §3.1).
func (h *handler) authorize(c *gin.Context) {
	site := httpx.Site(c)
	form, e := readForm(c, false)
	if e != nil {
		h.errorPage(c, 0, e)
		return
	}
	req := as.AuthorizeRequest{
		ClientID: form.Get("client_id"), RedirectURI: form.Get("redirect_uri"), ResponseType: form.Get("response_type"),
		State: form.Get("state"), CodeChallenge: form.Get("code_challenge"), CodeChallengeMethod: form.Get("code_challenge_method"),
		Resource: form.Get("resource"), ResourcePresent: present(form, "resource"),
		Scope: form.Get("scope"), ScopePresent: present(form, "scope"),
		Repeated: repeated(form, "client_id", "redirect_uri", "response_type", "state", "code_challenge", "code_challenge_method", "resource", "scope"),
	}
	sid := session(c, site, true)
	p, e := h.as.Authorize(c.Request.Context(), site, req, sessionHash(sid))
	if e != nil {
		h.fail(c, e)
		return
	}
	st, e := h.as.BeginLogin(c.Request.Context(), site, p, "")
	h.step(c, sid, st, e)
}

// login starts the IdP picked on the login chooser.
func (h *handler) login(c *gin.Context) {
	site, sid, p, ok := h.pendingQuery(c, "request")
	if !ok {
		return
	}
	st, e := h.as.BeginLogin(c.Request.Context(), site, p, c.Query("idp"))
	h.step(c, sid, st, e)
}

// callback is where the upstream IdP sends the browser back; state is the
// pending authorization id.
func (h *handler) callback(c *gin.Context) {
	site, sid, p, ok := h.pendingQuery(c, "state")
	if !ok {
		return
	}
	st, e := h.as.Callback(c.Request.Context(), site, p, c.Query("code"), c.Query("error"))
	h.step(c, sid, st, e)
}

// devLogin receives the dev IdP's username form.
func (h *handler) devLogin(c *gin.Context) {
	site, form, sid, p, ok := h.pendingForm(c)
	if !ok {
		return
	}
	st, e := h.as.DevLogin(c.Request.Context(), site, p, form.Get("username"))
	if e != nil && !e.Redirectable() && e.Code == as.ErrInvalidRequest && p.IdP == tenants.IdPDev {
		// A bad username: show the form again with the message.
		h.page(c, http.StatusBadRequest, "oauth_dev_login.html", pageData{Title: "Sign in", Request: p.ID, CSRF: h.csrfToken(sid, p.ID),
			Action: site.Endpoint("dev-login"), Message: e.Description, Client: h.as.ClientName(c.Request.Context(), site, p.ClientID)}, as.RedirectOrigin(p.RedirectURI))
		return
	}
	h.step(c, sid, st, e)
}

// consentPage shows the consent page of a pending authorization.
func (h *handler) consentPage(c *gin.Context) {
	site, sid, p, ok := h.pendingQuery(c, "request")
	if !ok {
		return
	}
	info, e := h.as.ConsentDetails(c.Request.Context(), site, p)
	if e != nil {
		h.fail(c, e)
		return
	}
	h.page(c, http.StatusOK, "oauth_consent.html", pageData{Title: "Allow access?", Request: p.ID, CSRF: h.csrfToken(sid, p.ID),
		Action: site.Endpoint("consent"), Consent: info}, info.RedirectOrigin)
}

// consent receives the consent form (CSRF-checked).
func (h *handler) consent(c *gin.Context) {
	site, form, sid, p, ok := h.pendingForm(c)
	if !ok {
		return
	}
	var approve bool
	switch form.Get("decision") {
	case "approve":
		approve = true
	case "deny":
	default:
		h.errorPage(c, http.StatusBadRequest, &as.Error{Code: as.ErrInvalidRequest, Description: "no decision was sent"})
		return
	}
	st, e := h.as.Consent(c.Request.Context(), site, p, approve)
	h.step(c, sid, st, e)
}

// step sends the browser to the next step of the flow.
func (h *handler) step(c *gin.Context, sid string, st *as.Step, e *as.Error) {
	if e != nil {
		h.fail(c, e)
		return
	}
	site := httpx.Site(c)
	status := http.StatusFound
	if c.Request.Method == http.MethodPost {
		status = http.StatusSeeOther // the next request is a GET
	}
	switch {
	case st.RedirectURL != "":
		c.Header("Cache-Control", "no-store")
		c.Redirect(status, st.RedirectURL)
	case st.Consent:
		c.Redirect(status, site.Endpoint("consent")+"?request="+url.QueryEscape(st.Pending.ID))
	case st.DevForm:
		h.page(c, http.StatusOK, "oauth_dev_login.html", pageData{Title: "Sign in", Request: st.Pending.ID, CSRF: h.csrfToken(sid, st.Pending.ID),
			Action: site.Endpoint("dev-login"), Client: h.as.ClientName(c.Request.Context(), site, st.Pending.ClientID)}, as.RedirectOrigin(st.Pending.RedirectURI))
	case len(st.Chooser) > 0:
		var choices []idpChoice
		for _, cfg := range st.Chooser {
			choices = append(choices, idpChoice{Label: idpLabel(cfg.Type), URL: site.Endpoint("login") + "?request=" + url.QueryEscape(st.Pending.ID) + "&idp=" + url.QueryEscape(cfg.Type)})
		}
		h.page(c, http.StatusOK, "oauth_login.html", pageData{Title: "Sign in", IdPs: choices, Client: h.as.ClientName(c.Request.Context(), site, st.Pending.ClientID)})
	default:
		h.errorPage(c, http.StatusInternalServerError, &as.Error{Code: as.ErrServerError, Description: "internal error"})
	}
}

// fail answers an authorization flow error: back to the client when its
// redirect URI is known good, else a page.
func (h *handler) fail(c *gin.Context, e *as.Error) {
	if e.Redirectable() {
		h.logError(c, e)
		c.Header("Cache-Control", "no-store")
		status := http.StatusFound
		if c.Request.Method == http.MethodPost {
			status = http.StatusSeeOther
		}
		c.Redirect(status, e.RedirectURL(httpx.Site(c).Issuer))
		return
	}
	h.errorPage(c, 0, e)
}

func idpLabel(t string) string {
	switch t {
	case tenants.IdPGitHub:
		return "GitHub"
	case tenants.IdPGoogle:
		return "Google"
	case tenants.IdPOIDC:
		return "your organization's sign-in"
	case tenants.IdPDev:
		return "the dev sign-in (local testing)"
	}
	return t
}

// pendingForm reads a form posted by one of the AS's own pages (dev login,
// consent): the pending authorization it names must belong to this browser's
// session and the CSRF token must match. On failure the response is written
// and ok is false.
func (h *handler) pendingForm(c *gin.Context) (site tenants.Site, form url.Values, sid string, p *tenants.PendingAuthorization, ok bool) {
	site = httpx.Site(c)
	form, e := readForm(c, true)
	if e != nil {
		h.errorPage(c, 0, e)
		return
	}
	sid = session(c, site, false)
	p, e = h.as.LoadPending(c.Request.Context(), site, form.Get("request"), sessionHash(sid))
	if e != nil {
		h.fail(c, e)
		return
	}
	if !h.csrfOK(sid, p.ID, form.Get("csrf")) {
		h.errorPage(c, http.StatusForbidden, &as.Error{Code: as.ErrInvalidRequest, Description: "the form expired or was not sent from this page; start again"})
		return
	}
	return site, form, sid, p, true
}

// pendingQuery loads the pending authorization named by a query parameter;
// it must belong to this browser's session. On failure the response is
// written and ok is false.
func (h *handler) pendingQuery(c *gin.Context, param string) (site tenants.Site, sid string, p *tenants.PendingAuthorization, ok bool) {
	site = httpx.Site(c)
	sid = session(c, site, false)
	p, e := h.as.LoadPending(c.Request.Context(), site, c.Query(param), sessionHash(sid))
	if e != nil {
		h.fail(c, e)
		return
	}
	return site, sid, p, true
}
