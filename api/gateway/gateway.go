// Package gateway serves each tenant's MCP connector URL (DESIGN §6):
// protected resource metadata, bearer checks, and the streaming reverse proxy
// to the tenant's upstream MCP server.
package gateway

import (
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// Register mounts the MCP endpoint and protected resource metadata.
func Register(r *gin.Engine, d *httpx.Deps, reg prometheus.Registerer) {}
