package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
)

// MCP transport headers passed both ways (docs/RULES.md §6).
const (
	hdrSessionID       = "Mcp-Session-Id"
	hdrProtocolVersion = "Mcp-Protocol-Version"
	hdrMethod          = "Mcp-Method"
	hdrName            = "Mcp-Name"
)

// reqState travels with a forwarded request from the handler to the proxy
// callbacks.
type reqState struct {
	site     tenants.Site
	target   *url.URL
	body     []byte // POST body (already read and checked); nil otherwise
	id       json.RawMessage
	identity http.Header
	clientIP string
	reqID    string
	cancel   context.CancelCauseFunc
	idle     time.Duration
	// failed is set by the error handler (the upstream call failed).
	failed bool
	method string
	p      *access.Principal
}

type stateKey struct{}

func stateFrom(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	return st
}

// serveMCP is the connector URL: parse, verify and apply the policy
// (authorize), then forward. Two steps so that the frame a stream keeps on
// its goroutine's stack while it waits for events is forward's small one,
// not the checks' (docs/PERFORMANCE.md: stream memory).
func (g *Gateway) serveMCP(c *gin.Context) {
	st, done := g.authorize(c)
	if st == nil {
		return
	}
	defer done()
	g.forward(c, st)
}

// authorize runs every check of a request and returns its state for the
// proxy and the function that releases its concurrency slot; on a refusal
// it answers and returns nil.
func (g *Gateway) authorize(c *gin.Context) (*reqState, func()) {
	site := httpx.Site(c)
	t := site.Tenant
	r := c.Request
	ctx := r.Context()

	if r.Header.Get("Upgrade") != "" {
		// Streamable HTTP never upgrades; a 101 would hand the client a raw
		// tunnel to the upstream past every check below.
		g.metrics.requests.WithLabelValues(t.Slug, "rejected", "upgrade").Inc()
		writeRPCError(c.Writer, http.StatusBadRequest, nil, codeInvalidRequest,
			"protocol upgrades (e.g. WebSocket) are not supported on the MCP endpoint; use Streamable HTTP", nil)
		return nil, nil
	}

	p, den, err := g.verifier.AuthenticateRequest(ctx, site, access.Request{Authorization: r.Header.Values("Authorization"),
		DPoP: r.Header.Values("DPoP"), Method: r.Method})
	if err != nil {
		g.d.Sites.Outage().Down(err) // logged once per outage, not per request
		g.metrics.requests.WithLabelValues(t.Slug, "error", "auth_unavailable").Inc()
		httpx.WriteUnavailable(c.Writer, c.Request)
		return nil, nil
	}
	if den != nil {
		g.deny(c, site, den, nil, nil)
		return nil, nil
	}
	if g.overQuota(c, site, p) {
		return nil, nil
	}
	done := g.admit(c, site, p)
	if done == nil {
		return nil, nil
	}
	// The slot is the caller's once the state is returned; every refusal
	// below releases it here.
	handedOver := false
	defer func() {
		if !handedOver {
			done()
		}
	}()

	var body []byte
	var parsed *access.Body
	if r.Method == http.MethodPost {
		if r.ContentLength > g.opts.MaxBodyBytes {
			g.tooLarge(c, site, p)
			return nil, nil
		}
		body, err = io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, g.opts.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				g.tooLarge(c, site, p)
				return nil, nil
			}
			// The client went away mid-body; nothing to answer.
			g.metrics.requests.WithLabelValues(t.Slug, "client_gone", "body_read").Inc()
			c.Abort()
			return nil, nil
		}
		if parsed, err = access.ParseBody(body); err != nil {
			g.metrics.requests.WithLabelValues(t.Slug, "rejected", "parse_error").Inc()
			writeRPCError(c.Writer, http.StatusBadRequest, nil, codeParseError, "parse error: the request body is not valid JSON", nil)
			return nil, nil
		}
	}

	tools, den := access.CheckToolScopes(t.Settings.ToolScopes, parsed, r.Header.Get(hdrMethod), r.Header.Get(hdrName), p.Claims)
	if den != nil {
		g.deny(c, site, den, parsed, tools)
		return nil, nil
	}

	target, err := url.Parse(t.UpstreamMCPURL)
	if err != nil || target.Host == "" {
		g.upstreamFailed(c, site, p, parsed.SingleID(), "bad_upstream_url", http.StatusBadGateway, "the tenant's upstream MCP URL is invalid")
		return nil, nil
	}
	fwd, err := g.identity.Build(ctx, site, p, t.UpstreamMCPURL)
	if err != nil {
		g.log.Error("mcp: building upstream identity failed", "tenant", t.Slug, "err", err)
		writeRPCError(c.Writer, http.StatusInternalServerError, parsed.SingleID(), codeInternal, "internal error while forwarding", nil)
		return nil, nil
	}
	if fwd.UpstreamTokenErr != nil {
		g.log.Warn("mcp: upstream IdP token not forwarded", "tenant", t.Slug, "grant", p.Grant.ID, "err", fwd.UpstreamTokenErr)
	}
	if fwd.StaticHeadersErr != nil {
		g.log.Error("mcp: tenant upstream_headers not forwarded", "tenant", t.Slug, "err", fwd.StaticHeadersErr)
	}

	g.allowed(ctx, site, p, r.Method, parsed, tools)

	// The client's address and request id as httpx.RequestInfo read them
	// (gin's ClientIP parses the forwarding headers again on each call).
	ri := tenants.RequestInfoFrom(ctx)
	if ri.IP == "" {
		ri.IP = c.ClientIP()
	}
	handedOver = true
	return &reqState{site: site, target: target, body: body, id: parsed.SingleID(), identity: fwd.Header,
		clientIP: ri.IP, reqID: ri.RequestID, idle: g.opts.IdleTimeout, p: p, method: r.Method}, done
}

