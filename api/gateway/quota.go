package gateway

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/limits"
)

// overQuota charges one MCP request against the tenant's quota and the
// user's (settings mcp_requests_per_minute[_per_user], else the plan's
// defaults). Over either it answers 429 with Retry-After and a JSON-RPC
// error, counts it, audits it (mcp.denied, reason quota; capped like every
// denial) and returns true. The limiter is shared by every replica.
func (g *Gateway) overQuota(c *gin.Context, site tenants.Site, p *access.Principal) bool {
	t := site.Tenant
	perTenant, perUser := t.Settings.MCPQuotas(g.d.MCPQuota.PerTenant, g.d.MCPQuota.PerUser)
	ctx := c.Request.Context()
	which := ""
	var wait int
	// The user's quota first: one user's refused requests must not use up
	// the tenant's.
	if ok, w := g.quotas.Allow(ctx, limits.Key("mcp_user", t.ID, p.Claims.Subject), limits.PerMinute(perUser)); !ok {
		which, wait = "user", limits.RetryAfterSeconds(w)
	} else if ok, w := g.quotas.Allow(ctx, limits.Key("mcp_tenant", t.ID), limits.PerMinute(perTenant)); !ok {
		which, wait = "tenant", limits.RetryAfterSeconds(w)
	}
	if which == "" {
		return false
	}
	g.metrics.requests.WithLabelValues(t.Slug, "rate_limited", which+"_quota").Inc()
	httpx.CountRateLimited("mcp_" + which)
	ri := tenants.RequestInfoFrom(ctx)
	if g.d.Auditor != nil && g.limiter.allow(t.ID+"|"+tenants.ReasonQuota+"|"+ri.IP) {
		g.d.Auditor.Record(ctx, tenants.AuditEvent{TenantID: t.ID, Action: tenants.ActMCPDenied, ClientID: p.Claims.ClientID,
			Subject: p.Claims.Subject, Outcome: tenants.OutcomeFailure, Reason: tenants.ReasonQuota,
			Details: tenants.JSONMap{tenants.DetailQuota: which, tenants.DetailStatus: http.StatusTooManyRequests, tenants.DetailRetryAfter: wait}})
	}
	c.Header("Retry-After", strconv.Itoa(wait))
	writeRPCError(c.Writer, http.StatusTooManyRequests, nil, httpx.RPCCodeRateLimited,
		"rate limit exceeded: this "+which+"'s MCP requests per minute are used up; retry after "+strconv.Itoa(wait)+" s",
		map[string]any{"quota": which, "retry_after": wait})
	return true
}
