// Package oauth serves each tenant's OAuth 2.1 authorization server
// (DESIGN §4–§5): metadata, authorize, token, registration, revocation,
// introspection, userinfo, JWKS and the upstream IdP callback.
package oauth

import (
	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// Register mounts the authorization server routes for every tenant.
func Register(r *gin.Engine, d *httpx.Deps) {}
