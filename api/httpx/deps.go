// Package httpx holds what every HTTP surface shares: the dependencies
// struct, tenant/site resolution (host mode and path mode), request info,
// CORS and JSON helpers. Handlers in api/provision, api/oauth and
// api/gateway take a *Deps.
package httpx

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/limits"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
	"github.com/gatehouse/gatehouse/web"
)

// Deps are the platform services handlers call. Nil optional fields mean
// the feature is off.
type Deps struct {
	Store  tenants.Store
	Sealer *tenants.Sealer
	Keys   *keys.Manager
	// Rotation is the one signing-key rotation policy (console, API, worker).
	Rotation *keys.Rotation
	Auditor  tenants.Auditor
	Logger   *slog.Logger
	Sites    *Sites
	Bus      tenants.Bus // optional; nil means single process
	// Pages is the template set, parsed once at start-up (web.Parse);
	// api.New parses it when nil, so a broken template fails start-up.
	Pages *web.Set

	// PublicURL is the base URL B (scheme://host[:port], no path).
	PublicURL string
	// TenantDomain enables host mode: {slug}.{TenantDomain}.
	TenantDomain string
	// AllowDevIdP enables the dev IdP and the built-in demo upstream.
	AllowDevIdP bool
	// AllowPrivateFetch relaxes the outbound address policy (tenants/egress)
	// for fetches — IdP, CIMD, webhooks, the doctor — to loopback and private
	// addresses and http (tests only). Link-local and metadata stay refused.
	AllowPrivateFetch bool
	// RefusePrivateUpstreams applies the outbound address policy to upstream
	// MCP servers in full; off, it still refuses link-local and metadata.
	RefusePrivateUpstreams bool
	// AdminTokenHash is the SHA-256 of the admin token.
	AdminTokenHash string
	// HTTPClient is used for upstream IdP calls (nil: idp.NewHTTPClient
	// with AllowPrivateFetch; tests inject fakes' TLS).
	HTTPClient *http.Client
	// CIMDClient, when set, fetches client ID metadata documents instead of
	// the outbound address policy client (tests: a client trusting a test CA).
	CIMDClient *http.Client
	// Ready reports queue reachability for /readyz (nil: no queue).
	QueuePing func(ctx context.Context) error
	// Version of the binary.
	Version string
	// Limits is the keyed rate limiter (Redis-backed in production, so
	// limits hold across replicas); nil: in memory (RateLimiter).
	Limits limits.Limiter
	// MCPQuota are the plan-level MCP quotas a tenant's settings may
	// override (zero: unlimited).
	MCPQuota MCPQuota
	// APILimit is the provisioning API limit per credential (zero:
	// limits.API).
	APILimit limits.Limit
	// Draining is closed when the server starts shutting down: the gateway
	// then ends open streams cleanly (nil: never).
	Draining <-chan struct{}

	// The domain services, built once per process by internal/wiring.Build
	// (cmd/gatehouse and the test kit) and shared by every surface.
	//
	// Provisioner creates, changes and deletes tenants and their parts.
	Provisioner *tenants.Provisioner
	// AuthServer is the authorization server behind every tenant's OAuth
	// endpoints.
	AuthServer *as.Server
	// Verifier checks bearer tokens and grant liveness (gateway, and
	// introspection while notices keep its cache current).
	Verifier *access.Verifier
	// Accounts signs people in to the console and holds teams and roles.
	Accounts *accounts.Service
	// PlatformIdPs offer console sign-in with GitHub, Google or OIDC
	// (GATEHOUSE_PLATFORM_IDP_*).
	PlatformIdPs []PlatformIdP
}

// PlatformIdP is a platform-level identity provider for console sign-in.
type PlatformIdP struct {
	Config       tenants.IdPConfig // Type, ClientID, IssuerURL, Scopes
	ClientSecret string
	Label        string // e.g. "GitHub"
	// Endpoints override the well-known GitHub/Google endpoints (tests).
	Endpoints *idp.Endpoints
}

// IdPClient is the client for upstream IdP calls (tenant IdPs and the
// platform's console sign-in IdPs): the deployment's (set by cmd/gatehouse)
// or, when unset, the outbound address policy client with the deployment's
// private-fetch switch.
func (d *Deps) IdPClient() *http.Client {
	if d.HTTPClient != nil {
		return d.HTTPClient
	}
	return idp.NewHTTPClient(d.AllowPrivateFetch)
}

// MCPQuota is a plan's default MCP requests per minute, per tenant and per
// user (GATEHOUSE_MCP_REQUESTS_PER_MINUTE[_PER_USER]).
type MCPQuota struct {
	PerTenant int
	PerUser   int
}
