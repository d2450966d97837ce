package tenants

import (
	"net"
	"net/url"
	"strings"
)

// ValidateRedirectURI checks a client's redirect URI against docs/RULES.md §5 and
// RFC 9700 §2.1/§4.1.3: https; http only to loopback (RFC 8252 §7.3); a
// private-use scheme (RFC 8252 §7.1: reverse-DNS style, e.g. cursor://…) for
// native clients; never javascript:, data:, file: and the like; no fragment;
// no "*" anywhere (redirect URIs match exactly, RFC 9700 §4.1.3: a wildcard
// is never a pattern here, and a stored one would read as one to people and
// to other software). It returns "" when the URI is acceptable, else the reason.
func ValidateRedirectURI(raw string) string {
	if raw == "" {
		return "must not be empty"
	}
	if len(raw) > 2048 {
		return "must be at most 2048 characters"
	}
	if strings.Contains(raw, "*") || strings.Contains(strings.ToLower(raw), "%2a") {
		return "must not contain a wildcard (*); register each redirect URI exactly"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "must be an absolute URI"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not contain a fragment (RFC 6749 §3.1.2)"
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "https":
		if u.Host == "" {
			return "https redirect URI needs a host"
		}
		if u.User != nil {
			return "must not contain credentials"
		}
		return ""
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return "http is allowed only for loopback hosts (127.0.0.1, [::1], localhost)"
		}
		return ""
	}
	if reservedSchemes[scheme] {
		return "scheme " + scheme + " is not allowed"
	}
	// Private-use scheme for native apps: must contain a dot (reverse DNS,
	// RFC 8252 §7.1) or be an established client scheme such as cursor://,
	// vscode://; either way it may not be a web-capable scheme.
	if !validSchemeChars(scheme) {
		return "invalid scheme"
	}
	return ""
}

// reservedSchemes are never redirect URI schemes: script, local and other
// protocols a browser or OS would act on instead of handing to an app.
var reservedSchemes = map[string]bool{"javascript": true, "data": true, "file": true, "vbscript": true, "about": true, "blob": true,
	"ftp": true, "ws": true, "wss": true, "mailto": true, "tel": true}

func validSchemeChars(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// IsLoopbackHost reports whether host is 127.0.0.0/8, ::1 or localhost.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// RedirectURIMatches compares a requested redirect URI with a registered one:
// exact string match, except that for loopback http URIs the port may differ
// (RFC 8252 §7.3: native apps pick an ephemeral port at run time).
func RedirectURIMatches(registered, requested string) bool {
	if registered == requested {
		return true
	}
	r, err1 := url.Parse(registered)
	q, err2 := url.Parse(requested)
	if err1 != nil || err2 != nil {
		return false
	}
	if r.Scheme != "http" || q.Scheme != "http" || !IsLoopbackHost(r.Hostname()) {
		return false
	}
	return r.Hostname() == q.Hostname() && r.Path == q.Path && r.RawQuery == q.RawQuery && q.User == nil && q.Fragment == ""
}

// HostMatches matches a host against one allow-list pattern, case-folded:
// the host itself, or "*.example.com" for any subdomain (not example.com).
func HostMatches(pattern, host string) bool {
	pattern, host = strings.ToLower(strings.TrimSpace(pattern)), strings.ToLower(host)
	if strings.HasPrefix(pattern, "*.") {
		return len(host) > len(pattern)-1 && strings.HasSuffix(host, pattern[1:])
	}
	return pattern != "" && pattern == host
}

// redirectAllowEntry is one parsed entry of dcr_allowed_redirect_hosts.
type redirectAllowEntry struct {
	scheme string // lower case
	host   string // lower case; "" for a scheme-only private-use entry
}

// parseRedirectAllowEntry reads an entry of dcr_allowed_redirect_hosts
// (docs/RULES.md §5: allow-listed scheme+host pairs). Forms:
//
//	claude.ai, *.example.com           https on that host (subdomains)
//	https://claude.ai                  the same, spelled out
//	http://127.0.0.1, http://localhost, http://[::1]
//	                                   loopback (any port, RFC 8252 §7.3)
//	cursor://anysphere.cursor-mcp      a private-use scheme with that host
//	com.example.app:                   a private-use scheme (RFC 8252 §7.1)
//
// It returns the reason an entry is not acceptable, or "".
func parseRedirectAllowEntry(raw string) (redirectAllowEntry, string) {
	e := strings.ToLower(strings.TrimSpace(raw))
	switch {
	case e == "":
		return redirectAllowEntry{}, "must not be empty"
	case !strings.Contains(e, ":"):
		e = "https://" + e
	case strings.HasSuffix(e, ":") && !strings.Contains(e, "/"):
		s := strings.TrimSuffix(e, ":")
		if !privateUseScheme(s) {
			return redirectAllowEntry{}, "a scheme-only entry must be a private-use scheme such as com.example.app:"
		}
		return redirectAllowEntry{scheme: s}, ""
	}
	u, err := url.Parse(e)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return redirectAllowEntry{}, "must be a host (claude.ai), scheme://host (cursor://anysphere.cursor-mcp) or a loopback origin (http://127.0.0.1)"
	}
	if u.User != nil || u.Port() != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return redirectAllowEntry{}, "must be a scheme and host only: no port, path, query or credentials"
	}
	host := u.Hostname()
	wild := strings.HasPrefix(host, "*.")
	if strings.Contains(strings.TrimPrefix(host, "*."), "*") {
		return redirectAllowEntry{}, "a wildcard is only allowed as a leading *. (e.g. *.example.com)"
	}
	switch u.Scheme {
	case "https":
		if IsLoopbackHost(host) {
			return redirectAllowEntry{}, "loopback redirect URIs use http: list http://" + u.Host
		}
	case "http":
		if !IsLoopbackHost(host) {
			return redirectAllowEntry{}, "http is allowed only for loopback hosts (http://127.0.0.1, http://[::1], http://localhost)"
		}
	default:
		if !privateUseScheme(u.Scheme) {
			return redirectAllowEntry{}, "scheme " + u.Scheme + " is not allowed for redirect URIs"
		}
		if wild {
			return redirectAllowEntry{}, "a wildcard host is only allowed with https"
		}
	}
	return redirectAllowEntry{scheme: u.Scheme, host: host}, ""
}

// privateUseScheme reports whether s may be a native app's private-use
// redirect scheme (RFC 8252 §7.1): not a web or otherwise reserved scheme.
func privateUseScheme(s string) bool {
	return validSchemeChars(s) && s != "http" && s != "https" && !reservedSchemes[s]
}

// ValidateRedirectAllowEntry returns why an entry of
// dcr_allowed_redirect_hosts is not acceptable, or "".
func ValidateRedirectAllowEntry(raw string) string {
	_, msg := parseRedirectAllowEntry(raw)
	return msg
}

// RedirectAllowed reports whether a (valid) redirect URI may register under
// the allowlist DCR policy: its scheme and host must match one entry. https
// needs a listed host; loopback http a listed loopback origin; a private-use
// scheme must be listed itself. Comparing hosts alone would let
// evilapp://claude.ai/cb register under [claude.ai].
func RedirectAllowed(redirectURI string, list []string) bool {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	for _, raw := range list {
		e, msg := parseRedirectAllowEntry(raw)
		if msg != "" || e.scheme != scheme {
			continue
		}
		if e.host == "" || HostMatches(e.host, host) {
			return true
		}
	}
	return false
}
