package oauth_test

import (
	"io"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// The consent page says each scope in the tenant's words (settings
// scope_descriptions) and names the client, escaped: a DCR client named
// <script>… is shown as text.
func TestConsentShowsScopeDescriptionsAndEscapedClientName(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), envOpts{})
	_, site, cid := e.withPublicClient("words", "<script>alert(1)</script> Agent", nil, &tenants.Settings{ScopeDescriptions: map[string]string{"mcp": "Use the Acme tools & read your projects"}})
	_, ch := pkce()
	resp := e.authorize(e.browser(), site, authzParams(cid, ch))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if !isConsentPageBody(page) {
		t.Fatalf("no consent page:\n%.1500s", page)
	}
	for _, want := range []string{"Use the Acme tools &amp; read your projects", "<code>mcp</code>", "&lt;script&gt;alert(1)&lt;/script&gt; Agent"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q:\n%.1500s", want, page)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("client name rendered unescaped")
	}
}

func isConsentPageBody(s string) bool { return strings.Contains(s, `value="approve"`) }

// The sign-in page names the requesting application (escaped).
func TestLoginPageNamesTheClient(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), envOpts{})
	_, site, cid := e.withPublicClient("named", "<b>Claude</b>", &tenants.IdPInput{Type: tenants.IdPDev}, nil)
	_, ch := pkce()
	resp := e.authorize(e.browser(), site, authzParams(cid, ch))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if !strings.Contains(page, `name="username"`) || !strings.Contains(page, "<strong>&lt;b&gt;Claude&lt;/b&gt;</strong> is asking") {
		t.Fatalf("dev sign-in page does not name the client:\n%.1500s", page)
	}
}
