package httpx

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// CORS is the one CORS policy of the public surfaces (metadata, the OAuth
// back-channel endpoints, the MCP endpoint): any origin, since neither bearer
// tokens nor client credentials are ambient (no cookies are allowed); the
// given methods and exposed headers; the requested headers echoed when they
// are plain tokens (2026-07-28 clients send Mcp-Param-* headers named by
// tools); preflights end here with 204.
func CORS(methods, expose string) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", allowHeaders(c.Request))
		h.Set("Access-Control-Expose-Headers", expose)
		h.Set("Access-Control-Max-Age", "86400")
		// The allowed headers depend on the preflight's request: a shared
		// cache must not answer one preflight with another's list.
		h.Add("Vary", "Access-Control-Request-Headers")
		if c.Request.Method == http.MethodOptions {
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}

const defaultAllowHeaders = "Authorization, DPoP, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-ID"

// allowHeaders echoes a preflight's requested headers when they are plain
// tokens, else the default list.
func allowHeaders(r *http.Request) string {
	req := r.Header.Get("Access-Control-Request-Headers")
	if req == "" || len(req) > 2048 {
		return defaultAllowHeaders
	}
	for _, part := range strings.Split(req, ",") {
		p := strings.TrimSpace(part)
		if p == "" {
			continue
		}
		for i := 0; i < len(p); i++ {
			ch := p[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
				return defaultAllowHeaders
			}
		}
	}
	return defaultAllowHeaders + ", " + req
}
