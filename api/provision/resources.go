package provision

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/tenants"
)

// ---- clients ----

type clientBody struct {
	ClientID                string          `json:"client_id"`
	ClientName              string          `json:"client_name"`
	RedirectURIs            []string        `json:"redirect_uris"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	GrantTypes              []string        `json:"grant_types"`
	ApplicationType         string          `json:"application_type"`
	Scope                   string          `json:"scope"`
	SkipConsent             bool            `json:"skip_consent"`
	JWKS                    json.RawMessage `json:"jwks"`
	JWKSURI                 string          `json:"jwks_uri"`
}

// createdClient is the client plus its secret, shown this once.
type createdClient struct {
	*tenants.Client
	ClientSecret string `json:"client_secret,omitempty"`
}

func (h *handler) listClients(c *gin.Context) {
	listOfTenant(h, c, "clients", h.d.Store.ListClients)
}

func (h *handler) createClient(c *gin.Context) {
	var b clientBody
	if !h.bind(c, &b, bodyOpts{}) {
		return
	}
	t := tenantOf(c)
	secret, cl, err := h.provisioner().CreatePreregisteredClient(c.Request.Context(), t, tenants.PreregisteredClientInput{
		ClientID: b.ClientID, ClientName: b.ClientName, RedirectURIs: b.RedirectURIs, TokenEndpointAuthMethod: b.TokenEndpointAuthMethod,
		GrantTypes: b.GrantTypes, ApplicationType: b.ApplicationType, Scope: b.Scope, SkipConsent: b.SkipConsent,
		JWKS: b.JWKS, JWKSURI: b.JWKSURI})
	if errors.Is(err, tenants.ErrConflict) {
		problem(c, http.StatusConflict, probConflict, "client_id is already registered with this tenant",
			[]tenants.FieldError{{Field: "client_id", Detail: "is already registered with this tenant"}})
		return
	}
	if err != nil {
		h.fail(c, err, "")
		return
	}
	c.Header("Location", tenantPath(t.Slug)+"/clients/"+url.PathEscape(cl.ID))
	c.JSON(http.StatusCreated, createdClient{Client: cl, ClientSecret: secret})
}

// deleteClient takes the id from a catch-all, so URL-shaped (CIMD) ids work
// whether sent raw or percent-encoded.
func (h *handler) deleteClient(c *gin.Context) {
	t := tenantOf(c)
	id := strings.TrimPrefix(c.Param("client_id"), "/")
	if id == "" {
		notFound(c, "client")
		return
	}
	if err := h.provisioner().DeleteClient(c.Request.Context(), t, id); err != nil {
		h.fail(c, err, "client "+id)
		return
	}
	c.Status(http.StatusNoContent)
}

// ---- grants ----

func (h *handler) listGrants(c *gin.Context) {
	listOfTenant(h, c, "grants", h.d.Store.ListGrants)
}

// revokeGrant revokes a grant everywhere: its refresh tokens and codes go,
// and every replica drops its access tokens (the bus carries the notice).
func (h *handler) revokeGrant(c *gin.Context) {
	t := tenantOf(c)
	id := c.Param("id")
	if err := tenants.RevokeGrant(c.Request.Context(), h.d.Store, h.d.Bus, h.d.Auditor, t.ID, id, tenants.RevokedByAdmin); err != nil {
		h.fail(c, err, "grant "+id)
		return
	}
	c.Status(http.StatusNoContent)
}

// ---- users ----

func (h *handler) listUsers(c *gin.Context) {
	listOfTenant(h, c, "users", h.d.Store.ListUsers)
}

// revokeUser ends all of a user's access (docs/SECURITY.md §11): every live
// grant is revoked at every replica and the user's consents are forgotten.
func (h *handler) revokeUser(c *gin.Context) {
	t := tenantOf(c)
	id := c.Param("id")
	n, err := h.provisioner().RevokeUser(c.Request.Context(), t, id)
	if err != nil {
		h.fail(c, err, "user "+id)
		return
	}
	c.JSON(http.StatusOK, gin.H{"user_id": id, "revoked_grants": n})
}

// ---- audit and webhook deliveries ----

func (h *handler) listAudit(c *gin.Context) {
	t := tenantOf(c)
	q, ok := query(c, "action", "client_id", "subject", "after", "before", "limit", "cursor")
	if !ok {
		return
	}
	f := tenants.AuditFilter{Action: q["action"], ClientID: q["client_id"], Subject: q["subject"]}
	var errs []tenants.FieldError
	for _, name := range []string{"after", "before"} {
		s, ok := q[name]
		if !ok {
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, tenants.FieldError{Field: name, Detail: "must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z"})
			continue
		}
		if name == "after" {
			f.After = tm
		} else {
			f.Before = tm
		}
	}
	if len(errs) > 0 {
		problem(c, http.StatusBadRequest, probBadQuery, "the query string has invalid parameters", errs)
		return
	}
	if !f.After.IsZero() && !f.Before.IsZero() && !f.After.Before(f.Before) {
		problem(c, http.StatusBadRequest, probBadQuery, "after must be earlier than before",
			[]tenants.FieldError{{Field: "after", Detail: "must be earlier than before"}})
		return
	}
	p, ok := page(c, q)
	if !ok {
		return
	}
	// The cursor is bound to the filter: paging with another filter would skip rows.
	scope := "audit:" + t.ID + "\x00" + f.Action + "\x00" + f.ClientID + "\x00" + f.Subject + "\x00" + q["after"] + "\x00" + q["before"]
	if !h.openCursor(c, scope, &p) {
		return
	}
	f.Page = p
	items, next, err := h.d.Store.ListAuditEvents(c.Request.Context(), t.ID, f)
	if err != nil {
		h.fail(c, err, "")
		return
	}
	writeList(c, items, h.sealCursor(scope, next))
}

func (h *handler) listWebhookDeliveries(c *gin.Context) {
	listOfTenant(h, c, "deliveries", h.d.Store.ListWebhookDeliveries)
}

// pageOf reads ?limit&cursor (and nothing else) for a list scoped by scope.
func (h *handler) pageOf(c *gin.Context, scope string) (tenants.Page, bool) {
	q, ok := query(c, "limit", "cursor")
	if !ok {
		return tenants.Page{}, false
	}
	p, ok := page(c, q)
	if !ok || !h.openCursor(c, scope, &p) {
		return p, false
	}
	return p, true
}

// ---- signing keys ----

type rotation struct {
	ActiveKID  string             `json:"active_kid"`
	RetiredKID string             `json:"retired_kid,omitempty"`
	NextKID    string             `json:"next_kid,omitempty"`
	JWKS       jose.JSONWebKeySet `json:"jwks"`
}

// rotateKeys promotes the published next key now. The old key stays in the
// JWKS until every token it signed has expired (access TTL plus skew).
func (h *handler) rotateKeys(c *gin.Context) {
	var none struct{}
	if !h.bind(c, &none, bodyOpts{optional: true}) {
		return
	}
	if h.d.Keys == nil {
		problem(c, http.StatusServiceUnavailable, probNotConfigured, "signing keys are not configured on this server", nil)
		return
	}
	t := tenantOf(c)
	ctx := c.Request.Context()
	res, err := h.d.Rotation.RotateNow(ctx, t)
	if err != nil {
		h.fail(c, err, "")
		return
	}
	jwks, err := h.d.Keys.JWKS(ctx, t.ID)
	if err != nil {
		h.fail(c, err, "")
		return
	}
	c.JSON(http.StatusOK, rotation{ActiveKID: res.Promoted, RetiredKID: res.Retired, NextKID: res.Created, JWKS: jwks})
}

// ---- API keys ----

type apiKeyBody struct {
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
	ReadOnly  bool       `json:"read_only"`
}

type createdAPIKey struct {
	*tenants.APIKey
	Key string `json:"key"`
}

func (h *handler) createAPIKey(c *gin.Context) {
	var b apiKeyBody
	if !h.bind(c, &b, bodyOpts{optional: true}) {
		return
	}
	t := tenantOf(c)
	key, k, err := h.provisioner().CreateAPIKey(c.Request.Context(), t, tenants.APIKeyInput{Name: b.Name, ExpiresAt: b.ExpiresAt, ReadOnly: b.ReadOnly})
	if err != nil {
		h.fail(c, err, "")
		return
	}
	c.Header("Location", tenantPath(t.Slug)+"/api-keys/"+k.ID)
	c.JSON(http.StatusCreated, createdAPIKey{APIKey: k, Key: key})
}

func (h *handler) listAPIKeys(c *gin.Context) {
	if items, ok := allOfTenant(h, c, h.d.Store.ListAPIKeys); ok {
		writeList(c, items, "")
	}
}

func (h *handler) deleteAPIKey(c *gin.Context) {
	t := tenantOf(c)
	id := c.Param("id")
	if err := h.provisioner().DeleteAPIKey(c.Request.Context(), t, id); err != nil {
		h.fail(c, err, "API key "+id)
		return
	}
	c.Status(http.StatusNoContent)
}
