package doctor_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
)

// The User-Agents the clients send: measured by the e2e client tests
// (docs/COMPATIBILITY.md) or reported by their users (docs/RULES.md §10).
func TestSoftwareFromUserAgent(t *testing.T) {
	for ua, want := range map[string]string{
		"Claude-User":                          doctor.SoftwareClaudeAI,
		"Claude-User/1.0 (+https://claude.ai)": doctor.SoftwareClaudeAI,
		"claude-code/2.0.14":                   doctor.SoftwareClaudeCode,
		"claude-cli/1.0.0 (external, cli)":     doctor.SoftwareClaudeCode,
		"openai-mcp/1.0.0":                     doctor.SoftwareChatGPT,
		"Cursor/1.7.0":                         doctor.SoftwareCursor,
		"Visual Studio Code/1.105.0":           doctor.SoftwareVSCode,
		"ai-sdk/2.0.99 node.js/v20.20.2":       doctor.SoftwareAISDK,
		"node":                                 doctor.SoftwareNode, // Inspector backend, Agents SDK, mcp-remote refreshes
		"undici":                               doctor.SoftwareNode, // mcp-remote
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36": doctor.SoftwareBrowser,
		doctor.SelfCheckUserAgent: doctor.SoftwareSelfCheck,
		"curl/8.5.0":              "",
		"":                        "",
		"claude":                  "", // a bare word is not a marker
	} {
		if got := doctor.SoftwareFromUserAgent(ua); got != want {
			t.Errorf("%q: %q, want %q", ua, got, want)
		}
	}
}

func TestSoftwareFromClientRegistration(t *testing.T) {
	for _, tc := range []struct {
		c    *tenants.Client
		id   string
		want string
	}{
		{&tenants.Client{Name: "MCP Inspector", ClientURI: "https://github.com/modelcontextprotocol/inspector"}, "dcr_1", doctor.SoftwareInspector},
		{&tenants.Client{Name: "MCP CLI Proxy", ClientURI: "https://github.com/modelcontextprotocol/mcp-cli"}, "dcr_2", doctor.SoftwareMCPRemote},
		{&tenants.Client{Name: "My agent", ClientURI: "https://github.com/modelcontextprotocol/mcp-cli"}, "dcr_3", doctor.SoftwareMCPRemote},
		{nil, doctor.ClaudeCIMDClientID, doctor.SoftwareClaudeAI},
		{&tenants.Client{Name: "Acme app"}, "dcr_4", ""},
		{nil, "deleted", ""},
	} {
		if got := doctor.SoftwareFromClient(tc.c, tc.id); got != tc.want {
			t.Errorf("%+v %s: %q, want %q", tc.c, tc.id, got, tc.want)
		}
	}
}

// The per-client timeline names the product: from the registration for
// the requests that carry only Node's User-Agent (the Inspector's backend),
// from the User-Agent where it says more (the AI SDK on MCP requests), and
// the person's browser at /authorize.
func TestTimelineNamesTheClientSoftware(t *testing.T) {
	b := &events{}
	b.add(-50*time.Second, tenants.ActClientRegistered, "insp", ua("node"))
	b.add(-40*time.Second, tenants.ActAuthorizeStarted, "insp", ua("Mozilla/5.0 (X11) Chrome/156"))
	b.add(-10*time.Second, tenants.ActCodeIssued, "insp", ua("Mozilla/5.0 (X11) Chrome/156"))
	b.add(0, tenants.ActTokenIssued, "insp", ua("node"))
	b.add(5*time.Second, tenants.ActMCPToolCalled, "insp", ua("node"), details(tenants.JSONMap{"tool": "echo"}))
	b.add(-45*time.Second, tenants.ActClientRegistered, "app", ua("node"))
	b.add(-1*time.Second, tenants.ActTokenIssued, "app", ua("node"))
	b.add(6*time.Second, tenants.ActMCPToolCalled, "app", ua("ai-sdk/2.0.99 node.js/v20.20.2"))
	cs := []tenants.Client{
		{TenantID: "t1", ID: "insp", Name: "MCP Inspector", ClientURI: "https://github.com/modelcontextprotocol/inspector", Kind: tenants.ClientDCR, CreatedAt: t0.Add(-time.Minute)},
		{TenantID: "t1", ID: "app", Name: "Acme assistant", Kind: tenants.ClientDCR, CreatedAt: t0.Add(-time.Minute)},
	}
	r := diagnose(b, time.Minute, cs)

	insp := only(t, r, "insp")
	if len(insp.Software) != 1 || insp.Software[0] != doctor.SoftwareInspector {
		t.Errorf("inspector software %v", insp.Software)
	}
	want := map[string]string{
		tenants.ActClientRegistered: "MCP Inspector (Node.js HTTP client)",
		tenants.ActAuthorizeStarted: doctor.SoftwareBrowser,
		tenants.ActCodeIssued:       doctor.SoftwareBrowser,
		tenants.ActTokenIssued:      "MCP Inspector (Node.js HTTP client)",
		tenants.ActMCPToolCalled:    "MCP Inspector (Node.js HTTP client)",
	}
	for _, e := range insp.Timeline {
		if e.Software != want[e.Action] {
			t.Errorf("inspector %s: software %q, want %q", e.Action, e.Software, want[e.Action])
		}
	}

	app := only(t, r, "app")
	if len(app.Software) != 1 || app.Software[0] != doctor.SoftwareAISDK {
		t.Errorf("app software %v", app.Software)
	}
	for _, e := range app.Timeline {
		w := doctor.SoftwareNode // the AI SDK's OAuth requests carry Node's own User-Agent
		if e.Action == tenants.ActMCPToolCalled {
			w = doctor.SoftwareAISDK
		}
		if e.Software != w {
			t.Errorf("app %s: software %q, want %q", e.Action, e.Software, w)
		}
	}
}
