package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/gatehouse/gatehouse/tenants/testidp"
)

type consoleResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Text  string `json:"text"`
	Steps []struct {
		Name        string   `json:"name"`
		Screenshots []string `json:"screenshots"`
	} `json:"steps"`
	Overflow       []string `json:"overflow"`
	Dialogs        []string `json:"dialogs"`
	Secrets        []string `json:"secrets"`
	ConnectorCode  int      `json:"connectorStatus"`
	ConnectorReply string   `json:"connectorBody"`
}

// runConsole runs one phase of e2e/ts/console.mjs.
func runConsole(t *testing.T, phase string, arg map[string]any) consoleResult {
	t.Helper()
	arg["phase"] = phase
	raw, _ := json.Marshal(arg)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var r consoleResult
	if stderr, err := runDriver(ctx, "ts/console.mjs", string(raw), &r); err != nil || !r.OK {
		t.Fatalf("console %s phase failed: %v %s\npage: %s\nsteps: %+v\ndriver: %s", phase, err, r.Error, r.Text, r.Steps, tail(stderr, 2000))
	}
	for _, st := range r.Steps {
		t.Logf("%s: %s", st.Name, strings.Join(st.Screenshots, " "))
	}
	if len(r.Dialogs) > 0 {
		t.Errorf("a page opened dialogs (script ran): %v", r.Dialogs)
	}
	if len(r.Overflow) > 0 {
		t.Errorf("pages scroll sideways on a 390 px phone: %v", r.Overflow)
	}
	return r
}

// connectThroughIdP connects the official Go SDK client (DCR, PKCE) to the
// connector; the person signs in at the team's OpenID Connect provider
// (mockoidc) and allows on the consent page. The client's name is hostile
// markup: every page must show it as text.
func connectThroughIdP(t *testing.T, resource string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := httpClient()
	hc.CheckRedirect = nil
	redirect := "http://127.0.0.1:47199/callback"
	var consent bool
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		RedirectURL: redirect, Client: hc,
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			ClientName: "<script>alert(1)</script> Agent", RedirectURIs: []string{redirect},
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: "none",
		}},
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			final, pages, err := person(args.URL, func(u *url.URL) bool { return strings.HasPrefix(u.String(), redirect) })
			if err != nil {
				return nil, err
			}
			consent = strings.Contains(strings.Join(pages, ","), "consent")
			q := final.Query()
			if e := q.Get("error"); e != "" {
				return nil, fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
			}
			return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "gatehouse-e2e-console", Version: "1.0.0"}, nil)
	sess, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, HTTPClient: hc, OAuthHandler: h, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect %s: %v\nwire:\n%s", resource, err, wireFor(resource))
	}
	defer sess.Close()
	lt, err := sess.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range lt.Tools {
		names = append(names, tl.Name)
	}
	if got := echoText(t, ctx, sess, resource, "hello from the console test"); got != "hello from the console test" {
		t.Errorf("echo: %q", got)
	}
	if !consent {
		t.Error("no consent page was shown")
	}
	return names
}

// The issue 11 walk in a real browser: sign up, verify the email, create a
// team, invite a viewer who is refused an admin action, configure and test
// an IdP, connect an MCP client end to end, see the user in the Users view,
// revoke all their access, reset a password, turn on TOTP and sign in with
// it, and an operator suspends the team, whose connector then answers a
// clear error. Screenshots at 1280 px and 390 px in e2e/testdata/out/console.
//
// Issue 13, nothing secret in logs: the server logs at debug level, and
// every secret the walk handled — passwords, verify/invite/reset link
// tokens, session cookies, the TOTP secret and recovery codes, an API key,
// the IdP client secret, and the upstream IdP's access, refresh and ID
// tokens from the callback — is searched for in every log line
// (TestNoSecretsInDebugLogs covers the upstream refresh worker).
func TestConsoleInChromium(t *testing.T) {
	needNodePackage(t, "playwright-core")
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		msg := "Debian's chromium is not installed (run scripts/e2e-deps.sh): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	m, upstream := startUpstreamIdP(t)

	s := ownServer(t, serverOpts{Env: []string{"GATEHOUSE_SIGNUP=open", "GATEHOUSE_LOG_LEVEL=debug"}})
	spki, err := frontSPKI(s)
	if err != nil {
		t.Fatal(err)
	}
	shots := outDir("console")
	_ = os.RemoveAll(shots)
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	connector := s.base + "/t/acme/mcp"
	arg := map[string]any{"base": s.base, "spki": spki, "outDir": shots, "upstream": s.direct + "/_demo/mcp", "connector": connector,
		"mock": map[string]string{"issuer": m.Issuer(), "clientID": m.ClientID, "clientSecret": m.ClientSecret},
		// `gatehouse admin grant` confirms the first account, as at the terminal.
		"gatehouse": binPath, "gatehouseEnv": s.env, "gatehouseDir": s.dir}
	setup := runConsole(t, "setup", arg)

	tools := connectThroughIdP(t, connector)
	if !strings.Contains(strings.Join(tools, ","), "echo") {
		t.Fatalf("tools %v", tools)
	}

	arg["userEmail"] = mockoidc.DefaultUser().Email
	r := runConsole(t, "after", arg)
	if r.ConnectorCode != http.StatusForbidden || !strings.Contains(r.ConnectorReply, "suspended by the platform operator") {
		t.Fatalf("suspended connector answered %d %s", r.ConnectorCode, r.ConnectorReply)
	}
	t.Logf("screenshots in %s", relOut(shots))

	secrets := append(append(append([]string{m.ClientSecret}, r.Secrets...), setup.Secrets...), upstream.all()...)
	t.Logf("secrets: %d from the pages, %d upstream IdP tokens", len(r.Secrets)+len(setup.Secrets), len(upstream.all()))
	assertNoSecretsInLog(t, s, secrets)
}

// startUpstreamIdP starts an OpenID Connect provider (mockoidc) on a
// loopback port for a team's sign-in, recording the tokens it issues.
func startUpstreamIdP(t *testing.T) (*mockoidc.MockOIDC, *upstreamTokens) {
	t.Helper()
	upstream := &upstreamTokens{}
	m := testidp.StartOIDC(t, func(m *mockoidc.MockOIDC) error { return m.AddMiddleware(upstream.record) })
	return m, upstream
}

// upstreamTokens records every token the upstream IdP (mockoidc) hands to
// Gatehouse: at the callback's code exchange and at each refresh. mockoidc
// writes expires_in in nanoseconds (a Go Duration); the recorder says 60
// seconds, as a real IdP with one-minute tokens would (RFC 6749 §5.1), so
// Gatehouse's refresh worker finds the token due.
type upstreamTokens struct {
	mu       sync.Mutex
	tokens   []string
	refreshN int
}

func (u *upstreamTokens) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/token") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		var body map[string]any
		if json.Unmarshal(out, &body) == nil && body["access_token"] != nil {
			body["expires_in"] = 60
			out, _ = json.Marshal(body)
			u.mu.Lock()
			for _, k := range []string{"access_token", "refresh_token", "id_token"} {
				if v, _ := body[k].(string); v != "" {
					u.tokens = append(u.tokens, v)
				}
			}
			if r.PostFormValue("grant_type") == "refresh_token" {
				u.refreshN++
			}
			u.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

func (u *upstreamTokens) refreshes() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.refreshN
}

func (u *upstreamTokens) all() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.tokens...)
}
