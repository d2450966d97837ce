package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testidp"
)

// Enterprise-Managed Authorization end to end (docs/RULES.md §11): an enterprise
// IdP (OIDC + RFC 8693 token exchange issuing ID-JAGs, tenants/testidp)
// served over TLS at https://idp.e2e.test, which the binary reaches through
// the test host map and CA, and the official Go SDK's extauth client.

const entIdPHost = "idp.e2e.test"

// entIdP maps its own client "mcp-client" to the client id "ent-e2e" that
// each test tenant pre-registers (client ids are per tenant).
var entIdP = func() *testidp.IdP {
	i := testidp.New()
	i.Issuer = "https://" + entIdPHost
	i.ClientMap["mcp-client"] = "ent-e2e"
	return i
}()

// entClient is the test's HTTP client: the TLS front (*.localhost) and the
// IdP (idp.e2e.test) on loopback, trusting the test CA; it records the
// jwt-bearer assertions it sends (for the replay cases).
type entClient struct {
	*http.Client
	mu         sync.Mutex
	assertions []string
}

func newEntClient() *entClient {
	ec := &entClient{}
	base := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if h, _, _ := net.SplitHostPort(addr); h == entIdPHost {
				addr = cimd.ln.Addr().String()
			}
			return dialLoopback(ctx, network, addr)
		}}
	ec.Client = &http.Client{Timeout: 30 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth/token") && r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(b)))
			if f, _ := url.ParseQuery(string(b)); f.Get("grant_type") == tenants.GrantJWTBearer {
				ec.mu.Lock()
				ec.assertions = append(ec.assertions, f.Get("assertion"))
				ec.mu.Unlock()
			}
		}
		return base.RoundTrip(r)
	})}
	return ec
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// entTenant makes a tenant trusting the IdP, with client "ent-e2e".
func entTenant(t *testing.T, s *server) (tenant, string) {
	t.Helper()
	tn := newTenant(t, s, "ent", nil)
	st, m := s.api(t, http.MethodPost, "/api/v1/tenants/"+tn.slug+"/clients", map[string]any{"client_id": "ent-e2e", "grant_types": []string{"refresh_token"}})
	if st != http.StatusCreated {
		t.Fatalf("client: %d %v", st, m)
	}
	secret := m["client_secret"].(string)
	if st, m := s.api(t, http.MethodPost, "/api/v1/tenants/"+tn.slug+"/enterprise-idps", map[string]any{"issuer": entIdP.Issuer, "allowed_clients": []string{"ent-e2e"}}); st != http.StatusCreated {
		t.Fatalf("trust: %d %v", st, m)
	}
	return tn, secret
}

