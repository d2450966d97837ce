package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
)

// expirableSource is the token source the Go SDK uses, with a switch that
// makes the current access token count as expired, so the next request
// refreshes it with the refresh token exactly as it would at expiry.
type expirableSource struct {
	mu      sync.Mutex
	ctx     context.Context
	cfg     *oauth2.Config
	inner   oauth2.TokenSource
	issued  []*oauth2.Token
	lastTok *oauth2.Token
}

func (s *expirableSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.inner.Token()
	if err == nil && (s.lastTok == nil || s.lastTok.AccessToken != t.AccessToken) {
		s.issued = append(s.issued, t)
		s.lastTok = t
	}
	return t, err
}

func (s *expirableSource) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.lastTok
	old.Expiry = time.Now().Add(-time.Minute)
	s.inner = s.cfg.TokenSource(s.ctx, &old)
}

// goSDKResult is what one Go SDK run observed.
type goSDKResult struct {
	tools           []string
	echo, echoAfter string
	tokens          []*oauth2.Token
	authURL         string
}

// runGoSDK connects the official Go SDK client (its auth package does the
// whole OAuth flow: 401 → PRM → AS metadata → DCR or CIMD → PKCE authorize →
// token) to a connector URL, lists and calls tools, forces a refresh and
// calls again.
func runGoSDK(t *testing.T, resource string, reg func(cfg *auth.AuthorizationCodeHandlerConfig), redirect string) goSDKResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := httpClient()
	hc.CheckRedirect = nil
	hc.Transport = uaTransport{ua: "gatehouse-e2e-go-sdk", base: hc.Transport}
	var res goSDKResult
	src := &expirableSource{}
	cfg := &auth.AuthorizationCodeHandlerConfig{
		RedirectURL: redirect,
		Client:      hc,
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			res.authURL = args.URL
			f := &flow{t: t, redirectURI: redirect}
			q := f.follow(args.URL)
			if e := q.Get("error"); e != "" {
				return nil, fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
			}
			return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		},
		RequestRefreshToken: true,
		NewTokenSource: func(ctx context.Context, c *oauth2.Config, tok *oauth2.Token) (oauth2.TokenSource, error) {
			src.ctx, src.cfg, src.inner = ctx, c, c.TokenSource(ctx, tok)
			return src, nil
		},
	}
	reg(cfg)
	h, err := auth.NewAuthorizationCodeHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "gatehouse-e2e-go-sdk", Version: "1.0.0"}, nil)
	connect := func() *mcp.ClientSession {
		sess, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, HTTPClient: hc, OAuthHandler: h, MaxRetries: -1}, nil)
		if err != nil {
			t.Fatalf("Go SDK connect to %s: %v\nwire (TLS front):\n%s", resource, err, wireFor(resource))
		}
		return sess
	}
	sess := connect()
	lt, err := sess.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v\nwire (TLS front):\n%s", err, wireFor(resource))
	}
	for _, tl := range lt.Tools {
		res.tools = append(res.tools, tl.Name)
	}
	res.echo = echoText(t, ctx, sess, resource, "hello from go")
	sess.Close()

	// The access token expires: the SDK's token source refreshes it.
	src.expire()
	sess = connect()
	res.echoAfter = echoText(t, ctx, sess, resource, "after refresh")
	sess.Close()
	res.tokens = src.issued
	return res
}

func echoText(t *testing.T, ctx context.Context, sess *mcp.ClientSession, resource, text string) string {
	t.Helper()
	r, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
	if err != nil {
		t.Fatalf("tools/call echo: %v\nwire (TLS front):\n%s", err, wireFor(resource))
	}
	var sb strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			sb.WriteString(tc.Text)
		}
	}
	return sb.String()
}

func checkGoSDK(t *testing.T, r goSDKResult, issuer string) {
	t.Helper()
	if strings.Join(r.tools, ",") != "add,countdown,echo,whoami" {
		t.Errorf("tools %v", r.tools)
	}
	if r.echo != "hello from go" || r.echoAfter != "after refresh" {
		t.Errorf("echo %q / %q", r.echo, r.echoAfter)
	}
	if len(r.tokens) != 2 || r.tokens[0].RefreshToken == "" || r.tokens[1].RefreshToken == r.tokens[0].RefreshToken ||
		r.tokens[1].AccessToken == r.tokens[0].AccessToken {
		t.Errorf("expected a refresh that rotated both tokens; saw %d tokens", len(r.tokens))
	}
	if !strings.HasPrefix(r.authURL, issuer+"/oauth/authorize?") {
		t.Errorf("authorization URL %s is not under the issuer %s", r.authURL, issuer)
	}
}

func goSDKFlows(t *testing.T, s *server) {
	for _, mode := range modes {
		t.Run(mode+"/dcr", func(t *testing.T) {
			tn := newTenant(t, s, "gosdk", nil)
			site := tn.urls(mode)
			redirect := "http://127.0.0.1:47123/callback"
			r := runGoSDK(t, site.Resource, func(cfg *auth.AuthorizationCodeHandlerConfig) {
				cfg.DynamicClientRegistrationConfig = &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
					ClientName: "Gatehouse e2e (Go SDK)", RedirectURIs: []string{redirect},
					GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
					TokenEndpointAuthMethod: "none",
				}}
			}, redirect)
			checkGoSDK(t, r, site.Issuer)
			u, _ := url.Parse(r.authURL)
			if !strings.HasPrefix(u.Query().Get("client_id"), "dcr_") && u.Query().Get("client_id") == "" {
				t.Errorf("no DCR client id in %s", r.authURL)
			}
		})
	}
}

// The official Go SDK client, DCR, in both URL modes (embedded mode).
func TestGoSDKClientDCR(t *testing.T) {
	t.Parallel()
	goSDKFlows(t, sharedServer(t))
}

// The official Go SDK client with a client ID metadata document (CIMD):
// the binary fetches the document from the TLS fake.
func TestGoSDKClientCIMD(t *testing.T) {
	inEachMode(t, func(t *testing.T, s *server, mode string) {
		tn := newTenant(t, s, "gocimd", nil)
		site := tn.urls(mode)
		redirect := "http://127.0.0.1:47124/callback"
		docURL := "https://client.e2e.test/go-sdk/" + tn.slug + "-" + mode + ".json"
		cimd.put(docURL, map[string]any{
			"client_id": docURL, "client_name": "Gatehouse e2e (Go SDK, CIMD)", "redirect_uris": []string{redirect},
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
			"token_endpoint_auth_method": "none",
		})
		r := runGoSDK(t, site.Resource, func(cfg *auth.AuthorizationCodeHandlerConfig) {
			cfg.ClientIDMetadataDocumentConfig = &auth.ClientIDMetadataDocumentConfig{URL: docURL}
		}, redirect)
		checkGoSDK(t, r, site.Issuer)
		u, _ := url.Parse(r.authURL)
		if u.Query().Get("client_id") != docURL {
			t.Errorf("client_id %q, want the document URL", u.Query().Get("client_id"))
		}
		if cimd.fetches(docURL) == 0 {
			t.Errorf("the binary never fetched %s", docURL)
		}
		// The client is known to the tenant under its URL.
		st, m := s.api(t, http.MethodGet, "/api/v1/tenants/"+tn.slug+"/clients", nil)
		if st != http.StatusOK || !strings.Contains(fmt.Sprint(m["items"]), docURL) {
			t.Errorf("clients: %d %v", st, m)
		}
	})
}
