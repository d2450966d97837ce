package tenants

import (
	"net"
	"net/url"
	"strings"
)

// ValidateRedirectURI checks a client's redirect URI against DESIGN §5 and
// RFC 9700 §2.1/§4.1.3: https; http only to loopback (RFC 8252 §7.3); a
// private-use scheme (RFC 8252 §7.1: reverse-DNS style, e.g. cursor://…) for
// native clients; never javascript:, data:, file: and the like; no fragment.
// It returns "" when the URI is acceptable, else the reason.
func ValidateRedirectURI(raw string) string {
	if raw == "" {
		return "must not be empty"
	}
	if len(raw) > 2048 {
		return "must be at most 2048 characters"
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
	case "javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss", "mailto", "tel":
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