// entGoSDK runs the Go SDK's enterprise flow: SSO at the IdP
// (extauth.PerformOIDCLogin), then extauth.EnterpriseHandler on the
// connector's 401: token exchange → ID-JAG → jwt-bearer → access token →
// tools/call through the gateway.
func entGoSDK(t *testing.T, s *server, mode string) {
	tn, secret := entTenant(t, s)
	site := tn.urls(mode)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := newEntClient()
	redirect := "http://127.0.0.1:47300/callback"
	oidcTok, err := extauth.PerformOIDCLogin(ctx, &extauth.OIDCLoginConfig{IssuerURL: entIdP.Issuer,
		Credentials: &oauthex.ClientCredentials{ClientID: "mcp-client"}, RedirectURL: redirect, Scopes: []string{"openid", "email"}, HTTPClient: hc.Client},
		func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			noFollow := *hc.Client
			noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := noFollow.Get(args.URL) // the IdP signs alice in without a form
			if err != nil {
				return nil, err
			}
			resp.Body.Close()
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(loc.String(), redirect) {
				return nil, fmt.Errorf("IdP answered %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			return &auth.AuthorizationResult{Code: loc.Query().Get("code"), State: loc.Query().Get("state")}, nil
		})
	if err != nil {
		t.Fatalf("SSO at the IdP: %v", err)
	}
	h, err := extauth.NewEnterpriseHandler(&extauth.EnterpriseHandlerConfig{
		IdPIssuerURL: entIdP.Issuer, IdPCredentials: &oauthex.ClientCredentials{ClientID: "mcp-client"},
		MCPAuthServerURL: site.Issuer, MCPResourceURI: site.Resource, MCPScopes: []string{"mcp"},
		MCPCredentials: &oauthex.ClientCredentials{ClientID: "ent-e2e", ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: secret}},
		IDTokenFetcher: func(context.Context) (*oauth2.Token, error) { return oidcTok, nil }, HTTPClient: hc.Client,
	})
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "gatehouse-e2e-enterprise", Version: "1.0.0"}, nil)
	sess, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: site.Resource, HTTPClient: hc.Client, OAuthHandler: h, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect with the enterprise handler: %v\nwire:\n%s", err, wireFor(site.Resource))
	}
	if got := echoText(t, ctx, sess, site.Resource, "hello enterprise"); got != "hello enterprise" {
		t.Fatalf("echo %q", got)
	}
	sess.Close()
	hc.mu.Lock()
	jags := append([]string{}, hc.assertions...)
	hc.mu.Unlock()
	if len(jags) != 1 {
		t.Fatalf("%d jwt-bearer requests, want 1", len(jags))
	}
	// The ID-JAG is single use; presented again, or at the other URL
	// mode's issuer, nothing is issued.
	other := tn.urls(tenants.ModeHost)
	if mode == tenants.ModeHost {
		other = tn.urls(tenants.ModePath)
	}
	for name, endpoint := range map[string]string{"replayed": site.Issuer + "/oauth/token", "other URL mode": other.Issuer + "/oauth/token"} {
		resp, err := hc.PostForm(endpoint, url.Values{"grant_type": {tenants.GrantJWTBearer}, "assertion": {jags[0]}, "client_id": {"ent-e2e"}, "client_secret": {secret}})
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 400 || out["error"] != "invalid_grant" || out["access_token"] != nil {
			t.Errorf("ID-JAG %s: %d %v", name, resp.StatusCode, out)
		}
	}
	// The audit trail names the enterprise path and each refusal's reason
	// (events are written in batches: poll).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		st, m := s.api(t, http.MethodGet, "/api/v1/tenants/"+tn.slug+"/audit?action=token.issued", nil)
		a := toJSONString(m)
		if st == 200 && strings.Contains(a, `"`+tenants.DetailEnterpriseIssuer+`":"`+entIdP.Issuer+`"`) && strings.Contains(a, `"reason":"replayed"`) &&
			strings.Contains(a, `"reason":"wrong_audience"`) && strings.Contains(a, tenants.GrantProfileIDJAG) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("audit: %d %s", st, a)
			break
		}
	}
}

func toJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The Go SDK's Enterprise-Managed Authorization client, both URL modes,
// embedded mode (SQLite).
func TestEnterpriseGoSDK(t *testing.T) {
	inEachMode(t, entGoSDK)
}

// The same in production mode (Postgres + Redis).
func TestEnterpriseGoSDKPostgres(t *testing.T) {
	t.Parallel()
	s := productionServers(t, 1)[0]
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { entGoSDK(t, s, mode) })
	}
}

