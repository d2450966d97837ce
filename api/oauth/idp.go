package oauth

import (
	"github.com/gatehouse/gatehouse/tenants/idp"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// providerFactory builds upstream IdPs (GitHub, Google, OIDC). Tests swap it
// through export_test.go to point GitHub at an httptest server.
var providerFactory as.ProviderFactory = idp.New
