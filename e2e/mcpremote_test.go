package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// mcpRemote is one mcp-remote process (the stdio ↔ Streamable HTTP proxy
// Claude Desktop and many IDEs run for remote servers), spoken to over its
// stdin/stdout as the desktop app does.
type mcpRemote struct {
	p       *nodeProc
	authURL chan string
	ready   chan struct{}
	nextID  int
}

// startMCPRemote runs `mcp-remote <url> <port>` with its config (tokens,
// client registration) in cfgDir. BROWSER=true makes its "open a browser"
// step a no-op that succeeds; the test is the person who visits the URL.
func startMCPRemote(ctx context.Context, resource, cfgDir string, port int) (*mcpRemote, error) {
	m := &mcpRemote{authURL: make(chan string, 1), ready: make(chan struct{})}
	wantURL, readyOnce := false, false
	onErr := func(line string) {
		// mcp-remote logs "[pid] text" on stderr.
		text := strings.TrimSpace(line)
		if i := strings.Index(text, "] "); strings.HasPrefix(text, "[") && i > 0 {
			text = text[i+2:]
		}
		switch {
		case strings.Contains(text, "Please authorize this client by visiting:"):
			wantURL = true
		case wantURL && strings.HasPrefix(text, "http"):
			wantURL = false
			select {
			case m.authURL <- text:
			default:
			}
		case strings.HasPrefix(text, "Proxy established successfully") && !readyOnce:
			readyOnce = true
			close(m.ready)
		}
	}
	p, err := startNode(ctx, []string{"MCP_REMOTE_CONFIG_DIR=" + cfgDir, "BROWSER=true"}, onErr,
		"node_modules/mcp-remote/dist/proxy.js", resource, fmt.Sprint(port))
	if err != nil {
		return nil, err
	}
	m.p = p
	return m, nil
}

// rpc sends one JSON-RPC request on stdin and waits for its answer on stdout.
func (m *mcpRemote) rpc(method string, params any, timeout time.Duration) (map[string]any, error) {
	m.nextID++
	id := m.nextID
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if _, err := m.p.stdin.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-m.p.lines:
			if !ok {
				return nil, fmt.Errorf("mcp-remote exited waiting for %s: %v\n%s", method, m.p.err, tail(m.p.stderrText(), 2000))
			}
			var msg map[string]any
			if json.Unmarshal([]byte(line), &msg) != nil {
				continue
			}
			if v, ok := msg["id"].(float64); ok && int(v) == id {
				if e, ok := msg["error"]; ok {
					return nil, fmt.Errorf("%s: JSON-RPC error %v", method, e)
				}
				res, _ := msg["result"].(map[string]any)
				return res, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("no answer to %s in %v\n%s", method, timeout, tail(m.p.stderrText(), 2000))
		}
	}
}

func (m *mcpRemote) notify(method string) {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method})
	_, _ = m.p.stdin.Write(append(b, '\n'))
}

// session does what a desktop app does over stdio: initialize,
// tools/list, tools/call echo; it returns the tool names and the echo.
func (m *mcpRemote) session(text string) ([]string, string, error) {
	if _, err := m.rpc("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "gatehouse-e2e-desktop", "version": "1.0.0"}}, 30*time.Second); err != nil {
		return nil, "", err
	}
	m.notify("notifications/initialized")
	list, err := m.rpc("tools/list", map[string]any{}, 20*time.Second)
	if err != nil {
		return nil, "", err
	}
	var names []string
	tools, _ := list["tools"].([]any)
	for _, x := range tools {
		if tm, ok := x.(map[string]any); ok {
			n, _ := tm["name"].(string)
			names = append(names, n)
		}
	}
	call, err := m.rpc("tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": text}}, 20*time.Second)
	if err != nil {
		return names, "", err
	}
	var sb strings.Builder
	content, _ := call["content"].([]any)
	for _, c := range content {
		if cm, ok := c.(map[string]any); ok && cm["type"] == "text" {
			s, _ := cm["text"].(string)
			sb.WriteString(s)
		}
	}
	return names, sb.String(), nil
}

