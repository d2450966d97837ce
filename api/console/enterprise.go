package console

import (
	"fmt"
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
	u.show(c, u.enterpriseView, "console_enterprise", u.takeNotice)
}

// enterpriseCreate trusts an IdP through Provisioner.CreateEnterpriseIdP
// (the same call as the API).
func (u *ui) enterpriseCreate(c *gin.Context) {
	t := tenantOf(c)
	in := tenants.EnterpriseIdPInput{Issuer: strings.TrimSpace(c.PostForm("issuer")), JWKSURI: strings.TrimSpace(c.PostForm("jwks_uri")),
		AllowedClients: splitList(c.PostForm("allowed_clients")), Scopes: splitList(c.PostForm("scopes"))}
	_, err := u.prov.CreateEnterpriseIdP(c.Request.Context(), t, in)
	if err != nil {
		fe, ok := formErrors(err, "issuer", "is already trusted by this tenant")
		if !ok {
			u.fail(c, err)
			return
		}
		u.refuse(c, u.enterpriseView, "console_enterprise", enterpriseFields, fe, "The IdP was not added; fix the fields marked below.")
		return
	}
	u.backWith(c, "/enterprise", "The enterprise IdP is trusted; its ID-JAGs can now be redeemed by the allowed clients.")
}

func (u *ui) enterpriseDelete(c *gin.Context) {
	n, err := u.prov.DeleteEnterpriseIdP(c.Request.Context(), tenantOf(c), c.Param("id"))
	if u.done(c, err, "No such enterprise IdP.") {
		u.backWith(c, "/enterprise", fmt.Sprintf("The enterprise IdP is no longer trusted; %d grants of its users were revoked.", n))
	}
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
