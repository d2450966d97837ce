package provision

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
)

// principal is who is calling: the platform admin, or one tenant's API key.
type principal struct {
	admin    bool
	tenantID string // API key's tenant
	keyID    string
}

func (p principal) actor() string {
	if p.admin {
		return "admin"
	}
	return "api_key:" + p.keyID
}

const (
	ctxPrincipal = "provision.principal"
	ctxTenant    = "provision.tenant"
)

func who(c *gin.Context) principal {
	p, _ := c.Get(ctxPrincipal)
	pr, _ := p.(principal)
	return pr
}

func tenantOf(c *gin.Context) *tenants.Tenant {
	t, _ := c.Get(ctxTenant)
	tt, _ := t.(*tenants.Tenant)
	return tt
}

// touchEvery bounds how often a key's last_used_at is written.
const touchEvery = time.Minute

// authenticate accepts `Authorization: Bearer <admin token | tenant API key>`
// (RFC 6750 §2.1). The admin token is compared by SHA-256 in constant time;
// an API key is looked up by its hash.
func (h *handler) authenticate(c *gin.Context) {
	authz := c.GetHeader("Authorization")
	if authz == "" {
		c.Header("WWW-Authenticate", `Bearer realm="gatehouse-api"`)
		problem(c, http.StatusUnauthorized, probUnauthorized, "send the admin token or a tenant API key as Authorization: Bearer <token>", nil)
		return
	}
	scheme, token, _ := strings.Cut(authz, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 512 {
		c.Header("WWW-Authenticate", `Bearer realm="gatehouse-api", error="invalid_request"`)
		problem(c, http.StatusUnauthorized, probUnauthorized, "the Authorization header must be Bearer <token>", nil)
		return
	}
	hash := tenants.HashSecret(token)
	var p principal
	if h.d.AdminTokenHash != "" && subtle.ConstantTimeCompare([]byte(hash), []byte(strings.ToLower(h.d.AdminTokenHash))) == 1 {
		p = principal{admin: true}
	} else {
		k, err := h.d.Store.GetAPIKeyByHash(c.Request.Context(), hash)
		if errors.Is(err, tenants.ErrNotFound) {
			c.Header("WWW-Authenticate", `Bearer realm="gatehouse-api", error="invalid_token"`)
			problem(c, http.StatusUnauthorized, probUnauthorized, "the token is not a valid admin token or API key", nil)
			return
		}
		if err != nil {
			h.fail(c, err, "")
			return
		}
		now := time.Now().UTC()
		if !k.Usable(now) {
			c.Header("WWW-Authenticate", `Bearer realm="gatehouse-api", error="invalid_token"`)
			problem(c, http.StatusUnauthorized, probUnauthorized, "this API key expired at "+k.ExpiresAt.Format(time.RFC3339)+"; create a new one", nil)
			return
		}
		// A read-only key reads (GET, HEAD); anything else is refused.
		if k.ReadOnly && c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
			problem(c, http.StatusForbidden, probForbidden, "this API key is read-only", nil)
			return
		}
		p = principal{tenantID: k.TenantID, keyID: k.ID}
		if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > touchEvery {
			if err := h.d.Store.TouchAPIKey(c.Request.Context(), k.TenantID, k.ID, now); err != nil {
				h.d.Logger.Warn("touch API key", "err", err, "api_key_id", k.ID)
			}
		}
	}
	c.Set(ctxPrincipal, p)
	ri := tenants.RequestInfoFrom(c.Request.Context())
	ri.Actor = p.actor()
	c.Request = c.Request.WithContext(tenants.WithRequestInfo(c.Request.Context(), ri))
	c.Next()
}

// adminOnly refuses tenant API keys (listing, creating and deleting tenants
// are platform operations).
func (h *handler) adminOnly(c *gin.Context) {
	if !who(c).admin {
		problem(c, http.StatusForbidden, probForbidden, "this operation needs the platform admin token; a tenant API key cannot do it", nil)
		return
	}
	c.Next()
}

// tenantScope loads the :slug tenant fresh from the store (the API must
// read its own writes on every replica) and checks the caller may see it.
// A missing slug and another tenant's slug get the same 404, so an API key
// cannot tell which slugs exist.
func (h *handler) tenantScope(c *gin.Context) {
	slug := c.Param("slug")
	t, err := h.d.Store.GetTenantBySlug(c.Request.Context(), slug)
	if errors.Is(err, tenants.ErrNotFound) || (err == nil && !who(c).admin && t.ID != who(c).tenantID) {
		notFound(c, "tenant "+slug)
		return
	}
	if err != nil {
		h.fail(c, err, "")
		return
	}
	// A suspended team's own keys stop with its connector; the operator's
	// admin token still reads and changes it (to resume or delete it).
	if t.Suspended() && !who(c).admin {
		problem(c, http.StatusForbidden, probSuspended, "the team "+t.Slug+" is suspended by the platform operator, so its API keys are refused until it is resumed; contact the operator", nil)
		return
	}
	c.Set(ctxTenant, t)
	// Handlers shared with other packages (the doctor) read the site here.
	c.Request = c.Request.WithContext(httpx.WithSite(c.Request.Context(), h.d.Sites.Path(t)))
	c.Next()
}
