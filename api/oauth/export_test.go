package oauth

import as "github.com/gatehouse/gatehouse/tenants/oauth"

// SetProviderFactory replaces the upstream IdP factory for servers
// registered afterwards; the returned func restores it.
func SetProviderFactory(f as.ProviderFactory) func() {
	old := providerFactory
	providerFactory = f
	return func() { providerFactory = old }
}
