package provision

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

// idpBody is the IdP as the API takes it (PUT …/idp, and idp in POST /tenants).
type idpBody struct {
	Type           string   `json:"type"`
	ClientID       string   `json:"client_id"`
	ClientSecret   string   `json:"client_secret"`
	IssuerURL      string   `json:"issuer_url"`
	Scopes         []string `json:"scopes"`
	AllowedDomains []string `json:"allowed_domains"`
	AllowedOrgs    []string `json:"allowed_orgs"`
	AutoLogin      string   `json:"auto_login"`
}

func (b *idpBody) input() *tenants.IdPInput {
	if b == nil {
		return nil
	}
	return &tenants.IdPInput{Type: b.Type, ClientID: b.ClientID, ClientSecret: b.ClientSecret, IssuerURL: b.IssuerURL,
		Scopes: b.Scopes, AllowedDomains: b.AllowedDomains, AllowedOrgs: b.AllowedOrgs, AutoLogin: b.AutoLogin}
}

// createTenantBody keeps the nested objects raw so that their problems are
// reported with the full field path (settings.x, idp.x).
type createTenantBody struct {
	Slug           string          `json:"slug"`
	Name           string          `json:"name"`
	UpstreamMCPURL string          `json:"upstream_mcp_url"`
	CustomDomain   *string         `json:"custom_domain"`
	IdP            json.RawMessage `json:"idp"`
	Settings       json.RawMessage `json:"settings"`
}

func tenantPath(slug string) string { return "/api/v1/tenants/" + url.PathEscape(slug) }

func (h *handler) createTenant(c *gin.Context) {
	var b createTenantBody
	if !h.bind(c, &b, bodyOpts{}) {
		return
	}
	var idp *idpBody
	var settings *tenants.Settings
	if len(b.IdP) > 0 {
		if err := tenants.DecodeStrict(b.IdP, &idp, "idp."); err != nil {
			h.fail(c, err, "")
			return
		}
	}
	if len(b.Settings) > 0 {
		if err := tenants.DecodeStrict(b.Settings, &settings, "settings."); err != nil {
			h.fail(c, err, "")
			return
		}
	}
	ctx := c.Request.Context()
	t, err := h.provisioner().CreateTenant(ctx, tenants.TenantInput{Slug: b.Slug, Name: b.Name, UpstreamMCPURL: b.UpstreamMCPURL,
		CustomDomain: b.CustomDomain, IdP: idp.input(), Settings: settings})
	if errors.Is(err, tenants.ErrConflict) {
		// Only the slug is unique at creation: a custom domain is stored
		// unverified, and unverified claims never collide, so the answer
		// says nothing about other tenants' domains (docs/SECURITY.md §12).
		problem(c, http.StatusConflict, probConflict, "slug is already taken", []tenants.FieldError{{Field: "slug", Detail: "is already taken"}})
		return
	}
	if err != nil {
		h.fail(c, err, "")
		return
	}
	h.changed(ctx, t.ID)
	c.Header("Location", tenantPath(t.Slug))
	c.JSON(http.StatusCreated, h.view(t))
}

func (h *handler) listTenants(c *gin.Context) {
	q, ok := query(c, "limit", "cursor")
	if !ok {
		return
	}
	p, ok := page(c, q)
	if !ok || !h.openCursor(c, "tenants", &p) {
		return
	}
	items, next, err := h.d.Store.ListTenants(c.Request.Context(), p)
	if err != nil {
		h.fail(c, err, "")
		return
	}
	views := make([]tenants.TenantView, 0, len(items))
	for i := range items {
		views = append(views, h.view(&items[i]))
	}
	writeList(c, views, h.sealCursor("tenants", next))
}

func (h *handler) getTenant(c *gin.Context) {
	if _, ok := query(c); !ok {
		return
	}
	c.JSON(http.StatusOK, h.view(tenantOf(c)))
}

