package tenants

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants/jsonx"
)

// FuzzRedirectURI: validation never panics; a URI it accepts has no '*',
// no fragment, and is https, loopback http, or a private-use scheme; and a
// match never sends the browser to another scheme or host than the one
// registered (no open redirect).
func FuzzRedirectURI(f *testing.F) {
	for _, s := range [][2]string{
		{"https://claude.ai/api/mcp/auth_callback", "https://claude.ai/api/mcp/auth_callback"},
		{"http://127.0.0.1/callback", "http://127.0.0.1:51234/callback"},
		{"http://localhost:3000/cb", "http://localhost:4000/cb?x=1"},
		{"http://[::1]/cb", "http://[::1]:8080/cb"},
		{"cursor://anysphere.cursor-retrieval/oauth/callback", "cursor://anysphere.cursor-retrieval/oauth/callback"},
		{"http://127.0.0.1/cb", "http://127.0.0.1@evil.example/cb"},
		{"https://a.example/*", "https://a.example/x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, registered, requested string) {
		if ValidateRedirectURI(registered) != "" {
			return
		}
		if strings.Contains(registered, "*") {
			t.Fatalf("accepted a redirect URI with '*': %q", registered)
		}
		r, err := url.Parse(registered)
		if err != nil {
			t.Fatalf("accepted an unparsable redirect URI %q", registered)
		}
		if r.Fragment != "" || r.Scheme == "javascript" || r.Scheme == "data" || (r.Scheme == "http" && !IsLoopbackHost(r.Hostname())) {
			t.Fatalf("accepted %q", registered)
		}
		if !RedirectURIMatches(registered, requested) {
			return
		}
		q, err := url.Parse(requested)
		if err != nil {
			t.Fatalf("matched an unparsable URI %q", requested)
		}
		if q.Scheme != r.Scheme || q.Hostname() != r.Hostname() || q.User != nil && requested != registered {
			t.Fatalf("%q matched registered %q on another origin", requested, registered)
		}
	})
}

// FuzzMergePatch: RFC 7396 merge patch never panics, yields JSON, and is
// idempotent; a patched settings document decodes strictly or is refused
// with a field error, never a panic.
func FuzzMergePatch(f *testing.F) {
	f.Add(`{"settings":{"scopes":["mcp"],"tool_scopes":{"a":"b"}}}`, `{"settings":{"tool_scopes":{"a":null,"c":"d"}}}`)
	f.Add(`{"a":1}`, `null`)
	f.Add(`{"a":{"b":[1,2]}}`, `{"a":{"b":{"c":1}}}`)
	f.Add(`{}`, `{"access_token_ttl":"x","mcp_requests_per_minute":-1}`)
	f.Fuzz(func(t *testing.T, target, patch string) {
		out, err := jsonx.MergePatch(json.RawMessage(target), json.RawMessage(patch))
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("merge produced invalid JSON %q", out)
		}
		again, err := jsonx.MergePatch(out, json.RawMessage(patch))
		if err != nil {
			t.Fatalf("re-applying the patch failed: %v", err)
		}
		var a, b any
		_ = json.Unmarshal(out, &a)
		_ = json.Unmarshal(again, &b)
		ab, _ := json.Marshal(a)
		bb, _ := json.Marshal(b)
		if !bytes.Equal(ab, bb) {
			t.Fatalf("merge patch is not idempotent: %s then %s", ab, bb)
		}
		var s Settings
		if err := DecodeStrict(out, &s, "settings."); err == nil {
			_ = s.Validate("settings.")
		}
	})
}