// mcp-remote (npm) over stdio: the first run prints an authorization URL,
// which a person completes (dev login, consent if shown); then initialize,
// tools/list and tools/call go through it. A second run with the same
// config dir reuses the stored tokens: no new authorization. Both URL modes
// embedded, path mode on Postgres + Redis.
func TestMCPRemote(t *testing.T) {
	t.Parallel()
	needNodePackage(t, "mcp-remote")
	version := npmVersion(t, "mcp-remote")
	emb := sharedServer(t)
	runs := []struct {
		backend, mode string
		s             func(*testing.T) *server
		// shortTTL: access_token_ttl=60, no more than mcp-remote's 60 s
		// expiry margin, so it refreshes before every use (COMPATIBILITY.md).
		shortTTL bool
	}{
		{backendEmbedded, "path", func(*testing.T) *server { return emb }, false},
		{backendEmbedded, "host", func(*testing.T) *server { return emb }, false},
		{backendPostgres, "path", func(t *testing.T) *server { return productionServers(t, 1)[0] }, false},
		{backendEmbedded, "path", func(*testing.T) *server { return emb }, true},
	}
	for _, run := range runs {
		name := run.backend + "/" + run.mode
		var settings map[string]any
		if run.shortTTL {
			name += "/access_token_ttl=60"
			settings = map[string]any{"access_token_ttl": accessTTL}
		}
		t.Run(name, func(t *testing.T) {
			row := compatRow{Client: "mcp-remote", Package: "mcp-remote", Version: version, Mode: run.mode, Backend: run.backend}
			if run.shortTTL {
				row.Mode += " (access_token_ttl=60)"
			}
			recordCompat(t, &row, time.Now())
			s := run.s(t)
			tn := devLoginTenant(t, s, "mcpremote", settings)
			site := tn.urls(run.mode)
			cfg := t.TempDir()
			port, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			// First run: authorize, then use it.
			first, err := startMCPRemote(ctx, site.Resource, cfg, port)
			if err != nil {
				t.Fatal(err)
			}
			defer first.p.stop()
			var authURL string
			select {
			case authURL = <-first.authURL:
			case <-first.p.done:
				t.Fatalf("mcp-remote exited before asking for authorization: %v\n%s", first.p.err, tail(first.p.stderrText(), 3000))
			case <-time.After(30 * time.Second):
				t.Fatalf("mcp-remote printed no authorization URL:\n%s", tail(first.p.stderrText(), 3000))
			}
			redirect := fmt.Sprintf("http://localhost:%d/oauth/callback", port)
			if u, _ := url.Parse(authURL); u.Query().Get("redirect_uri") != redirect || u.Query().Get("resource") != site.Resource {
				t.Errorf("authorization URL redirect_uri=%q resource=%q, want %q and %q", u.Query().Get("redirect_uri"),
					u.Query().Get("resource"), redirect, site.Resource)
			}
			cb, pages, err := person(authURL, func(u *url.URL) bool { return u.Port() == fmt.Sprint(port) && u.Path == "/oauth/callback" })
			if err == nil {
				err = visit(cb)
			}
			if err != nil {
				t.Fatalf("authorizing: %v\nmcp-remote:\n%s", err, tail(first.p.stderrText(), 3000))
			}
			select {
			case <-first.ready:
			case <-time.After(30 * time.Second):
				t.Fatalf("mcp-remote did not connect after the authorization:\n%s\nwire:\n%s", tail(first.p.stderrText(), 3000), wireFor(site.Resource))
			}
			tools, echo, err := first.session("hello from mcp-remote")
			if err != nil {
				t.Fatalf("%v\nwire:\n%s", err, wireFor(site.Resource))
			}
			if strings.Join(tools, ",") != "add,countdown,echo,whoami" || echo != "hello from mcp-remote" {
				t.Errorf("tools %v echo %q", tools, echo)
			}
			first.p.stop()

			// Second run: the stored tokens are used; nobody logs in.
			second, err := startMCPRemote(ctx, site.Resource, cfg, port)
			if err != nil {
				t.Fatal(err)
			}
			defer second.p.stop()
			select {
			case <-second.ready:
			case u := <-second.authURL:
				t.Fatalf("the second run asked for a new authorization: %s", u)
			case <-time.After(30 * time.Second):
				t.Fatalf("the second run did not connect:\n%s", tail(second.p.stderrText(), 3000))
			}
			if _, echo, err := second.session("again, no login"); err != nil || echo != "again, no login" {
				t.Fatalf("second run: %q %v", echo, err)
			}
			second.p.stop()
			if b := append(first.p.blocked(), second.p.blocked()...); len(b) > 0 {
				t.Errorf("mcp-remote tried to reach %v (only loopback is allowed)", b)
			}
			// One registration, one code, both runs' tool calls on that client.
			clientID := clientIDOf(authURL)
			counts := auditCounts(t, s, tn.slug, clientID, func(c map[string]int) bool {
				return c["client.registered"] == 1 && c["code.issued"] == 1 && c["mcp.tool_called"] >= 2 &&
					(!run.shortTTL || c["token.refreshed"] >= 2)
			})
			// Its refreshes, even back to back, never trip reuse detection
			// (rotation grace, docs/RULES.md §5): the grant stays live.
			if c := auditCounts(t, s, tn.slug, clientID, func(map[string]int) bool { return true }); c["refresh.reused"] > 0 || c["grant.revoked"] > 0 {
				t.Errorf("refreshes were taken for reuse: %v", c)
			}
			wantDoctorNames(t, s, tn.slug, clientID, "mcp-remote", "mcp-remote (Node.js HTTP client)")
			row.Notes = fmt.Sprintf("person went through %v; second run reused the stored tokens", pages)
			if run.shortTTL {
				row.Notes += fmt.Sprintf("; %d refreshes (it refreshes tokens within 60 s of expiry, so every use here)", counts["token.refreshed"])
			}
			t.Logf("mcp-remote %s/%s: pages %v, audit %v", run.backend, run.mode, pages, counts)
		})
	}
}

func clientIDOf(authURL string) string {
	u, err := url.Parse(authURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("client_id")
}
