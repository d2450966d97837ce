package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

// The onboarding checklist is checked by the server: the IdP (the dev login
// alone is not done), the MCP server answering, a first token issued; and a
// loopback connector URL is flagged as unreachable for Claude.ai/ChatGPT.
func TestOverviewChecklist(t *testing.T) {
	e, ten, b := acmeOwner(t)
	count := func(body, s string) int { return strings.Count(body, s) }
	page := b.page("/console/t/acme")
	if count(page.Body, ">to do<") != 3 || !strings.Contains(page.Body, "the development login only") || !strings.Contains(page.Body, "did not answer") {
		t.Fatalf("fresh team checklist:\n%.3000s", page.Body)
	}
	if !strings.Contains(page.Body, "Claude.ai and ChatGPT connect from the internet and cannot reach it") {
		t.Error("no warning for a loopback connector URL")
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer up.Close()
	ten.UpstreamMCPURL = up.URL + "/mcp"
	if err := e.store.UpdateTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	if _, err := e.prov.PutIdP(context.Background(), ten, tenants.IdPInput{Type: tenants.IdPGitHub, ClientID: "Iv1.x", ClientSecret: "s"}, true); err != nil {
		t.Fatal(err)
	}
	e.d.Auditor.Record(context.Background(), tenants.AuditEvent{TenantID: ten.ID, Action: tenants.ActTokenIssued, ClientID: "c"})
	page = b.get("/console/t/acme")
	if count(page.Body, ">done<") != 3 || count(page.Body, ">to do<") != 0 {
		t.Fatalf("completed checklist:\n%.3000s", page.Body)
	}
}

func TestNotPublic(t *testing.T) {
	for u, want := range map[string]string{
		"http://127.0.0.1:8080/t/a/mcp":       "this computer",
		"https://acme.gh.localhost:443/mcp":   "this computer",
		"https://10.0.0.5/t/a/mcp":            "private network",
		"http://connect.example.com/t/a/mcp":  "plain http",
		"https://connect.example.com/t/a/mcp": "",
	} {
		if got := notPublic(u); (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: %q", u, got)
		}
	}
}
