package gateway

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
)

type metrics struct {
	// requests counts every decision by tenant (slug), outcome and reason.
	requests *prometheus.CounterVec
	streams  *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_mcp_requests_total",
			Help: "MCP gateway decisions by tenant, outcome (allowed, denied, upstream_failed, rejected, client_gone, stream_closed, error) and reason.",
		}, []string{"tenant", "outcome", "reason"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_mcp_open_streams",
			Help: "Server-sent event streams currently open through the gateway, by tenant.",
		}, []string{"tenant"}),
	}
	reg.MustRegister(m.requests, m.streams)
	return m
}

// deny answers a denial with its challenge and feeds audit and metrics.
func (g *Gateway) deny(c *gin.Context, site tenants.Site, d *access.Denial, body *access.Body, tools []string) {
	slug := site.Tenant.Slug
	g.metrics.requests.WithLabelValues(slug, "denied", d.Reason).Inc()
	r := c.Request
	ri := tenants.RequestInfoFrom(r.Context())
	if g.d.Auditor != nil && g.limiter.allow(site.Tenant.ID+"|"+d.Reason+"|"+ri.IP) {
		details := tenants.JSONMap{
			tenants.DetailHTTPMethod: r.Method,
			tenants.DetailStatus:     d.Status,
			tenants.DetailURLMode:    site.Mode,
		}
		if d.Description != "" {
			details[tenants.DetailDescription] = d.Description
		}
		if d.Audience != "" {
			details[tenants.DetailTokenAudience] = tenants.Truncate(d.Audience, 300)
		}
		if v := r.Header.Get(hdrProtocolVersion); v != "" {
			details[tenants.DetailProtocol] = tenants.Truncate(v, 32)
		}
		if v := r.Header.Get(hdrMethod); v != "" {
			details[tenants.DetailMCPMethod] = tenants.Truncate(v, 64)
		} else if m := body.Methods(); len(m) > 0 {
			details[tenants.DetailMCPMethod] = tenants.Truncate(m[0], 64)
		}
		if r.Header.Get(hdrSessionID) != "" {
			details[tenants.DetailHasSession] = true
		}
		if len(tools) > 0 {
			details[tenants.DetailTools] = tools
			details[tenants.DetailRequiredScope] = d.Scope
		}
		// The auditor copies IP and User-Agent from the request info: for
		// no_header denials that is what lets the connection doctor say
		// which client keeps calling without a token.
		g.d.Auditor.Record(r.Context(), tenants.AuditEvent{TenantID: site.Tenant.ID, Action: tenants.ActMCPDenied,
			ClientID: d.ClientID, Subject: d.Subject, Outcome: tenants.OutcomeFailure, Reason: d.Reason, Details: details})
	}
	for _, ch := range d.Challenges(site) {
		c.Writer.Header().Add("WWW-Authenticate", ch)
	}
	code := codeUnauthorized
	if d.Status == http.StatusForbidden {
		code = codeForbidden
	}
	msg := "unauthorized"
	switch {
	case d.Code == access.ErrCodeInsufficientScope:
		msg = "insufficient scope: " + d.Description
	case d.Description != "":
		msg = "unauthorized: " + d.Description
	case d.Reason == tenants.ReasonNoHeader:
		msg = "unauthorized: this MCP server requires an OAuth access token (see WWW-Authenticate)"
	}
	writeRPCError(c.Writer, d.Status, body.SingleID(), code, msg, nil)
	c.Abort()
}

// allowed audits a forwarded request per the tenant's audit_mcp_calls.
func (g *Gateway) allowed(ctx context.Context, site tenants.Site, p *access.Principal, httpMethod string, body *access.Body, tools []string) {
	slug := site.Tenant.Slug
	g.metrics.requests.WithLabelValues(slug, "allowed", "ok").Inc()
	if g.d.Auditor == nil {
		return
	}
	level := site.Tenant.Settings.AuditMCP()
	if level == tenants.AuditMCPNone {
		return
	}
	base := func(action string, details tenants.JSONMap) tenants.AuditEvent {
		return tenants.AuditEvent{TenantID: site.Tenant.ID, Action: action, ClientID: p.Claims.ClientID,
			Subject: p.Claims.Subject, Outcome: tenants.OutcomeSuccess, Details: details}
	}
	for _, tool := range tools {
		g.d.Auditor.Record(ctx, base(tenants.ActMCPToolCalled, tenants.JSONMap{tenants.DetailTool: tenants.Truncate(tool, 200), tenants.DetailGrantID: p.Claims.GrantID}))
	}
	if level == tenants.AuditMCPAll {
		d := tenants.JSONMap{tenants.DetailHTTPMethod: httpMethod, tenants.DetailGrantID: p.Claims.GrantID, tenants.DetailURLMode: site.Mode}
		if m := body.Methods(); len(m) > 0 {
			d[tenants.DetailMCPMethods] = m
		}
		g.d.Auditor.Record(ctx, base(tenants.ActMCPRequest, d))
	}
}

func (g *Gateway) recordUpstreamFailure(ctx context.Context, site tenants.Site, p *access.Principal, cause string, status int) {
	g.metrics.requests.WithLabelValues(site.Tenant.Slug, "upstream_failed", cause).Inc()
	if g.d.Auditor == nil {
		return
	}
	ev := tenants.AuditEvent{TenantID: site.Tenant.ID, Action: tenants.ActUpstreamFailed, Outcome: tenants.OutcomeFailure,
		Reason: cause, Details: tenants.JSONMap{tenants.DetailStatus: strconv.Itoa(status)}}
	if p != nil {
		ev.ClientID, ev.Subject = p.Claims.ClientID, p.Claims.Subject
	}
	g.d.Auditor.Record(ctx, ev)
}

// auditLimiter bounds denial audit events per key (tenant, reason, IP) per
// window, so unauthenticated floods cannot fill the audit log; metrics
// still count every denial.
type auditLimiter struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	start  time.Time
	counts map[string]int
}

func newAuditLimiter(max int, window time.Duration) *auditLimiter {
	return &auditLimiter{max: max, window: window, counts: map[string]int{}}
}

func (l *auditLimiter) allow(key string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.window || len(l.counts) > 50_000 {
		l.start = now
		l.counts = map[string]int{}
	}
	l.counts[key]++
	return l.counts[key] <= l.max
}
