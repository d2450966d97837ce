package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// frontSPKI is the base64 SHA-256 of the TLS front's public key: Chromium
// accepts exactly that certificate (--ignore-certificate-errors-spki-list)
// instead of trusting the whole test CA.
func frontSPKI(s *server) (string, error) {
	u, err := url.Parse(s.base)
	if err != nil {
		return "", err
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1"})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// startInspector starts the MCP Inspector web UI (v2: a Node backend that
// proxies the MCP and OAuth requests, and a React page) on free loopback
// ports, with an empty server catalog, secrets in memory, its state in a
// temp dir, no browser opened, and the loopback-only guard.
//
// DANGEROUSLY_OMIT_AUTH=true turns off the Inspector's own session token
// between its page and its backend: both are on 127.0.0.1 for the length of
// the test, and the token would otherwise have to be scraped from its log.
func startInspector(ctx context.Context, t *testing.T) (string, *nodeProc) {
	t.Helper()
	dir := t.TempDir()
	catalog := filepath.Join(dir, "mcp.json")
	if err := os.WriteFile(catalog, []byte(`{"mcpServers":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var ports [3]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	env := []string{
		fmt.Sprintf("CLIENT_PORT=%d", ports[0]), fmt.Sprintf("SERVER_PORT=%d", ports[1]),
		fmt.Sprintf("MCP_SANDBOX_PORT=%d", ports[1]), fmt.Sprintf("MCP_APP_ORIGIN_PORT=%d", ports[2]),
		"HOST=127.0.0.1", "DANGEROUSLY_OMIT_AUTH=true", "MCP_AUTO_OPEN_ENABLED=false",
		"MCP_STORAGE_DIR=" + dir, "MCP_INSPECTOR_SECRET_STORE=memory", "HOME=" + dir, "BROWSER=true",
	}
	p, err := startNode(ctx, env, nil, "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
		"--web", "--catalog", catalog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	base := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("the Inspector exited: %v\n%s", p.err, tail(p.stderrText(), 2000))
		default:
		}
		if resp, err := http.Get(base + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, p
			}
		}
	}
	t.Fatalf("the Inspector did not answer on %s:\n%s", base, tail(p.stderrText(), 2000))
	return "", nil
}

type inspectorResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Text  string `json:"text"`
	Steps []struct {
		Name       string `json:"name"`
		URL        string `json:"url"`
		Screenshot string `json:"screenshot"`
	} `json:"steps"`
	Tools       []string `json:"tools"`
	Result      string   `json:"result"`
	Blocked     []string `json:"blocked"`
	Navigations []string `json:"navigations"`
}

// webFonts is what the Inspector's page asks for on the internet (Google
// Fonts); the browser refuses it and the page falls back to local fonts.
var webFonts = map[string]bool{"fonts.googleapis.com": true, "fonts.gstatic.com": true}

// The MCP Inspector, as the README tells a new user to use it: started by
// the test, driven in Debian's headless Chromium with playwright-core.
// Enter the connector URL, Connect, the Inspector's own DCR + PKCE, the dev
// login page (and consent if shown), the tool list, a tool call and its
// result; screenshots of each step in outDir("inspector", …). Both URL
// modes embedded, host mode on Postgres + Redis.
func TestInspectorInChromium(t *testing.T) {
	t.Parallel()
	needNodePackage(t, "@modelcontextprotocol/inspector")
	needChromium(t)
	version := npmVersion(t, "@modelcontextprotocol/inspector")
	emb := sharedServer(t)
	runs := []struct {
		backend, mode string
		s             func(*testing.T) *server
	}{
		{backendEmbedded, "path", func(*testing.T) *server { return emb }},
		{backendEmbedded, "host", func(*testing.T) *server { return emb }},
		{backendPostgres, "host", func(t *testing.T) *server { return productionServers(t, 1)[0] }},
	}
	for _, run := range runs {
		t.Run(run.backend+"/"+run.mode, func(t *testing.T) {
			row := compatRow{Client: "MCP Inspector (Chromium)", Package: "@modelcontextprotocol/inspector", Version: version, Mode: run.mode, Backend: run.backend}
			recordCompat(t, &row, time.Now())
			s := run.s(t)
			tn := devLoginTenant(t, s, "inspector", nil)
			site := tn.urls(run.mode)
			spki, err := frontSPKI(s)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			inspector, insp := startInspector(ctx, t)
			shots := outDir("inspector", strings.ReplaceAll(run.backend, "+", "-")+"-"+run.mode)
			_ = os.RemoveAll(shots)
			if err := os.MkdirAll(shots, 0o755); err != nil {
				t.Fatal(err)
			}
			arg := fmt.Sprintf(`{"inspector":%q,"connector":%q,"issuer":%q,"outDir":%q,"spki":%q,"profileDir":%q}`,
				inspector, site.Resource, site.Issuer, shots, spki, t.TempDir())
			var r inspectorResult
			if stderr, err := runDriver(ctx, "ts/inspector.mjs", arg, &r); err != nil || !r.OK {
				t.Fatalf("Inspector flow failed: %v %s\npage: %s\nsteps: %+v\nnavigations: %v\ndriver: %s\ninspector: %s\nwire:\n%s",
					err, r.Error, r.Text, r.Steps, r.Navigations, tail(stderr, 1500), tail(insp.stderrText(), 1500), wireFor(site.Resource))
			}
			var names []string
			for _, st := range r.Steps {
				names = append(names, st.Name)
				t.Logf("screenshot %s", st.Screenshot)
			}
			if got := strings.Join(names, ","); !strings.Contains(got, "connector-url-entered,dev-login,") ||
				!strings.HasSuffix(got, "connected,tool-list,tool-call-form,tool-result") {
				t.Errorf("steps %s", got)
			}
			if strings.Join(r.Tools, ",") != "add,countdown,echo,whoami" || r.Result != "hello from the inspector" {
				t.Errorf("tools %v result %q", r.Tools, r.Result)
			}
			for _, h := range r.Blocked {
				if !webFonts[h] {
					t.Errorf("the Inspector's page tried to reach %s (only loopback is allowed)", h)
				}
			}
			if b := insp.blocked(); len(b) > 0 {
				t.Errorf("the Inspector's backend tried to reach %v (only loopback is allowed)", b)
			}
			// The server's side: the Inspector registered itself, one code,
			// a token, and the tool call under its client id.
			st, m := s.api(t, http.MethodGet, "/api/v1/tenants/"+tn.slug+"/clients", nil)
			items, _ := m["items"].([]any)
			if st != http.StatusOK || len(items) != 1 {
				t.Fatalf("clients: %d %v", st, m)
			}
			client := items[0].(map[string]any)
			clientID, _ := client["client_id"].(string)
			if client["client_name"] != "MCP Inspector" || client["kind"] != "dcr" {
				t.Errorf("registered client %v", client)
			}
			counts := auditCounts(t, s, tn.slug, clientID, func(c map[string]int) bool {
				return c["code.issued"] == 1 && c["token.issued"] >= 1 && c["mcp.tool_called"] >= 1
			})
			wantDoctorNames(t, s, tn.slug, clientID, "MCP Inspector", "MCP Inspector (Node.js HTTP client)", "Web browser")
			row.Notes = fmt.Sprintf("DCR as 'MCP Inspector'; pages %s; screenshots in `%s`", strings.Join(names, " → "), relOut(shots))
			t.Logf("Inspector %s/%s: audit %v; browser refused %v", run.backend, run.mode, counts, r.Blocked)
		})
	}
}

// relOut names an output path relative to the repository when it is in it.
func relOut(p string) string {
	if r, err := filepath.Rel(repoDir, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
