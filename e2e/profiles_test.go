package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Client profiles: scripted reproductions of what each real client was
// seen doing (docs/RULES.md §10), each against the real binary in both URL modes.

// Claude.ai: its CIMD client id, User-Agent Claude-User, and two refreshes
// of one refresh token racing from two connections (two source IPs) that
// must get the same successor (docs/RULES.md §5 refresh grace).
func TestProfileClaudeAI(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	const ua = "Claude-User"
	for _, mode := range modes {
		t.Run(mode+"/cimd", func(t *testing.T) {
			f := discoveredFlow(t, s, "claude", mode, ua)
			if f.as["client_id_metadata_document_supported"] != true {
				t.Fatalf("metadata does not advertise CIMD: %v", f.as)
			}
			before := cimd.fetches(ClaudeCIMD)
			f.clientID, f.redirectURI = ClaudeCIMD, "https://claude.ai/api/mcp/auth_callback"
			code := f.authorize(f.endpoint("authorization_endpoint"), url.Values{"resource": {f.site.Resource}, "scope": {"mcp"}})
			if n := cimd.fetches(ClaudeCIMD); n == 0 {
				t.Fatalf("the binary never fetched %s", ClaudeCIMD)
			} else if n == before {
				t.Logf("CIMD document served from the binary's cache (fetched %d times so far)", n)
			}
			access, refresh := f.tokens(f.exchange(code, url.Values{"resource": {f.site.Resource}}))
			if got := f.useToken(access, "hi claude"); got != "hi claude" {
				t.Fatalf("echo %q", got)
			}
			if refresh == "" {
				t.Fatal("no refresh token")
			}
			// Two connections from two IPs refresh the same token at once.
			var wg sync.WaitGroup
			results := make([]answer, 2)
			for i, src := range []string{"127.0.0.2", "127.0.0.3"} {
				wg.Add(1)
				go func(i int, src string) {
					defer wg.Done()
					g := newFlow(t, f.site, ua)
					g.as, g.clientID = f.as, f.clientID
					g.hc.Transport = uaTransport{ua: ua, base: &http.Transport{TLSClientConfig: httpClient().Transport.(*http.Transport).TLSClientConfig,
						DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
							d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
							host, port, _ := net.SplitHostPort(addr)
							if strings.HasSuffix(host, ".localhost") {
								addr = net.JoinHostPort("127.0.0.1", port)
							}
							return d.DialContext(ctx, network, addr)
						}}}
					results[i] = g.refresh(refresh, nil)
				}(i, src)
			}
			wg.Wait()
			a1, r1 := f.tokens(results[0])
			a2, r2 := f.tokens(results[1])
			if r1 != r2 || r1 == refresh {
				t.Fatalf("racing refreshes got different successors (or none): %.8s… vs %.8s…", r1, r2)
			}
			for _, a := range []string{a1, a2} {
				if got := f.useToken(a, "after race"); got != "after race" {
					t.Fatalf("echo after race %q", got)
				}
			}
			// The successor keeps working: the client is not logged out.
			a3, _ := f.tokens(f.refresh(r1, nil))
			f.useToken(a3, "still in")
		})
		t.Run(mode+"/dcr-client_secret_post", func(t *testing.T) {
			// Claude.ai's DCR asks for client_secret_post and reads the
			// method from the response (docs/RULES.md §5).
			f := discoveredFlow(t, s, "claudedcr", mode, ua)
			reg := f.register(map[string]any{
				"client_name": "Claude", "redirect_uris": []string{"https://claude.ai/api/mcp/auth_callback"},
				"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
				"token_endpoint_auth_method": "client_secret_post",
			})
			method, _ := reg["token_endpoint_auth_method"].(string)
			switch method {
			case "client_secret_post":
				if f.clientSecret == "" {
					t.Fatal("client_secret_post without a client_secret")
				}
			case "none":
				if f.clientSecret != "" {
					t.Fatal("method none with a client_secret")
				}
			default:
				t.Fatalf("token_endpoint_auth_method %q", method)
			}
			t.Logf("DCR asked client_secret_post, got %q", method)
			access, refresh := f.connect(nil)
			f.useAndRefresh(access, refresh, "dcr")
		})
	}
}

// ChatGPT: only the path-inserted PRM (no fallback), its redirect URI, and
// no scope when it reconnects.
func TestProfileChatGPT(t *testing.T) {
	const ua = "openai-mcp/1.0.0"
	inEachMode(t, func(t *testing.T, s *server, mode string) {
		tn := newTenant(t, s, "chatgpt", nil)
		f := newFlow(t, tn.urls(mode), ua)
		prm := f.probe(http.MethodPost)
		if prm != f.site.ProtectedResourceMetadata[0] {
			t.Fatalf("401 names %s, want the path-inserted PRM %s", prm, f.site.ProtectedResourceMetadata[0])
		}
		f.discover(prm) // fails the test on anything but 200 there
		f.registerPublic("ChatGPT", []string{"https://chatgpt.com/connector_platform_oauth_redirect"}, nil)
		access, _ := f.connect(url.Values{"scope": {"mcp"}})
		f.useToken(access, "chatgpt")
		// Reconnect: no scope parameter at all; the default scopes apply.
		f.newPKCE()
		code := f.authorize(f.endpoint("authorization_endpoint"), url.Values{"resource": {f.site.Resource}})
		a := f.exchange(code, url.Values{"resource": {f.site.Resource}})
		access, _ = f.tokens(a)
		if sc, _ := a.json()["scope"].(string); sc != "" && sc != "mcp" {
			t.Errorf("scope without a scope request: %q, want the default mcp", sc)
		}
		f.useToken(access, "chatgpt again")
	})
}

