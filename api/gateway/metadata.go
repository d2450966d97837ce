package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
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
		// RFC 9449 §5.1, §7; tenant setting dpop_required.
		DPOPSigningAlgValuesSupported: tenants.AlgNames(),
		DPOPBoundAccessTokensRequired: t.Settings.DPoPRequired,
	})
}

// prmCORS allows any origin to read the metadata (browser-based clients
// discover from a page) and ends preflights.
func prmCORS() gin.HandlerFunc { return httpx.CORS("GET, HEAD, OPTIONS", "WWW-Authenticate") }

// mcpCORS is CORS for the MCP endpoint: the transport headers both ways,
// preflights answered before authentication.
func mcpCORS() gin.HandlerFunc {
	return httpx.CORS("GET, POST, DELETE, OPTIONS", "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version")
}
