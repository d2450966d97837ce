package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

type clientsData struct {
	Clients []tenants.Client
	Next    string
	Cursor  string
}

func (u *ui) clientsView(c *gin.Context) (*view, error) {
	t := tenantOf(c)
	cursor := c.Query("cursor")
	items, next, err := u.d.Store.ListClients(c.Request.Context(), t.ID, tenants.Page{Limit: 50, Cursor: cursor})
	v := u.page(c, "Clients — "+t.Name, "clients")
	if errors.Is(err, tenants.ErrBadCursor) {
		v.Notice = "That page link is no longer valid; showing the first page."
		cursor = ""
		items, next, err = u.d.Store.ListClients(c.Request.Context(), t.ID, tenants.Page{Limit: 50})
	}
	if err != nil {
		return nil, err
	}
	v.Data = clientsData{Clients: items, Next: next, Cursor: cursor}
	v.Form["token_endpoint_auth_method"] = tenants.AuthClientSecretBasic
	return v, nil
}

func (u *ui) clientsPage(c *gin.Context) {
	v, err := u.clientsView(c)
	if err != nil {
		u.fail(c, err)
		return
	}
	v.Flash = u.takeFlash(c, sessionOf(c).ID, "/console")
	u.render(c, http.StatusOK, "console_clients", v)
}

var clientFields = []string{"client_id", "client_name", "redirect_uris", "token_endpoint_auth_method", "application_type", "scope", "skip_consent", "client_credentials", "jwks"}

// clientCreate pre-registers a client; a confidential client's secret is
// shown once on the next page.
func (u *ui) clientCreate(c *gin.Context) {
	t := tenantOf(c)
	in := tenants.PreregisteredClientInput{ClientID: strings.TrimSpace(c.PostForm("client_id")), ClientName: strings.TrimSpace(c.PostForm("client_name")),
		RedirectURIs: splitList(c.PostForm("redirect_uris")), TokenEndpointAuthMethod: c.PostForm("token_endpoint_auth_method"),
		ApplicationType: c.PostForm("application_type"), Scope: strings.TrimSpace(c.PostForm("scope")), SkipConsent: c.PostForm("skip_consent") == "on"}
	in.JWKS, in.JWKSURI = clientKeys(c.PostForm("jwks"))
	if c.PostForm("client_credentials") == "on" {
		in.GrantTypes = []string{tenants.GrantAuthorizationCode, tenants.GrantRefreshToken, tenants.GrantClientCredentials}
		if len(in.RedirectURIs) == 0 {
			in.GrantTypes = []string{tenants.GrantClientCredentials}
		}
	}
	secret, cl, err := u.prov.CreatePreregisteredClient(c.Request.Context(), t, in)
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok && errors.Is(err, tenants.ErrConflict) {
			fe, ok = map[string][]string{"client_id": {"is already taken"}}, true
		}
		if !ok {
			u.fail(c, err)
			return
		}
		v, verr := u.clientsView(c)
		if verr != nil {
			u.fail(c, verr)
			return
		}
		for _, f := range clientFields {
			v.Form[f] = c.PostForm(f)
		}
		v.Errors = fe
		v.Notice = "The client was not created; fix the fields marked below."
		u.render(c, http.StatusUnprocessableEntity, "console_clients", v)
		return
	}
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).ID, Kind: "client", Values: map[string]string{"client_id": cl.ID, "client_secret": secret, "client_name": cl.Name}}, "/console")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/clients"))
}

func (u *ui) clientDelete(c *gin.Context) {
	t := tenantOf(c)
	id := c.PostForm("client_id")
	if err := u.prov.DeleteClient(c.Request.Context(), t, id); err != nil {
		if errors.Is(err, tenants.ErrNotFound) {
			u.errorPage(c, http.StatusNotFound, "No such client.")
			return
		}
		u.fail(c, err)
		return
	}
	u.notice(c, "Client deleted; its grants were revoked.")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/clients"))
}
