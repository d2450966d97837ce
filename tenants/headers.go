package tenants

import "strings"

// IdentityHeaderPrefix starts every header the gateway attaches upstream to
// say who is calling (docs/UPSTREAM.md). It is defined here once: the
// gateway strips it from clients, settings refuse it in upstream_headers,
// and the demo upstream lists it.
const IdentityHeaderPrefix = "X-Gatehouse-"

// IsIdentityHeader reports whether an upstream could read name as one of
// the gateway's identity headers (X_Gatehouse_Subject included): CGI, WSGI,
// Rack and PHP read "_" and "-" as one character (both become "_" in
// HTTP_X_…), and case does not matter. It compares byte by byte, without
// allocating: the gateway asks it for every header of every request. Only
// ASCII letters can match the prefix (no non-ASCII letter lowers to one of
// its letters), and HTTP header names are ASCII anyway.
func IsIdentityHeader(name string) bool {
	if len(name) < len(IdentityHeaderPrefix) {
		return false
	}
	for i := range len(IdentityHeaderPrefix) {
		c := name[i]
		if c == '_' {
			c = '-'
		}
		if lowerASCII(c) != lowerASCII(IdentityHeaderPrefix[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// clientCredentialHeaders are the client's own credentials, never passed on.
var clientCredentialHeaders = []string{"Authorization", "Cookie", "Proxy-Authorization", "Dpop"}

// DropClientHeader reports whether a header a client sent to the connector
// URL must not reach the upstream (docs/SECURITY.md §8): its credentials
// (Authorization, Cookie, Proxy-Authorization, DPoP), anything that reads as an
// identity header, and every name containing "_" — frameworks that map "_"
// and "-" to one variable would otherwise let X_Gatehouse_Subject or
// Authori_zation-like spellings stand beside the real header.
func DropClientHeader(name string) bool {
	if strings.Contains(name, "_") || IsIdentityHeader(name) {
		return true
	}
	for _, h := range clientCredentialHeaders {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return false
}
