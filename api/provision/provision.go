// Package provision is the REST provisioning API under /api/v1 (DESIGN §9).
package provision

import (
	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// Register mounts /api/v1.
func Register(r *gin.Engine, d *httpx.Deps) {}
