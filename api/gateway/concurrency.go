package gateway

import (
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
)

// Defaults for concurrent MCP requests (streams included) per user and per
// tenant on one replica: a client that opens streams without end, or one
// tenant's burst, cannot take every connection and goroutine of the
// replica from the others.
const (
	DefaultMaxConcurrentPerUser   = 32
	DefaultMaxConcurrentPerTenant = 1024
)

type inflight struct {
	mu sync.Mutex
	n  map[slotKey]int
}

// slotKey names what a concurrency slot counts: a user of a tenant or the
// tenant. A struct, not a joined string: no key is built per request.
type slotKey struct {
	user            bool
	tenant, subject string
}

func (f *inflight) acquire(keys [2]slotKey, max [2]int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, k := range keys {
		if max[i] > 0 && f.n[k] >= max[i] {
			return false
		}
	}
	for _, k := range keys {
		f.n[k]++
	}
	return true
}

func (f *inflight) release(keys [2]slotKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		if f.n[k]--; f.n[k] <= 0 {
			delete(f.n, k)
		}
	}
}

// admit takes a concurrency slot for the user and the tenant, or answers
// 429 (JSON-RPC error, Retry-After) and returns nil. Call the returned
// function when the request (or its stream) ends.
func (g *Gateway) admit(c *gin.Context, site tenants.Site, p *access.Principal) func() {
	t := site.Tenant
	keys := [2]slotKey{{user: true, tenant: t.ID, subject: p.Claims.Subject}, {tenant: t.ID}}
	if g.active.acquire(keys, [2]int{g.opts.MaxConcurrentPerUser, g.opts.MaxConcurrentPerTenant}) {
		return func() { g.active.release(keys) }
	}
	g.metrics.requests.WithLabelValues(t.Slug, "rate_limited", "concurrency").Inc()
	httpx.CountRateLimited("mcp_concurrency")
	c.Header("Retry-After", "1")
	writeRPCError(c.Writer, http.StatusTooManyRequests, nil, httpx.RPCCodeRateLimited,
		"too many concurrent MCP requests or streams for this user or connector; close one or retry", nil)
	return nil
}
