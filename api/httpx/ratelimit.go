package httpx

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/tenants/limits"
)

// rateLimited counts refused requests by limit name.
var rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "gatehouse_rate_limited_total",
	Help: "Requests refused by a rate limit or quota, by limit (dcr, authorize, token, console_login, signup, api, mcp_tenant, mcp_user).",
}, []string{"limit"})

// CountRateLimited records a refusal under the limit's name.
func CountRateLimited(name string) { rateLimited.WithLabelValues(name).Inc() }

// RateLimiter is the platform's limiter: Deps.Limits (serve sets Redis in
// production, shared by every replica; memory in embedded mode), else a
// new in-memory limiter for the caller (tests that build Deps by hand).
func (d *Deps) RateLimiter() limits.Limiter {
	if d.Limits != nil {
		return d.Limits
	}
	return limits.NewMemory(nil)
}

// ProblemRateLimited is the RFC 9457 type of a 429.
const ProblemRateLimited = "urn:gatehouse:problem:rate-limited"

// RPCCodeRateLimited is the JSON-RPC code of a 429 on the MCP path.
const RPCCodeRateLimited = -32029

// WriteRateLimited answers 429 with Retry-After in the request's surface
// format (temporarily_unavailable on OAuth endpoints, as DCR always did).
func WriteRateLimited(w http.ResponseWriter, r *http.Request, retryAfterSeconds int, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	WriteError(w, r, http.StatusTooManyRequests, "temporarily_unavailable", ProblemRateLimited, RPCCodeRateLimited, msg)
}

// RateLimit is gin middleware charging one event per request under
// l for the key keyOf returns; over the limit it answers 429.
func (d *Deps) RateLimit(name string, l limits.Limit, keyOf func(*gin.Context) string) gin.HandlerFunc {
	lim := d.RateLimiter()
	return func(c *gin.Context) {
		ok, wait := lim.Allow(c.Request.Context(), limits.Key(name, keyOf(c)), l)
		if !ok {
			CountRateLimited(name)
			WriteRateLimited(c.Writer, c.Request, limits.RetryAfterSeconds(wait), "too many requests; retry after the time in Retry-After")
			c.Abort()
			return
		}
		c.Next()
	}
}
