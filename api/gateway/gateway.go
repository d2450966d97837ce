// Package gateway serves each tenant's MCP connector URL (docs/RULES.md §6):
// protected resource metadata, bearer checks, and the streaming reverse proxy
// to the tenant's upstream MCP server.
//
// Handlers are thin: tenants/access decides (token, grant liveness, tool
// scopes, identity headers); this package parses HTTP, answers JSON-RPC
// errors with the right WWW-Authenticate, audits, counts, and proxies.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/egress"
	"github.com/gatehouse/gatehouse/tenants/limits"
)

// Defaults (Options fields left zero).
const (
	// DefaultMaxBody is the MCP request body limit (docs/RULES.md §9: 4 MiB on the MCP path).
	DefaultMaxBody = 4 << 20
	// DefaultConnectTimeout bounds dialing the upstream (and its TLS handshake).
	DefaultConnectTimeout = 10 * time.Second
	// DefaultResponseHeaderTimeout bounds the wait for the upstream's response
	// headers. An SSE-mode upstream answers headers with its first event; a
	// JSON-mode one only when the call completes, so this is also the longest
	// silent tool call (most clients give up at 60 s anyway).
	DefaultResponseHeaderTimeout = 120 * time.Second
	// DefaultIdleTimeout closes a stream on which neither side moved a byte
	// for this long. Streams have no total timeout (subscriptions/listen and
	// the GET stream are long-lived); a closed idle stream is resumed by the
	// client.
	DefaultIdleTimeout = 10 * time.Minute
)

