package tenants_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

func sealer(t *testing.T, keys ...[]byte) *tenants.Sealer {
	t.Helper()
	s, err := tenants.NewSealer(keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func key(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b
	}
	return k
}

func TestSealerRoundTripAndBinding(t *testing.T) {
	s := sealer(t, key(1))
	sealed, err := s.Seal("upstream-secret", "idp:t1:github")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "upstream-secret") {
		t.Fatal("sealed value contains the plaintext")
	}
	if got, err := s.Open(sealed, "idp:t1:github"); err != nil || got != "upstream-secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	// A value sealed for one row cannot be replayed into another.
	if _, err := s.Open(sealed, "idp:t2:github"); !errors.Is(err, tenants.ErrUnseal) {
		t.Fatalf("moved value: want ErrUnseal, got %v", err)
	}
	// Tampering is detected.
	b := []byte(sealed)
	b[len(b)-2] ^= 1
	if _, err := s.Open(string(b), "idp:t1:github"); !errors.Is(err, tenants.ErrUnseal) {
		t.Fatalf("tampered: want ErrUnseal, got %v", err)
	}
}

// Key rotation: new first key seals; the old key still opens old values.
func TestSealerRotation(t *testing.T) {
	old := sealer(t, key(1))
	sealed, _ := old.Seal("v", "c")
	rotated := sealer(t, key(2), key(1))
	if got, err := rotated.Open(sealed, "c"); err != nil || got != "v" {
		t.Fatalf("old value after rotation: %q %v", got, err)
	}
	if !rotated.NeedsReseal(sealed) {
		t.Fatal("value sealed by a non-primary key needs resealing")
	}
	newer, _ := rotated.Seal("v", "c")
	if _, err := old.Open(newer, "c"); err == nil {
		t.Fatal("a sealer without the new key must not open new values")
	}
	if _, err := tenants.NewSealer([][]byte{make([]byte, 16)}); err == nil {
		t.Fatal("16-byte key must be refused (AES-256 needs 32)")
	}
}

func TestParseSecretKeys(t *testing.T) {
	if _, err := tenants.ParseSecretKeys([]string{"not base64!"}); err == nil {
		t.Fatal("garbage key accepted")
	}
	if _, err := tenants.ParseSecretKeys([]string{"c2hvcnQ="}); err == nil {
		t.Fatal("short key accepted")
	}
	ks, err := tenants.ParseSecretKeys([]string{tenants.RandomToken(), " " + tenants.RandomToken() + " "})
	if err != nil || len(ks) != 2 {
		t.Fatalf("two keys: %v %v", len(ks), err)
	}
}

// docs/RULES.md §5 redirect URI rules (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §4.1).
func TestValidateRedirectURI(t *testing.T) {
	ok := []string{
		"https://claude.ai/api/mcp/auth_callback",
		"https://chatgpt.com/connector_platform_oauth_redirect",
		"http://127.0.0.1:33418/callback",
		"http://localhost:8123/callback",
		"http://[::1]:9000/cb",
		"https://vscode.dev/redirect",
		"cursor://anysphere.cursor-mcp/oauth/callback",
		"com.example.app:/oauth2redirect",
	}
	bad := []string{
		"", "http://example.com/cb", "http://10.0.0.1/cb", "javascript:alert(1)", "data:text/html,hi",
		"https://a.example/cb#frag", "/relative", "file:///etc/passwd", "https://user:pw@a.example/cb",
		"vbscript:x", "https:///nohost",
	}
	for _, u := range ok {
		if msg := tenants.ValidateRedirectURI(u); msg != "" {
			t.Errorf("%s refused: %s", u, msg)
		}
	}
	for _, u := range bad {
		if msg := tenants.ValidateRedirectURI(u); msg == "" {
			t.Errorf("%q accepted", u)
		}
	}
}

// RFC 8252 §7.3: loopback redirect URIs match with any port; everything else exactly.
func TestRedirectURIMatches(t *testing.T) {
	cases := []struct {
		reg, req string
		want     bool
	}{
		{"https://claude.ai/api/mcp/auth_callback", "https://claude.ai/api/mcp/auth_callback", true},
		{"https://claude.ai/api/mcp/auth_callback", "https://claude.ai/api/mcp/auth_callback/", false},
		{"https://claude.ai/cb", "https://claude.ai/cb?x=1", false},
		{"http://127.0.0.1/callback", "http://127.0.0.1:51234/callback", true},
		{"http://127.0.0.1:1000/callback", "http://127.0.0.1:2000/callback", true},
		{"http://127.0.0.1:1000/callback", "http://127.0.0.1:2000/other", false},
		{"http://localhost:1000/callback", "http://127.0.0.1:1000/callback", false},
		{"https://a.example:1000/cb", "https://a.example:2000/cb", false},
	}
	for _, c := range cases {
		if got := tenants.RedirectURIMatches(c.reg, c.req); got != c.want {
			t.Errorf("match(%s, %s) = %v, want %v", c.reg, c.req, got, c.want)
		}
	}
}

