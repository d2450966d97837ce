package provision

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

// ---- enterprise IdPs (docs/RULES.md §11, docs/ENTERPRISE.md) ----

type enterpriseIdPBody struct {
	Issuer         string   `json:"issuer"`
	JWKSURI        string   `json:"jwks_uri"`
	AllowedClients []string `json:"allowed_clients"`
	Scopes         []string `json:"scopes"`
}

type enterpriseIdPView struct {
	*tenants.EnterpriseIdP
	// Targets lists, per URL mode, the values the enterprise IdP must put
	// in the ID-JAGs it issues for this connector.
	Targets []tenants.IDJAGTarget `json:"targets"`
}

func (h *handler) enterpriseView(t *tenants.Tenant, e *tenants.EnterpriseIdP) enterpriseIdPView {
	sites := []tenants.Site{h.d.Sites.Path(t)}
	if hs, ok := h.d.Sites.Host(t); ok {
		sites = append(sites, hs)
	}
	return enterpriseIdPView{EnterpriseIdP: e, Targets: tenants.IDJAGTargets(sites...)}
}

func enterprisePath(slug, id string) string {
	return tenantPath(slug) + "/enterprise-idps/" + url.PathEscape(id)
}

func (h *handler) createEnterpriseIdP(c *gin.Context) {
	var b enterpriseIdPBody
	if !h.bind(c, &b, bodyOpts{}) {
		return
	}
	t := tenantOf(c)
	e, err := h.provisioner().CreateEnterpriseIdP(c.Request.Context(), t, tenants.EnterpriseIdPInput{
		Issuer: b.Issuer, JWKSURI: b.JWKSURI, AllowedClients: b.AllowedClients, Scopes: b.Scopes})
	if errors.Is(err, tenants.ErrConflict) {
		problem(c, http.StatusConflict, probConflict, "this tenant already trusts that issuer",
			[]tenants.FieldError{{Field: "issuer", Detail: "is already trusted by this tenant"}})
		return
	}
	if err != nil {
		h.fail(c, err, "")
		return
	}
	h.changed(c.Request.Context(), t.ID)
	c.Header("Location", enterprisePath(t.Slug, e.ID))
	c.JSON(http.StatusCreated, h.enterpriseView(t, e))
}

func (h *handler) listEnterpriseIdPs(c *gin.Context) {
	t := tenantOf(c)
	items, ok := allOfTenant(h, c, h.d.Store.ListEnterpriseIdPs)
	if !ok {
		return
	}
	views := make([]enterpriseIdPView, 0, len(items))
	for i := range items {
		views = append(views, h.enterpriseView(t, &items[i]))
	}
	writeList(c, views, "")
}

func (h *handler) getEnterpriseIdP(c *gin.Context) {
	t := tenantOf(c)
	e, err := h.d.Store.GetEnterpriseIdP(c.Request.Context(), t.ID, c.Param("id"))
	if err != nil {
		h.fail(c, err, "enterprise IdP "+c.Param("id"))
		return
	}
	c.JSON(http.StatusOK, h.enterpriseView(t, e))
}

func (h *handler) deleteEnterpriseIdP(c *gin.Context) {
	t := tenantOf(c)
	if _, err := h.provisioner().DeleteEnterpriseIdP(c.Request.Context(), t, c.Param("id")); err != nil {
		h.fail(c, err, "enterprise IdP "+c.Param("id"))
		return
	}
	h.changed(c.Request.Context(), t.ID)
	c.Status(http.StatusNoContent)
}
