package gateway

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// metadata serves the protected resource metadata (RFC 9728 §3.2): resource
// byte-equal to the connector URL the client typed, this site's issuer as
// the authorization server.
func (g *Gateway) metadata(c *gin.Context) {
	site := httpx.Site(c)
	t := site.Tenant
	name := t.Name
	if name == "" {
		name = t.Slug
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, oauthex.ProtectedResourceMetadata{
		Resource:               site.Resource,
		AuthorizationServers:   []string{site.Issuer},
		ScopesSupported:        t.Settings.OfferedScopes(),
		BearerMethodsSupported: []string{"header"},
		ResourceName:           name,
	})
}

// prmCORS allows any origin to read the metadata (browser-based clients
// discover from a page) and ends preflights.
func prmCORS() gin.HandlerFunc { return cors("GET, HEAD, OPTIONS", "WWW-Authenticate") }

// mcpCORS is CORS for the MCP endpoint: any origin (bearer tokens are not
// ambient credentials, so no cookies are allowed), the transport headers
// both ways, preflights answered before authentication.
func mcpCORS() gin.HandlerFunc {
	return cors("GET, POST, DELETE, OPTIONS", "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version")
}

// cors allows any origin with the given methods and exposed headers, echoes
// the requested headers (allowHeaders) and ends preflights with 204.
func cors(methods, expose string) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", allowHeaders(c.Request))
		h.Set("Access-Control-Expose-Headers", expose)
		h.Set("Access-Control-Max-Age", "86400")
		if c.Request.Method == http.MethodOptions {
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}

const defaultAllowHeaders = "Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-ID"

// allowHeaders echoes a preflight's requested headers when they are plain
// tokens (2026-07-28 clients send Mcp-Param-* headers named by tools), else
// the default list.
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