// forward proxies an authorized request and accounts for a stream the
// gateway cut (idle, revoked) on the way out.
func (g *Gateway) forward(c *gin.Context, st *reqState) {
	ctx := c.Request.Context()
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st.cancel = cancel
	out := c.Request.WithContext(context.WithValue(pctx, stateKey{}, st))
	w := &deadlineWriter{ResponseWriter: c.Writer, rc: http.NewResponseController(c.Writer), idle: g.opts.IdleTimeout}
	defer w.clear()
	defer func() {
		// A stream the gateway cut ends in the proxy's abort panic; account
		// for it on the way out.
		t, p := st.site.Tenant, st.p
		switch cause := context.Cause(pctx); {
		case st.failed:
		case errors.Is(cause, errIdle):
			g.metrics.requests.WithLabelValues(t.Slug, "stream_closed", "idle_timeout").Inc()
		case errors.Is(cause, errRevoked):
			g.metrics.requests.WithLabelValues(t.Slug, "stream_closed", tenants.ReasonRevoked).Inc()
			if g.d.Auditor != nil {
				g.d.Auditor.Record(context.WithoutCancel(ctx), tenants.AuditEvent{TenantID: t.ID, Action: tenants.ActMCPDenied,
					ClientID: p.Claims.ClientID, Subject: p.Claims.Subject, Outcome: tenants.OutcomeFailure, Reason: tenants.ReasonRevoked,
					Details: tenants.JSONMap{tenants.DetailHTTPMethod: st.method, tenants.DetailStreamClosed: true, tenants.DetailGrantID: p.Claims.GrantID}})
			}
		}
	}()
	g.proxy.ServeHTTP(w, out)
}

func (g *Gateway) tooLarge(c *gin.Context, site tenants.Site, p *access.Principal) {
	g.metrics.requests.WithLabelValues(site.Tenant.Slug, "rejected", "body_too_large").Inc()
	c.Header("Connection", "close")
	writeRPCError(c.Writer, http.StatusRequestEntityTooLarge, nil, codeInvalidRequest,
		"request body exceeds the "+humanBytes(g.opts.MaxBodyBytes)+" limit of this MCP endpoint", nil)
}
