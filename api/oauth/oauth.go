// Package oauth serves each tenant's OAuth 2.1 authorization server
// (docs/RULES.md §4–§5): metadata, authorize, token, registration, revocation,
// introspection, userinfo, JWKS and the upstream IdP callback. Handlers are
// thin: they parse, call tenants/oauth, and write; one file per endpoint.
package oauth

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// maxBody bounds every authorization server request body.
const maxBody = 64 << 10

type handler struct {
	d  *httpx.Deps
	as *as.Server
}

// Register mounts the authorization server routes for every tenant.
func Register(r *gin.Engine, d *httpx.Deps) {
	h := &handler{d: d, as: d.AuthServer}
	site := d.RequireLiveSite(h.tenantNotFoundJSON, h.suspendedJSON)
	page := d.RequireLiveSite(h.tenantNotFoundPage, h.suspendedPage)
	cors := httpx.CORS("GET, POST, OPTIONS", "WWW-Authenticate")
	limit := httpx.LimitBody(maxBody)
	noStore := httpx.NoStore()
	authzLimit, tokenLimit := h.limits()

	// Metadata (RFC 8414 §3, path-appended and path-inserted; OIDC Discovery §4).
	for _, p := range []string{"/t/:slug/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/t/:slug"} {
		r.GET(p, cors, site, h.metadata)
		r.OPTIONS(p, cors)
	}
	for _, p := range []string{"/t/:slug/.well-known/openid-configuration", "/.well-known/openid-configuration/t/:slug"} {
		r.GET(p, cors, site, h.openIDConfiguration)
		r.OPTIONS(p, cors)
	}
	r.GET("/t/:slug/jwks.json", cors, site, h.jwks)
	r.OPTIONS("/t/:slug/jwks.json", cors)

	t := r.Group("/t/:slug/oauth")
	t.GET("/authorize", page, authzLimit, h.authorize)
	t.POST("/authorize", limit, page, authzLimit, h.authorize)
	t.GET("/login", page, h.login)
	t.POST("/dev-login", limit, page, h.devLogin)
	t.GET("/consent", page, h.consentPage)
	t.POST("/consent", limit, page, h.consent)
	t.GET("/callback", page, h.callback)

	t.POST("/token", cors, noStore, limit, site, tokenLimit, h.token)
	t.OPTIONS("/token", cors)
	t.POST("/register", cors, noStore, limit, site, h.register)
	t.OPTIONS("/register", cors)
	t.POST("/revoke", cors, noStore, limit, site, h.revoke)
	t.OPTIONS("/revoke", cors)
	t.POST("/introspect", noStore, limit, site, h.introspect)
	t.GET("/userinfo", cors, noStore, site, h.userinfo)
	t.POST("/userinfo", cors, noStore, limit, site, h.userinfo)
	t.OPTIONS("/userinfo", cors)

	// 2025-03-26 default endpoints ({issuer}/authorize, /token, /register):
	// in host mode they arrive here through the rewrite; in path mode the
	// root forms resolve the tenant from resource or client_id (docs/RULES.md §10).
	r.GET("/t/:slug/authorize", page, authzLimit, h.authorize)
	r.POST("/t/:slug/authorize", limit, page, authzLimit, h.authorize)
	r.POST("/t/:slug/token", cors, noStore, limit, site, tokenLimit, h.token)
	r.OPTIONS("/t/:slug/token", cors)
	r.POST("/t/:slug/register", cors, noStore, limit, site, h.register)
	r.OPTIONS("/t/:slug/register", cors)
	r.GET("/authorize", h.rootAuthorize)
	r.POST("/authorize", limit, h.rootAuthorize)
	r.POST("/token", cors, noStore, limit, tokenLimit, h.rootToken)
	r.OPTIONS("/token", cors)
	r.POST("/register", cors, noStore, limit, h.rootRegister)
	r.OPTIONS("/register", cors)
}

func (h *handler) suspendedJSON(c *gin.Context) {
	e := as.Suspended
	h.jsonError(c, &e)
}

func (h *handler) suspendedPage(c *gin.Context) {
	e := as.Suspended
	h.errorPage(c, http.StatusForbidden, &e)
}

func (h *handler) tenantNotFoundJSON(c *gin.Context) {
	c.JSON(http.StatusNotFound, gin.H{"error": "invalid_request", "error_description": "no such tenant"})
}

func (h *handler) tenantNotFoundPage(c *gin.Context) {
	h.errorPage(c, http.StatusNotFound, &as.Error{Code: as.ErrInvalidRequest, Description: "There is no such connector here. Check the URL you were given."})
}
