package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
)

// ignoredScopes are accepted and dropped: refresh tokens follow the client's
// grant types, not a scope (clients add offline_access on their own).
var ignoredScopes = map[string]bool{"offline_access": true}

// resolveScopes applies RFC 6749 §3.3 to a requested scope string: absent
// means the tenant's default scopes (docs/RULES.md §5); every scope must be offered
// by the tenant and, when the client registered a scope, be one of those.
func resolveScopes(raw string, present bool, settings tenants.Settings, client *tenants.Client) ([]string, *Error) {
	if !present || strings.TrimSpace(raw) == "" {
		return dedupe(settings.DefaultScopeList()), nil
	}
	offered := tenants.Strings(settings.OfferedScopes())
	var clientScopes tenants.Strings
	if client != nil && client.Scope != "" {
		clientScopes = strings.Fields(client.Scope)
	}
	var out []string
	for _, sc := range strings.Fields(raw) {
		if ignoredScopes[sc] {
			continue
		}
		if !offered.Contains(sc) {
			return nil, newErr(ErrInvalidScope, "scope %q is not offered by this server", sc)
		}
		if len(clientScopes) > 0 && !clientScopes.Contains(sc) {
			return nil, newErr(ErrInvalidScope, "scope %q was not registered for this client", sc)
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		return dedupe(settings.DefaultScopeList()), nil
	}
	return dedupe(out), nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func subset(a, b []string) bool {
	bs := tenants.Strings(b)
	for _, x := range a {
		if !bs.Contains(x) {
			return false
		}
	}
	return true
}

// validChallenge: a base64url SHA-256 is 43 characters (RFC 7636 §4.2).
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

// validVerifier: 43–128 unreserved characters (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range []byte(v) {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// pkceMatches checks BASE64URL(SHA256(verifier)) == challenge (RFC 7636 §4.6).
func pkceMatches(verifier, challenge string) bool {
	if !validVerifier(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

func equalConst(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