// Machine clients of the TypeScript SDK (ClientCredentialsProvider with a
// secret, PrivateKeyJwtProvider with a key) get client_credentials tokens
// as pre-registered clients and call a tool, in both URL modes.
func TestMachineClientsTypeScript(t *testing.T) {
	t.Parallel()
	needNode(t)
	s := sharedServer(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemFile := filepath.Join(t.TempDir(), "machine-key.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "m1", Use: "sig"}}})
	var set map[string]any
	_ = json.Unmarshal(jwks, &set)
	tn := newTenant(t, s, "machine", map[string]any{"settings": map[string]any{"client_credentials": true}})
	st, m := s.api(t, http.MethodPost, "/api/v1/tenants/"+tn.slug+"/clients", map[string]any{"client_id": "m-secret", "grant_types": []string{"client_credentials"}})
	if st != http.StatusCreated {
		t.Fatalf("%d %v", st, m)
	}
	secret := m["client_secret"].(string)
	if st, m := s.api(t, http.MethodPost, "/api/v1/tenants/"+tn.slug+"/clients", map[string]any{"client_id": "m-key", "grant_types": []string{"client_credentials"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": set}); st != http.StatusCreated {
		t.Fatalf("%d %v", st, m)
	}
	for _, mode := range modes {
		site := tn.urls(mode)
		for _, tc := range []struct{ kind, id, cred, auth string }{
			{"secret", "m-secret", secret, "client_secret_"},
			{"private_key_jwt", "m-key", pemFile, "private_key_jwt"},
		} {
			t.Run(mode+"/"+tc.kind, func(t *testing.T) {
				out, err := runNode(t, 60*time.Second, "ts/machine.mjs", tc.kind, site.Resource, site.Issuer, tc.id, tc.cred)
				var r struct {
					OK        bool     `json:"ok"`
					Echo      string   `json:"echo"`
					TokenType string   `json:"tokenType"`
					TokenAuth []string `json:"tokenAuth"`
					Error     string   `json:"error"`
				}
				_ = json.Unmarshal(out, &r)
				if err != nil || !r.OK || r.Echo != "hello from a machine" || len(r.TokenAuth) == 0 || !strings.HasPrefix(r.TokenAuth[0], tc.auth) {
					t.Fatalf("%s: %v %+v\n%s\nwire:\n%s", tc.kind, err, r, out, wireFor(site.Resource))
				}
			})
		}
	}
}

// A DPoP-bound token (RFC 9449) works at the connector with its proof and
// is refused without it, with a proof for another URL, or replayed.
func TestDPoPBoundToken(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	tn := newTenant(t, s, "dpop", map[string]any{"settings": map[string]any{"client_credentials": true}})
	st, m := s.api(t, http.MethodPost, "/api/v1/tenants/"+tn.slug+"/clients", map[string]any{"client_id": "d-1", "grant_types": []string{"client_credentials"}})
	if st != http.StatusCreated {
		t.Fatalf("%d %v", st, m)
	}
	secret := m["client_secret"].(string)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hc := newEntClient()
	for _, mode := range modes {
		site := tn.urls(mode)
		other := tn.urls(tenants.ModeHost).Resource
		if mode == tenants.ModeHost {
			other = tn.urls(tenants.ModePath).Resource
		}
		t.Run(mode, func(t *testing.T) {
			tokenURL := site.Issuer + "/oauth/token"
			req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("d-1", secret)
			req.Header.Set("DPoP", testidp.DPoPProof(key, "POST", tokenURL, "", nil))
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var tok map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&tok)
			resp.Body.Close()
			if resp.StatusCode != 200 || tok["token_type"] != "DPoP" {
				t.Fatalf("token: %d %v", resp.StatusCode, tok)
			}
			at := tok["access_token"].(string)
			call := func(auth, proof string) (int, string) {
				req, _ := http.NewRequest(http.MethodPost, site.Resource, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Authorization", auth)
				if proof != "" {
					req.Header.Set("DPoP", proof)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode, strings.Join(resp.Header.Values("WWW-Authenticate"), " | ")
			}
			proof := testidp.DPoPProof(key, "POST", site.Resource, at, nil)
			if st, ch := call("DPoP "+at, proof); st != 200 {
				t.Fatalf("with its proof: %d %s", st, ch)
			}
			for name, c := range map[string][2]string{
				"without its proof":     {"DPoP " + at, ""},
				"as a bearer token":     {"Bearer " + at, ""},
				"proof for another URL": {"DPoP " + at, testidp.DPoPProof(key, "POST", other, at, nil)},
				"replayed proof":        {"DPoP " + at, proof},
			} {
				if st, ch := call(c[0], c[1]); st != 401 || !strings.Contains(ch, "DPoP algs=") || !strings.Contains(ch, "error=") {
					t.Errorf("%s: %d %s", name, st, ch)
				}
			}
		})
	}
}
