// Package provision is the REST provisioning API under /api/v1 (docs/RULES.md §9):
// tenants, their IdP, clients, grants, audit log, webhook deliveries,
// signing keys and API keys. JSON in and out; errors are RFC 9457
// problem+json. Handlers are thin: parse, call the tenants domain, write.
package provision

import (
	"context"
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/limits"
)

// MaxBody is the request body limit of the API (docs/RULES.md §9).
const MaxBody = 1 << 20

//go:embed openapi.yaml
var openAPISpec []byte

// OpenAPISpec returns the embedded OpenAPI 3.1 document.
func OpenAPISpec() []byte { return openAPISpec }

type handler struct {
	d *httpx.Deps
}

// Register mounts /api/v1.
func Register(r *gin.Engine, d *httpx.Deps) {
	h := &handler{d: d}
	v1 := r.Group("/api/v1", httpx.NoStore(), httpx.LimitBody(MaxBody))
	v1.GET("/openapi.yaml", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "application/yaml", openAPISpec)
	})

	// Per credential (admin token or API key), shared by every replica.
	apiLimit := d.APILimit
	if apiLimit.Unlimited() {
		apiLimit = limits.API
	}
	perKey := d.RateLimit("api", apiLimit, func(c *gin.Context) string { return who(c).actor() })
	api := v1.Group("", h.authenticate, perKey)
	api.POST("/tenants", h.adminOnly, h.createTenant)
	api.GET("/tenants", h.adminOnly, h.listTenants)

	t := api.Group("/tenants/:slug", h.tenantScope)
	t.GET("", h.getTenant)
	t.PATCH("", h.patchTenant)
	t.DELETE("", h.adminOnly, h.deleteTenant)
	t.PUT("/idp", h.putIdP)
	t.GET("/idp", h.getIdP)
	t.GET("/clients", h.listClients)
	t.POST("/clients", h.createClient)
	// Client ids may be URLs (CIMD), slashes and all: a catch-all takes them.
	t.DELETE("/clients/*client_id", h.deleteClient)
	t.GET("/grants", h.listGrants)
	t.DELETE("/grants/:id", h.revokeGrant)
	t.GET("/users", h.listUsers)
	t.POST("/users/:id/revoke", h.revokeUser)
	t.GET("/audit", h.listAudit)
	t.GET("/webhook-deliveries", h.listWebhookDeliveries)
	t.POST("/keys/rotate", h.rotateKeys)
	t.POST("/api-keys", h.createAPIKey)
	t.GET("/api-keys", h.listAPIKeys)
	t.DELETE("/api-keys/:id", h.deleteAPIKey)
	t.GET("/doctor", doctorHandler(d))
	t.POST("/enterprise-idps", h.createEnterpriseIdP)
	t.GET("/enterprise-idps", h.listEnterpriseIdPs)
	t.GET("/enterprise-idps/:id", h.getEnterpriseIdP)
	t.DELETE("/enterprise-idps/:id", h.deleteEnterpriseIdP)
}

// provisioner is the domain service for this request's caller.
func (h *handler) provisioner() *tenants.Provisioner {
	return h.d.Provisioner
}

// changed tells this replica's caches and every other replica that a tenant changed.
func (h *handler) changed(ctx context.Context, tenantID string) {
	if h.d.Sites != nil {
		h.d.Sites.Invalidate()
	}
	if h.d.Bus != nil {
		_ = h.d.Bus.Publish(context.WithoutCancel(ctx), tenants.TopicTenantChanged, tenantID)
	}
}

// view is how a tenant is shown: its URLs in path mode, and in host mode
// when the deployment has a tenant domain or the tenant a verified domain.
func (h *handler) view(t *tenants.Tenant) tenants.TenantView {
	var host *tenants.Site
	if hs, ok := h.d.Sites.Host(t); ok {
		host = &hs
	}
	return tenants.ViewOf(t, h.d.Sites.Path(t), host)
}
