package oauth

import (
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// assertionCredentials reads private_key_jwt client authentication (RFC
// 7523 §2.2): client_assertion_type jwt-bearer and one client_assertion,
// never together with a secret or Basic authorization; client_id optional.
func assertionCredentials(c *gin.Context, form url.Values) (as.ClientCredentials, *as.Error) {
	if rep := repeated(form, "client_assertion", "client_assertion_type"); len(rep) > 0 {
		return as.ClientCredentials{}, &as.Error{Code: as.ErrInvalidRequest, Description: "parameter " + rep[0] + " was sent more than once"}
	}
	if form.Get("client_assertion_type") != as.AssertionTypeJWTBearer {
		return as.ClientCredentials{}, &as.Error{Code: as.ErrInvalidRequest, Description: "client_assertion_type must be " + as.AssertionTypeJWTBearer}
	}
	if form.Get("client_assertion") == "" {
		return as.ClientCredentials{}, &as.Error{Code: as.ErrInvalidRequest, Description: "client_assertion is required with client_assertion_type"}
	}
	authz := c.GetHeader("Authorization")
	if form.Get("client_secret") != "" || (len(authz) > 6 && strings.EqualFold(authz[:6], "basic ")) {
		return as.ClientCredentials{}, &as.Error{Code: as.ErrInvalidRequest, Description: "use exactly one client authentication method"}
	}
	return as.ClientCredentials{ClientID: form.Get("client_id"), Assertion: form.Get("client_assertion"), Method: as.AuthPrivateKeyJWT}, nil
}