// docs/RULES.md §4 URL layout in both modes.
func TestSiteURLs(t *testing.T) {
	tn := &tenants.Tenant{Slug: "acme"}
	p := tenants.PathSite("https://connect.example.com/", tn)
	checks := map[string]string{
		p.Issuer:            "https://connect.example.com/t/acme",
		p.Resource:          "https://connect.example.com/t/acme/mcp",
		p.PRMURL():          "https://connect.example.com/.well-known/oauth-protected-resource/t/acme/mcp",
		p.ASMetadataURL():   "https://connect.example.com/.well-known/oauth-authorization-server/t/acme",
		p.JWKSURL():         "https://connect.example.com/t/acme/jwks.json",
		p.Endpoint("token"): "https://connect.example.com/t/acme/oauth/token",
	}
	for got, want := range checks {
		if got != want {
			t.Errorf("path mode: got %s, want %s", got, want)
		}
	}
	h := tenants.HostSite("https", "acme.connect.example.com:8443", tn)
	if h.Issuer != "https://acme.connect.example.com:8443" || h.Resource != "https://acme.connect.example.com:8443/mcp" ||
		h.PRMURL() != "https://acme.connect.example.com:8443/.well-known/oauth-protected-resource/mcp" ||
		h.ASMetadataURL() != "https://acme.connect.example.com:8443/.well-known/oauth-authorization-server" {
		t.Errorf("host mode: %+v %s %s", h, h.PRMURL(), h.ASMetadataURL())
	}
	if !p.MatchesResource(p.Resource+"/") || p.MatchesResource(h.Resource) || p.MatchesResource(p.Resource+"//") {
		t.Error("resource matching: trailing slash only")
	}
}

func TestSlugValidation(t *testing.T) {
	for _, s := range []string{"acme", "a1b", "team-42", strings.Repeat("a", 40)} {
		if msg := tenants.ValidateSlug(s); msg != "" {
			t.Errorf("%q refused: %s", s, msg)
		}
	}
	for _, s := range []string{"", "ab", "-abc", "abc-", "ABC", "a_b", "api", "oauth", strings.Repeat("a", 41), "a--b", "ünï"} {
		if msg := tenants.ValidateSlug(s); msg == "" {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestSettingsDefaultsAndValidation(t *testing.T) {
	var s tenants.Settings
	if s.AccessTTL() != time.Hour || s.RefreshGrace() != 60*time.Second || s.DCR() != "open" ||
		s.ClientIdleTTL() != 90*24*time.Hour || s.AuditMCP() != "tools" || s.DefaultScopeList()[0] != "mcp" {
		t.Fatalf("defaults: %+v", s)
	}
	zero := 0
	s.RefreshGraceSeconds = &zero
	if s.RefreshGrace() != 0 {
		t.Fatal("grace 0 disables")
	}
	bad := tenants.Settings{DCRPolicy: "sometimes", Scopes: []string{"mcp"}, DefaultScopes: []string{"admin"},
		ToolScopes: map[string]string{"x": "bad scope"}, UpstreamHeaders: map[string]string{"X-Gatehouse-Subject": "spoof"}}
	err := bad.Validate("settings.")
	var v *tenants.ValidationError
	if !errors.As(err, &v) || len(v.Errors) != 4 {
		t.Fatalf("want 4 field errors, got %v", err)
	}
}

func TestOrderedIDsSort(t *testing.T) {
	now := time.Now()
	prev := ""
	for i := 0; i < 1000; i++ {
		id := tenants.OrderedID(now)
		if id <= prev {
			t.Fatalf("ids not increasing: %s after %s", id, prev)
		}
		prev = id
	}
}

func TestScopeDescriptionsValidated(t *testing.T) {
	ok := tenants.Settings{ScopeDescriptions: map[string]string{"mcp": "Use the tools"}}
	if err := ok.Validate("settings."); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]string{{"bad scope": "x"}, {"mcp": ""}, {"mcp": strings.Repeat("w", 201)}} {
		if err := (tenants.Settings{ScopeDescriptions: bad}).Validate("settings."); err == nil || !strings.Contains(err.Error(), "scope_descriptions") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestSuggestSlug(t *testing.T) {
	for name, want := range map[string]string{
		"Acme":                     "acme",
		"Café Ürban Labs":          "cafe-urban-labs",
		"  ACME -- Widgets, Inc. ": "acme-widgets-inc",
		"AI":                       "ai-team",
		"Admin":                    "admin-team",
		"日本":                       "",
		"A very long team name that goes on and on and on": "a-very-long-team-name-that-goes-on-and-o",
	} {
		got := tenants.SuggestSlug(name)
		if got != want {
			t.Errorf("SuggestSlug(%q) = %q, want %q", name, got, want)
		}
		if got != "" && tenants.ValidateSlug(got) != "" {
			t.Errorf("SuggestSlug(%q) = %q is not a valid slug", name, got)
		}
	}
}
