package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// Root-level /authorize, /token and /register in path mode (docs/RULES.md §10,
// claude-ai-mcp #716): a client that lost the path-based metadata calls the
// host root; the tenant is found from resource, else from the client id
// when exactly one tenant holds it.

// An error is a store failure (tenants.ErrUnavailable), answered 503: an
// outage must not tell a client its id is unknown (it would re-register).
func (h *handler) rootSite(ctx context.Context, resource, clientID string) (tenants.Site, bool, error) {
	if resource != "" {
		base := strings.TrimRight(h.d.PublicURL, "/") + "/t/"
		if rest, ok := strings.CutPrefix(resource, base); ok {
			slug, tail, _ := strings.Cut(rest, "/")
			if tail == "mcp" || tail == "mcp/" {
				t, err := h.d.Sites.BySlug(ctx, slug)
				if errors.Is(err, tenants.ErrUnavailable) {
					return tenants.Site{}, false, err
				}
				if err == nil {
					site := h.d.Sites.Path(t)
					if site.MatchesResource(resource) {
						return site, true, nil
					}
				}
			}
		}
		return tenants.Site{}, false, nil
	}
	if clientID == "" {
		return tenants.Site{}, false, nil
	}
	ids, err := h.d.Store.FindClientTenants(ctx, clientID)
	if err != nil {
		return tenants.Site{}, false, httpx.Unavailable(err)
	}
	if len(ids) != 1 {
		return tenants.Site{}, false, nil
	}
	t, err := h.d.Store.GetTenant(ctx, ids[0])
	if errors.Is(err, tenants.ErrNotFound) {
		return tenants.Site{}, false, nil
	}
	if err != nil {
		return tenants.Site{}, false, httpx.Unavailable(err)
	}
	return h.d.Sites.Path(t), true, nil
}

func withSite(c *gin.Context, site tenants.Site) {
	c.Request = c.Request.WithContext(httpx.WithSite(c.Request.Context(), site))
}

// rootAuthorize sends the browser to the tenant's own authorization
// endpoint with the same parameters (the flow, its cookie and its issuer
// then live under the tenant).
func (h *handler) rootAuthorize(c *gin.Context) {
	form, e := readForm(c, false)
	if e != nil {
		h.errorPage(c, 0, e)
		return
	}
	site, ok, err := h.rootSite(c.Request.Context(), form.Get("resource"), form.Get("client_id"))
	if err != nil {
		h.errorPage(c, 0, as.AsError(err))
		return
	}
	if !ok {
		h.errorPage(c, http.StatusNotFound, &as.Error{Code: as.ErrInvalidRequest,
			Description: "This server hosts many connectors; use the authorization endpoint from the connector's metadata (or send the resource parameter)."})
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, site.Endpoint("authorize")+"?"+form.Encode())
}

func (h *handler) rootToken(c *gin.Context) {
	form, e := readForm(c, true)
	if e != nil {
		h.jsonError(c, e)
		return
	}
	cred, _ := clientCredentials(c, form)
	h.atRootSite(c, form.Get("resource"), cred.ClientID, h.token,
		&as.Error{Code: as.ErrInvalidClient, Description: "unknown client; use the token endpoint from the connector's metadata", Status: http.StatusUnauthorized})
}

func (h *handler) rootRegister(c *gin.Context) {
	h.atRootSite(c, c.Query("resource"), "", h.register,
		&as.Error{Code: as.ErrInvalidRequest, Description: "this server hosts many connectors; use the registration endpoint from the connector's metadata", Status: http.StatusNotFound})
}

// atRootSite serves a root-level request with next at the tenant its
// resource or client id names (docs/RULES.md §10), or answers notFound.
func (h *handler) atRootSite(c *gin.Context, resource, clientID string, next gin.HandlerFunc, notFound *as.Error) {
	site, ok, err := h.rootSite(c.Request.Context(), resource, clientID)
	switch {
	case err != nil:
		h.jsonError(c, as.AsError(err))
	case !ok:
		h.jsonError(c, notFound)
	default:
		withSite(c, site)
		next(c)
	}
}
