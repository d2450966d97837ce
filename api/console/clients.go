package console

import (
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
	v := u.page(c, "Clients — "+t.Name, "clients")
	items, next, cursor, err := listPage(c, v, "first page", func(p tenants.Page) ([]tenants.Client, string, error) {
		return u.d.Store.ListClients(c.Request.Context(), t.ID, p)
	})
	if err != nil {
		return nil, err
	}
	v.Data = clientsData{Clients: items, Next: next, Cursor: cursor}
	v.Form["token_endpoint_auth_method"] = tenants.AuthClientSecretBasic
	return v, nil
}

func (u *ui) clientsPage(c *gin.Context) { u.show(c, u.clientsView, "console_clients", u.teamFlash) }

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
		fe, ok := formErrors(err, "client_id", "is already taken")
		if !ok {
			u.fail(c, err)
			return
		}
		u.refuse(c, u.clientsView, "console_clients", clientFields, fe, "The client was not created; fix the fields marked below.")
		return
	}
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).ID, Kind: "client", Values: map[string]string{"client_id": cl.ID, "client_secret": secret, "client_name": cl.Name}}, "/console")
	c.Redirect(http.StatusSeeOther, u.tenantURL(t, "/clients"))
}

func (u *ui) clientDelete(c *gin.Context) {
	if u.done(c, u.prov.DeleteClient(c.Request.Context(), tenantOf(c), c.PostForm("client_id")), "No such client.") {
		u.backWith(c, "/clients", "Client deleted; its grants were revoked.")
	}
}
