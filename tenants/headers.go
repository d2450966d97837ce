package tenants

import "strings"

// IdentityHeaderPrefix starts every header the gateway attaches upstream to
// say who is calling (docs/UPSTREAM.md). It is defined here once: the
// gateway strips it from clients, settings refuse it in upstream_headers,
// and the demo upstream lists it.
const IdentityHeaderPrefix = "X-Gatehouse-"

// foldHeaderName reads a header name the way CGI, WSGI, Rack and PHP do:
// "_" and "-" are one character there (both become "_" in HTTP_X_…), and
// case does not matter.
func foldHeaderName(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}

// IsIdentityHeader reports whether an upstream could read name as one of
// the gateway's identity headers (X_Gatehouse_Subject included).
func IsIdentityHeader(name string) bool {
	return strings.HasPrefix(foldHeaderName(name), strings.ToLower(IdentityHeaderPrefix))
}

// clientCredentialHeaders are the client's own credentials, never passed on.
var clientCredentialHeaders = map[string]bool{"authorization": true, "cookie": true, "proxy-authorization": true, "dpop": true}

// DropClientHeader reports whether a header a client sent to the connector
// URL must not reach the upstream (docs/SECURITY.md §8): its credentials
// (Authorization, Cookie, Proxy-Authorization, DPoP), anything that reads as an
// identity header, and every name containing "_" — frameworks that map "_"
// and "-" to one variable would otherwise let X_Gatehouse_Subject or
// Authori_zation-like spellings stand beside the real header.
func DropClientHeader(name string) bool {
	if strings.Contains(name, "_") {
		return true
	}
	return IsIdentityHeader(name) || clientCredentialHeaders[foldHeaderName(name)]
}
