// Package api assembles the public HTTP surface: liveness, the
// provisioning API, each tenant's authorization server and MCP gateway, and
// the web console, on one gin engine behind host-mode resolution.
package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/api/console"
	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/api/oauth"
	"github.com/gatehouse/gatehouse/api/provision"
	"github.com/gatehouse/gatehouse/web"
)

// Options for New. Nil fields mean defaults.
type Options struct {
	// Registry for metrics (default: a new registry); served by api/admin.
	Registry *prometheus.Registry
	// TrustedProxies whose X-Forwarded-For is believed (default: none).
	TrustedProxies []string
	// TenantMetrics registers collectors labelled by tenant (default:
	// Registry); an *admin.TenantSeries there lets deleted tenants' series go.
	TenantMetrics prometheus.Registerer
	// Gateway is the MCP gateway the composition root built and subscribed
	// to grant revocations (internal/wiring.Subscribe). Nil: one is built
	// here, which is allowed only without a bus (no notice to miss).
	Gateway *gateway.Gateway
	// SecurityContacts are the operator's RFC 9116 Contact URIs
	// (GATEHOUSE_SECURITY_CONTACT); none: no /.well-known/security.txt.
	SecurityContacts []string
}

// New returns the platform's HTTP handler.
func New(d *httpx.Deps, opts *Options) (http.Handler, error) {
	if opts == nil {
		opts = &Options{}
	}
	if d.Pages == nil {
		// Parsed here at the latest, so a broken template stops start-up.
		pages, err := web.Parse()
		if err != nil {
			return nil, err
		}
		d.Pages = pages
	}
	if d.Provisioner == nil || d.AuthServer == nil || d.Verifier == nil || d.Accounts == nil || d.Rotation == nil || d.Limits == nil {
		return nil, errors.New("api: the domain services are not built (internal/wiring.Build)")
	}
	if opts.Gateway == nil && d.Bus != nil {
		return nil, errors.New("api: with a bus, the gateway is built and subscribed by the composition root (Options.Gateway)")
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// A redirect between /mcp and /mcp/ drops the Authorization header
	// (claude-ai-mcp #430): never redirect, serve both.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.UseRawPath = false
	if err := r.SetTrustedProxies(opts.TrustedProxies); err != nil {
		return nil, err
	}
	m := httpx.NewMetrics(reg)
	r.Use(httpx.Recover(d.Logger), httpx.RequestInfo(), httpx.TraceRoute(), m.Handler(), httpx.AccessLog(d.Logger))

	// Only liveness is public; /readyz and /metrics live on the admin
	// listener (api/admin), where tenant slugs and dependency state are not
	// published.
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok", "version": d.Version}) })
	// security.txt names the operator, not a tenant: the same file on every
	// host, outside the tenant lookup (a researcher may only know a
	// tenant's connector URL). Without a configured contact there is no
	// file (404): a made-up address would send reports nowhere.
	if len(opts.SecurityContacts) > 0 {
		security := gin.WrapF(securityTxt(opts.SecurityContacts, time.Now))
		r.GET(securityTxtPath, security)
		r.HEAD(securityTxtPath, security)
	}

	provision.Register(r, d)
	oauth.Register(r, d)
	var tenantReg prometheus.Registerer = reg
	if opts.TenantMetrics != nil {
		tenantReg = opts.TenantMetrics
	}
	gw := opts.Gateway
	if gw == nil {
		gw = gateway.New(d, tenantReg, &gateway.Options{RefusePrivateUpstreams: d.RefusePrivateUpstreams})
	}
	gw.Mount(r)
	page404 := console.Register(r, d)

	// Unmatched routes answer in the format of the surface they were aimed
	// at: problem+json for the API, JSON for protocol paths, a page for people.
	r.NoRoute(func(c *gin.Context) {
		if isAPI(c) || isProtocol(c) {
			notFound(c)
			return
		}
		page404(c)
	})
	r.NoMethod(methodNotAllowed)

	// Liveness never touches the tenant lookup: a probe must answer even
	// when the database cannot, and whatever the Host header names. Nor
	// does security.txt.
	hostMode := d.Sites.HostMode(httpx.RefuseNUL(r))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/healthz" || req.URL.Path == securityTxtPath {
			r.ServeHTTP(w, req)
			return
		}
		hostMode.ServeHTTP(w, req)
	}), nil
}

func isAPI(c *gin.Context) bool { return strings.HasPrefix(c.Request.URL.Path, "/api/") }

// isProtocol: tenant (connector, OAuth) and discovery paths, where clients
// expect JSON, never HTML.
func isProtocol(c *gin.Context) bool {
	p := c.Request.URL.Path
	return strings.HasPrefix(p, "/t/") || strings.HasPrefix(p, "/.well-known/") || strings.HasPrefix(p, "/oauth/") ||
		p == "/authorize" || p == "/token" || p == "/register" || p == "/mcp" || strings.HasPrefix(p, "/mcp/")
}

// unrouted answers a request no route (404) or no method (405) took, in the
// format of the surface it was aimed at: problem+json on the API (apiDetail
// may point at the spec), an OAuth-style JSON error elsewhere.
func unrouted(status int, code, detail, apiDetail string) gin.HandlerFunc {
	problem, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{"about:blank", http.StatusText(status), status, apiDetail})
	return func(c *gin.Context) {
		if isAPI(c) {
			c.Data(status, "application/problem+json", problem)
			return
		}
		c.JSON(status, gin.H{"error": code, "error_description": detail})
	}
}

var (
	notFound         = unrouted(http.StatusNotFound, "not_found", "no such endpoint", "no such endpoint; see /api/v1/openapi.yaml")
	methodNotAllowed = unrouted(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this endpoint", "method not allowed on this endpoint")
)
