package console

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants/limits"
)

// limiter charges console signups and logins per client IP against the
// platform limiter (shared by every replica in production).
type limiter struct {
	name string
	lim  limits.Limiter
	l    limits.Limit
}

func newLimiter(d *httpx.Deps, name string, max int, per time.Duration, now func() time.Time) *limiter {
	lim := d.Limits
	if lim == nil {
		lim = limits.NewMemory(now)
	}
	return &limiter{name: name, lim: lim, l: limits.Per(max, per)}
}

// allow charges one event for the request's IP; when refused it sets
// Retry-After and counts the refusal.
func (l *limiter) allow(c *gin.Context) bool { return l.allowKey(c, c.ClientIP()) }

// allowKey charges one event for key (an email address, an account).
func (l *limiter) allowKey(c *gin.Context, key string) bool {
	ok, wait := l.lim.Allow(c.Request.Context(), limits.Key(l.name, key), l.l)
	if !ok {
		httpx.CountRateLimited(l.name)
		c.Header("Retry-After", strconv.Itoa(limits.RetryAfterSeconds(wait)))
	}
	return ok
}
