package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

// ---- enterprise IdPs (DESIGN §11, docs/ENTERPRISE.md) ----

type enterpriseData struct {
	IdPs []enterpriseRow
	// Targets are what an enterprise registers at its IdP, per URL mode.
	Targets []tenants.IDJAGTarget
}

type enterpriseRow struct {
	tenants.EnterpriseIdP
	Clients string
	Scopes  string
}

var enterpriseFields = []string{"issuer", "jwks_uri", "allowed_clients", "scopes"}

func (u *ui) enterpriseView(c *gin.Context) (*view, error) {
	t := tenantOf(c)
	items, err := u.d.Store.ListEnterpriseIdPs(c.Request.Context(), t.ID)
	if err != nil {
		return nil, err
	}
	v := u.page(c, "Enterprise IdPs — "+t.Name, "enterprise")
	sites := []tenants.Site{u.d.Sites.Path(t)}
	if hs, ok := u.d.Sites.Host(t); ok {
		sites = append(sites, hs)
	}
	d := enterpriseData{Targets: tenants.IDJAGTargets(sites...)}
	for _, e := range items {
		d.IdPs = append(d.IdPs, enterpriseRow{EnterpriseIdP: e, Clients: strings.Join(e.AllowedClients, ", "), Scopes: strings.Join(e.MaxScopes(t.Settings), " ")})
	}
	v.Data = d
	return v, nil
}

func (u *ui) enterprisePage(c *gin.Context) {
	v, err := u.enterpriseView(c)
	if err != nil {
		u.fail(c, err)
		return
	}
	v.Flash = u.takeNotice(c)
	u.render(c, http.StatusOK, "console_enterprise", v)
}

// enterpriseCreate trusts an IdP through Provisioner.CreateEnterpriseIdP
// (the same call as the API).
func (u *ui) enterpriseCreate(c *gin.Context) {
	t := tenantOf(c)
	in := tenants.EnterpriseIdPInput{Issuer: strings.TrimSpace(c.PostForm("issuer")), JWKSURI: strings.TrimSpace(c.PostForm("jwks_uri")),
		AllowedClients: splitList(c.PostForm("allowed_clients")), Scopes: splitList(c.PostForm("scopes"))}
	_, err := u.prov.CreateEnterpriseIdP(c.Request.Context(), t, in)
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok && errors.Is(err, tenants.ErrConflict) {
			fe, ok = map[string][]string{"issuer": {"is already trusted by this tenant"}}, true
		}
		if !ok {
			u.fail(c, err)
			return
		}
		v, verr := u.enterpriseView(c)
		if verr != nil {
			u.fail(c, verr)
			return
		}
		for _, f := range enterpriseFields {
			v.Form[f] = c.PostForm(f)
		}
		v.Errors = fe
		v.Notice = "The IdP was not added; fix the fields marked below."
		u.render(c, http.StatusUnprocessableEntity, "console_enterprise", v)
		return
	}
	u.notice(c, "The enterprise IdP is trusted; its ID-JAGs can now be redeemed by the allowed clients.")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/enterprise"))
}

func (u *ui) enterpriseDelete(c *gin.Context) {
	t := tenantOf(c)
	n, err := u.prov.DeleteEnterpriseIdP(c.Request.Context(), t, c.Param("id"))
	if errors.Is(err, tenants.ErrNotFound) {
		u.errorPage(c, http.StatusNotFound, "No such enterprise IdP.")
		return
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	u.notice(c, fmt.Sprintf("The enterprise IdP is no longer trusted; %d grants of its users were revoked.", n))
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/enterprise"))
}

// clientKeys reads the client form's key field: a JWK set (JSON) or the
// https URL of one (private_key_jwt, RFC 7523 §2.2).
func clientKeys(raw string) (jwks []byte, uri string) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return nil, ""
	case strings.HasPrefix(raw, "{"):
		return []byte(raw), ""
	}
	return nil, raw
}