// Claude Code: a localhost callback, and resource sent with a trailing
// slash (claude-code #52871): accepted as the same resource.
func TestProfileClaudeCode(t *testing.T) {
	const ua = "claude-code/2.0.14"
	inEachMode(t, func(t *testing.T, s *server, mode string) {
		f := discoveredFlow(t, s, "claudecode", mode, ua)
		f.registerPublic("Claude Code", []string{"http://localhost:54545/callback"}, nil)
		slash := f.site.Resource + "/"
		code := f.authorize(f.endpoint("authorization_endpoint"), url.Values{"resource": {slash}, "scope": {"mcp"}})
		access, refresh := f.tokens(f.exchange(code, url.Values{"resource": {slash}}))
		f.useToken(access, "claude code")
		// Both spellings of the connector URL take the token; no redirect between them.
		for _, u := range []string{f.site.Resource, slash} {
			if st, _, body := rawMCP(u, access); st != http.StatusOK {
				t.Errorf("POST %s with the token: %d %s", u, st, body)
			}
		}
		a2, _ := f.tokens(f.refresh(refresh, url.Values{"resource": {slash}}))
		f.useToken(a2, "refreshed")
	})
}

// Cursor: a private-use scheme redirect with application_type "web".
func TestProfileCursor(t *testing.T) {
	const ua = "Cursor/1.7.0"
	inEachMode(t, func(t *testing.T, s *server, mode string) {
		f := discoveredFlow(t, s, "cursor", mode, ua)
		f.registerPublic("Cursor", []string{"cursor://anysphere.cursor-mcp/oauth/callback"}, map[string]any{"application_type": "web"})
		access, refresh := f.connect(url.Values{"scope": {"mcp"}})
		f.useAndRefresh(access, refresh, "cursor")
	})
}

// VS Code: registers a 127.0.0.1 callback and https://vscode.dev/redirect,
// then uses the loopback one on another port (RFC 8252 §7.3) and the web one.
func TestProfileVSCode(t *testing.T) {
	const ua = "Visual Studio Code/1.105.0"
	inEachMode(t, func(t *testing.T, s *server, mode string) {
		f := discoveredFlow(t, s, "vscode", mode, ua)
		f.registerPublic("Visual Studio Code", []string{"http://127.0.0.1:33418/", "https://vscode.dev/redirect"}, nil)
		for _, redirect := range []string{"http://127.0.0.1:61234/", "https://vscode.dev/redirect"} {
			f.redirectURI = redirect
			f.newPKCE()
			access, _ := f.connect(url.Values{"scope": {"mcp"}})
			f.useToken(access, "vscode "+redirect)
		}
	})
}

// A client that, after the path-mode metadata 404s at the host root, calls
// /authorize and /token at the root (claude-ai-mcp #716): the tenant is
// found from resource (or the client id). In host mode the root is the
// tenant's own, so the 2025-03-26 default endpoints just work.
func TestProfileRootAuthorizeFallback(t *testing.T) {
	const ua = "Claude-User"
	inEachMode(t, func(t *testing.T, s *server, mode string) {
		f := discoveredFlow(t, s, "rootauth", mode, ua)
		f.registerPublic("Claude", []string{"https://claude.ai/api/mcp/auth_callback"}, nil)
		u, _ := url.Parse(f.site.Resource)
		root := u.Scheme + "://" + u.Host
		rootMeta := f.get(root + "/.well-known/oauth-authorization-server")
		if mode == tenants.ModePath && rootMeta.status != http.StatusNotFound {
			t.Fatalf("path mode root metadata: %s (the scenario needs its 404)", rootMeta)
		}
		for _, withResource := range []bool{true, false} {
			f.newPKCE()
			extra := url.Values{}
			if withResource {
				extra.Set("resource", f.site.Resource)
			}
			code := f.authorize(root+"/authorize", extra)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {f.redirectURI},
				"code_verifier": {f.verifier}, "client_id": {f.clientID}}
			if withResource {
				form.Set("resource", f.site.Resource)
			}
			access, _ := f.tokens(f.postForm(root+"/token", form, nil))
			f.useToken(access, fmt.Sprintf("root resource=%v", withResource))
		}
	})
}

// pollDoctor polls the doctor until ok(report) holds (audit events are
// written in batches), failing after timeout.
func pollDoctor(t *testing.T, s *server, slug string, timeout time.Duration, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[string]any
	for time.Now().Before(deadline) {
		st, m := s.api(t, http.MethodGet, "/api/v1/tenants/"+slug+"/doctor?self_check=false", nil)
		if st != http.StatusOK {
			t.Fatalf("doctor: %d %v", st, m)
		}
		last = m
		if ok(m) {
			return m
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("doctor never showed the expected diagnosis; last report: %v", last)
	return nil
}