// patchTenant applies a JSON merge patch (RFC 7396).
func (h *handler) patchTenant(c *gin.Context) {
	data, ok := readBody(c, bodyOpts{mergePatch: true})
	if !ok {
		return
	}
	ctx := c.Request.Context()
	t, _, err := h.provisioner().PatchTenant(ctx, tenantOf(c), data, tenants.PatchOptions{Admin: who(c).admin})
	if errors.Is(err, tenants.ErrConflict) {
		// Only a verified domain is unique, and only the platform admin
		// verifies: a tenant's own claim never meets this (§12).
		problem(c, http.StatusConflict, probConflict, "custom_domain is already verified for another tenant",
			[]tenants.FieldError{{Field: "custom_domain", Detail: "is already verified for another tenant"}})
		return
	}
	if err != nil {
		h.fail(c, err, "tenant "+c.Param("slug"))
		return
	}
	h.changed(ctx, t.ID)
	c.JSON(http.StatusOK, h.view(t))
}

// deleteTenant removes the tenant and everything it holds: clients, grants,
// tokens, keys, API keys and audit log.
func (h *handler) deleteTenant(c *gin.Context) {
	t := tenantOf(c)
	ctx := c.Request.Context()
	if err := h.provisioner().DeleteTenant(ctx, t); err != nil {
		h.fail(c, err, "tenant "+t.Slug)
		return
	}
	if h.d.Keys != nil {
		h.d.Keys.Invalidate(t.ID)
	}
	h.changed(ctx, t.ID)
	c.Status(http.StatusNoContent)
}

// idpView never carries the client secret, only whether one is stored.
type idpView struct {
	Type            string    `json:"type"`
	ClientID        string    `json:"client_id,omitempty"`
	ClientSecretSet bool      `json:"client_secret_set"`
	IssuerURL       string    `json:"issuer_url,omitempty"`
	Scopes          []string  `json:"scopes"`
	AllowedDomains  []string  `json:"allowed_domains"`
	AllowedOrgs     []string  `json:"allowed_orgs"`
	AutoLogin       string    `json:"auto_login,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

func viewIdP(cfg *tenants.IdPConfig) idpView {
	nz := func(s tenants.Strings) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return idpView{Type: cfg.Type, ClientID: cfg.ClientID, ClientSecretSet: cfg.ClientSecretSealed != "", IssuerURL: cfg.IssuerURL,
		Scopes: nz(cfg.Scopes), AllowedDomains: nz(cfg.AllowedDomains), AllowedOrgs: nz(cfg.AllowedOrgs), AutoLogin: cfg.AutoLogin,
		CreatedAt: cfg.CreatedAt, UpdatedAt: cfg.UpdatedAt}
}

// putIdP replaces the tenant's IdP; an omitted client_secret keeps the stored one.
func (h *handler) putIdP(c *gin.Context) {
	var b idpBody
	if !h.bind(c, &b, bodyOpts{}) {
		return
	}
	t := tenantOf(c)
	ctx := c.Request.Context()
	cfg, err := h.provisioner().PutIdP(ctx, t, *b.input(), true)
	if err != nil {
		h.fail(c, err, "tenant "+t.Slug)
		return
	}
	h.changed(ctx, t.ID)
	// Read back for the stored timestamps.
	if stored, err := h.d.Store.GetIdP(ctx, t.ID, cfg.Type); err == nil {
		cfg = stored
	}
	c.JSON(http.StatusOK, viewIdP(cfg))
}

func (h *handler) getIdP(c *gin.Context) {
	t := tenantOf(c)
	cfgs, err := h.d.Store.ListIdPs(c.Request.Context(), t.ID)
	if err != nil {
		h.fail(c, err, "")
		return
	}
	if len(cfgs) == 0 {
		notFound(c, "an IdP of tenant "+t.Slug)
		return
	}
	c.JSON(http.StatusOK, viewIdP(&cfgs[0]))
}