// Options for New; nil or zero fields mean defaults.
type Options struct {
	MaxBodyBytes          int64
	ConnectTimeout        time.Duration
	ResponseHeaderTimeout time.Duration
	IdleTimeout           time.Duration
	// Now is the clock of the identity assertion (tests; the token checks
	// use Deps.Verifier's).
	Now func() time.Time
	// Transport replaces the upstream transport (tests); it is still wrapped
	// to follow same-origin redirects.
	Transport http.RoundTripper
	// MaxConcurrentPerUser / PerTenant bound open MCP requests and streams
	// on this replica (defaults DefaultMaxConcurrentPer*; negative: none).
	MaxConcurrentPerUser   int
	MaxConcurrentPerTenant int
	// DrainGrace: on shutdown, how long streams answering a request may
	// still run (default DefaultDrainGrace); GET streams end at once.
	DrainGrace time.Duration
	// RefusePrivateUpstreams applies the outbound address policy
	// (tenants/egress) in full to upstream addresses: loopback, private,
	// CGNAT, NAT64… are refused (a SaaS deployment whose tenants are
	// strangers). Off, the policy still refuses link-local, metadata and
	// non-unicast addresses.
	RefusePrivateUpstreams bool
	// Connect replaces the upstream connect step after the policy check
	// (tests observe connection attempts; see egress.Dialer).
	Connect func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Gateway is the MCP endpoint of every tenant.
type Gateway struct {
	d        *httpx.Deps
	opts     Options
	log      *slog.Logger
	verifier *access.Verifier
	identity *access.Identity
	proxy    *httputil.ReverseProxy
	metrics  *metrics
	limiter  *auditLimiter
	streams  *streamRegistry
	drain    drainer
	quotas   limits.Limiter
	active   inflight
}

// New builds a gateway around d.Verifier (internal/wiring.Build). The
// composition root subscribes CutStreams to grant revocations
// (internal/wiring.Subscribe).
func New(d *httpx.Deps, reg prometheus.Registerer, opts *Options) *Gateway {
	g := &Gateway{d: d, log: d.Logger}
	if opts != nil {
		g.opts = *opts
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	o := &g.opts
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBody
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxConcurrentPerUser == 0 {
		o.MaxConcurrentPerUser = DefaultMaxConcurrentPerUser
	}
	if o.MaxConcurrentPerTenant == 0 {
		o.MaxConcurrentPerTenant = DefaultMaxConcurrentPerTenant
	}
	g.active.n = map[slotKey]int{}
	if o.DrainGrace <= 0 {
		o.DrainGrace = DefaultDrainGrace
	}
	g.verifier = d.Verifier
	g.streams = &streamRegistry{open: map[string]map[*reqState]struct{}{}}
	g.drain.grace = o.DrainGrace
	g.quotas = d.RateLimiter()
	if d.Draining != nil {
		go func() { <-d.Draining; g.Drain() }()
	}
	g.identity = &access.Identity{Keys: d.Keys, Sealer: d.Sealer, Now: o.Now}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	g.metrics = newMetrics(reg)
	g.limiter = newAuditLimiter(30, time.Minute)

	base := o.Transport
	if base == nil {
		base = g.upstreamTransport()
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:   g.rewrite,
		Transport: &followRedirects{base: &timedTransport{base: base, hist: newUpstreamHistogram(reg)}},
		// Zero: httputil.ReverseProxy flushes every write of an event stream
		// or a response of unknown length (SSE events leave as they arrive),
		// and a JSON answer of known length once (a flush per write cost a
		// sixth of the gateway's CPU: docs/PERFORMANCE.md).
		FlushInterval:  0,
		BufferPool:     &copyBuffers{},
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.upstreamError,
		ErrorLog:       slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	return g
}

// CutStreams ends the open streams of the grant a grant-revoked notice
// names: open streams outlive the token check that started them (a lost
// notice is caught by the per-stream liveness re-check).
func (g *Gateway) CutStreams(payload string) { g.streams.cut(payload) }

// Verifier exposes the token verifier (tests, and other surfaces that want
// the same liveness cache).
func (g *Gateway) Verifier() *access.Verifier { return g.verifier }

// upstreamTransport dials upstreams through the outbound address policy
// (every resolved address checked at dial time, redirects included), with
// connect and header timeouts, keep-alive and a large idle pool for
// streaming, and no compression (the client gets the upstream's bytes,
// never re-encoded).
func (g *Gateway) upstreamTransport() *http.Transport {
	dialer := &egress.Dialer{
		Policy:    egress.Policy{AllowPrivate: !g.opts.RefusePrivateUpstreams},
		Timeout:   g.opts.ConnectTimeout,
		KeepAlive: 30 * time.Second,
		Connect:   g.opts.Connect,
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   g.opts.ConnectTimeout,
		ResponseHeaderTimeout: g.opts.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		// Per-connection buffers live as long as a stream: 1 KiB for
		// response headers (bodies are read straight into the copy
		// buffer), 2 KiB for the request head with its identity assertion
		// (the 4 KiB defaults cost an idle stream 5 KiB more).
		ReadBufferSize:  1 << 10,
		WriteBufferSize: 2 << 10,
	}
}

// Mount adds the routes. Every /t/:slug route resolves the site first; host
// mode arrives here rewritten under /t/{slug} with its own site.
func (g *Gateway) Mount(r *gin.Engine) {
	site := g.d.RequireLiveSite(g.notFound, g.suspended)
	prm := []gin.HandlerFunc{prmCORS(), g.d.RequireSite(g.prmNotFound), g.metadata}
	// RFC 9728 §3.1 path-inserted form (what the 401 names), with and
	// without the trailing slash; and the forms under the issuer that host
	// mode's /.well-known/oauth-protected-resource[/mcp] are rewritten to.
	for _, p := range []string{
		"/.well-known/oauth-protected-resource/t/:slug/mcp",
		"/.well-known/oauth-protected-resource/t/:slug/mcp/",
		"/t/:slug/.well-known/oauth-protected-resource",
		"/t/:slug/.well-known/oauth-protected-resource/mcp",
		"/t/:slug/.well-known/oauth-protected-resource/mcp/",
	} {
		r.GET(p, prm...)
		r.HEAD(p, prm...)
		r.OPTIONS(p, prm...)
	}
	// Both /mcp and /mcp/ are served: a redirect drops the Authorization
	// header (claude-ai-mcp #430), and the engine never redirects.
	for _, p := range []string{"/t/:slug/mcp", "/t/:slug/mcp/"} {
		h := []gin.HandlerFunc{mcpCORS(), site, g.serveMCP}
		r.GET(p, h...)
		r.POST(p, h...)
		r.DELETE(p, h...)
		r.OPTIONS(p, h...) // answered by mcpCORS
		for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodHead} {
			r.Handle(m, p, mcpCORS(), g.methodNotAllowed)
		}
	}
}

func (g *Gateway) notFound(c *gin.Context) {
	writeRPCError(c.Writer, http.StatusNotFound, nil, codeNotFound, "no MCP connector at this URL", nil)
}

// suspended answers every MCP request of a suspended tenant, token or not:
// a clear JSON-RPC error rather than a 401 that would send clients through
// sign-in again.
func (g *Gateway) suspended(c *gin.Context) {
	writeRPCError(c.Writer, http.StatusForbidden, nil, codeForbidden, tenants.SuspendedMessage, nil)
}

func (g *Gateway) prmNotFound(c *gin.Context) {
	c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not_found", "error_description": "no such protected resource"})
}

func (g *Gateway) methodNotAllowed(c *gin.Context) {
	c.Header("Allow", "GET, POST, DELETE, OPTIONS")
	writeRPCError(c.Writer, http.StatusMethodNotAllowed, nil, codeInvalidRequest, "method not allowed on the MCP endpoint", nil)
}

// Cancel causes of streams the gateway closes.
var (
	errIdle    = errors.New("stream idle timeout")
	errRevoked = errors.New("grant revoked")
)
