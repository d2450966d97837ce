package tenants

import "testing"

// Issue 9 hole 13: values MACed under any configured key verify; new values
// use the first key; a removed key's values do not.
func TestSealerVerifyMACAnyConfiguredKey(t *testing.T) {
	a, b := make([]byte, 32), make([]byte, 32)
	a[0], b[0] = 1, 2
	old, _ := NewSealer([][]byte{a})
	rotated, _ := NewSealer([][]byte{b, a})
	dropped, _ := NewSealer([][]byte{b})
	data := []byte("session|pending")
	made := old.MACText("p", data, 0)
	short := old.MACText("p", data, 16)
	if !rotated.VerifyMACText("p", data, made) || !rotated.VerifyMACText("p", data, short) {
		t.Error("a MAC under the old key is refused after a rotation")
	}
	if rotated.MACText("p", data, 0) == made || rotated.MACText("p", data, 0) != dropped.MACText("p", data, 0) {
		t.Error("new MACs must use the first key")
	}
	if dropped.VerifyMACText("p", data, made) {
		t.Error("a MAC under a removed key verifies")
	}
	if rotated.VerifyMACText("other", data, made) || rotated.VerifyMACText("p", []byte("x"), made) || rotated.VerifyMACText("p", data, made[:8]) {
		t.Error("wrong purpose, data or a too-short MAC verifies")
	}
	if got := rotated.MACs("p", data); len(got) != 2 || string(got[1]) != string(old.MAC("p", data)) {
		t.Error("MACs: want one per key, current first")
	}
}

// Issue 9 hole 7: one host, one issuer.
func TestCanonicalHost(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"https", "Acme.Example.COM"}:      "acme.example.com",
		{"https", "acme.example.com:443"}:  "acme.example.com",
		{"https", "acme.example.com:80"}:   "acme.example.com:80",
		{"http", "acme.example.com:80"}:    "acme.example.com",
		{"https", "acme.example.com:8443"}: "acme.example.com:8443",
		{"https", "[::1]:443"}:             "[::1]",
		{"https", "[::1]:8443"}:            "[::1]:8443",
	} {
		if got := CanonicalHost(in[0], in[1]); got != want {
			t.Errorf("CanonicalHost(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

// Issue 9 hole 5: allow-list entries are scheme+host pairs.
func TestRedirectAllowed(t *testing.T) {
	list := []string{"claude.ai", "https://chatgpt.com", "*.example.com", "cursor://anysphere.cursor-mcp", "http://127.0.0.1", "com.example.app:"}
	for uri, want := range map[string]bool{
		"https://claude.ai/api/mcp/auth_callback":      true,
		"https://CLAUDE.ai/cb":                         true,
		"https://chatgpt.com/connector_platform_oauth": true,
		"https://a.example.com/cb":                     true,
		"https://example.com/cb":                       false,
		"cursor://anysphere.cursor-mcp/oauth/callback": true,
		"http://127.0.0.1:4711/cb":                     true,
		"com.example.app:/oauth2redirect":              true,
		"evilapp://claude.ai/cb":                       false,
		"cursor://claude.ai/cb":                        false,
		"http://localhost:4711/cb":                     false,
		"https://evil.example/cb":                      false,
	} {
		if got := RedirectAllowed(uri, list); got != want {
			t.Errorf("RedirectAllowed(%s) = %v, want %v", uri, got, want)
		}
	}
	for entry, ok := range map[string]bool{"claude.ai": true, "http://[::1]": true, "http://claude.ai": false, "localhost": false,
		"https://claude.ai:443": false, "https://claude.ai/x": false, "javascript:": false, "data://x": false, "cursor://*.x": false, "a*b.com": false} {
		if got := ValidateRedirectAllowEntry(entry) == ""; got != ok {
			t.Errorf("entry %q accepted=%v, want %v (%s)", entry, got, ok, ValidateRedirectAllowEntry(entry))
		}
	}
}
