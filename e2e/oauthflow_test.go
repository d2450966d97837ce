package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse/gatehouse/tenants"
)

// flow is a scripted OAuth client: each step is one HTTP exchange, so a
// client profile can do exactly what the real client was seen doing.
type flow struct {
	t    *testing.T
	hc   *http.Client
	ua   string
	site tenants.SiteURLs

	prm    map[string]any
	as     map[string]any
	client map[string]any // registration response

	clientID, clientSecret string
	redirectURI            string
	verifier, challenge    string
}

func newFlow(t *testing.T, site tenants.SiteURLs, ua string) *flow {
	hc := httpClient()
	hc.Transport = uaTransport{ua: ua, base: hc.Transport}
	f := &flow{t: t, hc: hc, ua: ua, site: site}
	f.newPKCE()
	return f
}

func (f *flow) newPKCE() {
	f.verifier = tenants.RandomToken() + tenants.RandomToken()[:10]
	sum := sha256.Sum256([]byte(f.verifier))
	f.challenge = base64.RawURLEncoding.EncodeToString(sum[:])
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(a.body, &m)
	return m
}

func (a answer) String() string {
	return fmt.Sprintf("HTTP %d %s", a.status, strings.TrimSpace(string(a.body)))
}

func (f *flow) do(method, u string, body io.Reader, hdr map[string]string) answer {
	f.t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *flow) get(u string) answer { return f.do(http.MethodGet, u, nil, nil) }

func (f *flow) postForm(u string, form url.Values, hdr map[string]string) answer {
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
	for k, v := range hdr {
		h[k] = v
	}
	return f.do(http.MethodPost, u, strings.NewReader(form.Encode()), h)
}

func (f *flow) postJSON(u string, v any) answer {
	b, _ := json.Marshal(v)
	return f.do(http.MethodPost, u, strings.NewReader(string(b)), map[string]string{"Content-Type": "application/json", "Accept": "application/json"})
}

var rmParam = regexp.MustCompile(`resource_metadata="([^"]+)"`)

// probe sends an unauthenticated MCP request and returns the absolute PRM
// URL from the 401's WWW-Authenticate (RFC 9728 §5.1).
func (f *flow) probe(method string) string {
	f.t.Helper()
	var a answer
	if method == http.MethodGet {
		a = f.do(http.MethodGet, f.site.Resource, nil, map[string]string{"Accept": "text/event-stream"})
	} else {
		a = f.do(http.MethodPost, f.site.Resource, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`),
			map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
	}
	if a.status != http.StatusUnauthorized {
		f.t.Fatalf("unauthenticated %s %s: %s, want 401", method, f.site.Resource, a)
	}
	m := rmParam.FindStringSubmatch(a.header.Get("WWW-Authenticate"))
	if m == nil || !strings.HasPrefix(m[1], "http") {
		f.t.Fatalf("401 without an absolute resource_metadata: %q", a.header.Get("WWW-Authenticate"))
	}
	return m[1]
}

// discover reads the PRM at prmURL and the AS metadata (RFC 8414 §3.1
// path-inserted URL for the issuer it names).
func (f *flow) discover(prmURL string) {
	f.t.Helper()
	a := f.get(prmURL)
	if a.status != http.StatusOK {
		f.t.Fatalf("PRM %s: %s", prmURL, a)
	}
	f.prm = a.json()
	if f.prm["resource"] != f.site.Resource {
		f.t.Fatalf("PRM resource %v, want %s", f.prm["resource"], f.site.Resource)
	}
	servers, _ := f.prm["authorization_servers"].([]any)
	if len(servers) == 0 {
		f.t.Fatalf("PRM names no authorization server: %s", a.body)
	}
	iss := servers[0].(string)
	u, _ := url.Parse(iss)
	metaURL := u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.Path, "/")
	m := f.get(metaURL)
	if m.status != http.StatusOK {
		f.t.Fatalf("AS metadata %s: %s", metaURL, m)
	}
	f.as = m.json()
	if f.as["issuer"] != iss {
		f.t.Fatalf("issuer %v, want %s (RFC 8414 §3.3)", f.as["issuer"], iss)
	}
}

func (f *flow) endpoint(name string) string {
	v, _ := f.as[name].(string)
	if v == "" {
		f.t.Fatalf("AS metadata has no %s", name)
	}
	return v
}

// register does RFC 7591 dynamic registration with meta.
// registerPublic registers a public client (PKCE, no secret) by DCR the way
// MCP clients do: code and refresh grants, redirects, and extra metadata.
func (f *flow) registerPublic(name string, redirects []string, extra map[string]any) map[string]any {
	f.t.Helper()
	meta := map[string]any{"client_name": name, "redirect_uris": redirects, "grant_types": []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"}, "token_endpoint_auth_method": "none"}
	for k, v := range extra {
		meta[k] = v
	}
	return f.register(meta)
}

// connect authorizes for the connector (resource, plus extra parameters)
// and exchanges the code: the access and refresh tokens.
func (f *flow) connect(extra url.Values) (access, refresh string) {
	f.t.Helper()
	q := url.Values{"resource": {f.site.Resource}}
	for k, v := range extra {
		q[k] = v
	}
	code := f.authorize(f.endpoint("authorization_endpoint"), q)
	return f.tokens(f.exchange(code, url.Values{"resource": {f.site.Resource}}))
}

// discoveredFlow is a new tenant's flow as a client with User-Agent ua
// starts it: the 401 from the connector, then the metadata it names.
func discoveredFlow(t *testing.T, s *server, prefix, mode, ua string) *flow {
	t.Helper()
	tn := newTenant(t, s, prefix, nil)
	f := newFlow(t, tn.urls(mode), ua)
	f.discover(f.probe(http.MethodPost))
	return f
}

func (f *flow) register(meta map[string]any) map[string]any {
	f.t.Helper()
	a := f.postJSON(f.endpoint("registration_endpoint"), meta)
	if a.status != http.StatusCreated {
		f.t.Fatalf("register: %s", a)
	}
	f.client = a.json()
	f.clientID, _ = f.client["client_id"].(string)
	f.clientSecret, _ = f.client["client_secret"].(string)
	if uris, _ := meta["redirect_uris"].([]string); len(uris) > 0 && f.redirectURI == "" {
		f.redirectURI = uris[0]
	}
	return f.client
}

// authorizeURL builds an authorization request (PKCE S256).
func (f *flow) authorizeURL(endpoint string, extra url.Values) string {
	q := url.Values{"response_type": {"code"}, "client_id": {f.clientID}, "redirect_uri": {f.redirectURI},
		"code_challenge": {f.challenge}, "code_challenge_method": {"S256"}, "state": {"st-" + tenants.RandomID()[:8]}}
	for k, v := range extra {
		q[k] = v
	}
	return endpoint + "?" + q.Encode()
}

// follow completes an authorization URL like a person in a browser
// (person: cookies kept, the dev login form and the consent page, shown with
// every IdP, answered) until it redirects to the client's redirect URI, and
// returns that redirect's query.
func (f *flow) follow(u string) url.Values {
	f.t.Helper()
	final, _, err := person(u, func(next *url.URL) bool {
		return strings.HasPrefix(next.String(), f.redirectURI) || sameRedirect(next, f.redirectURI)
	})
	if err != nil {
		f.t.Fatalf("authorize: %v", err)
	}
	return final.Query()
}

// sameRedirect: loopback redirect URIs match on any port (RFC 8252 §7.3).
func sameRedirect(got *url.URL, want string) bool {
	w, err := url.Parse(want)
	if err != nil {
		return false
	}
	return got.Scheme == w.Scheme && got.Hostname() == w.Hostname() && got.Path == w.Path && tenants.IsLoopbackHost(w.Hostname())
}

// authorize runs the authorization request and returns the code, checking
// state and iss (RFC 9207).
func (f *flow) authorize(endpoint string, extra url.Values) string {
	f.t.Helper()
	u := f.authorizeURL(endpoint, extra)
	sent, _ := url.Parse(u)
	q := f.follow(u)
	if e := q.Get("error"); e != "" {
		f.t.Fatalf("authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != sent.Query().Get("state") {
		f.t.Fatalf("state %q, want %q", q.Get("state"), sent.Query().Get("state"))
	}
	if iss, _ := f.as["issuer"].(string); iss != "" && q.Get("iss") != iss {
		f.t.Fatalf("iss %q, want %q (RFC 9207)", q.Get("iss"), iss)
	}
	if q.Get("code") == "" {
		f.t.Fatalf("no code in %v", q)
	}
	return q.Get("code")
}

// exchange redeems a code; clientAuth "post" sends client_secret_post.
func (f *flow) exchange(code string, extra url.Values) answer {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {f.redirectURI},
		"code_verifier": {f.verifier}, "client_id": {f.clientID}}
	if f.clientSecret != "" {
		form.Set("client_secret", f.clientSecret)
	}
	for k, v := range extra {
		form[k] = v
	}
	return f.postForm(f.endpoint("token_endpoint"), form, nil)
}

func (f *flow) refresh(rt string, extra url.Values) answer {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {f.clientID}}
	if f.clientSecret != "" {
		form.Set("client_secret", f.clientSecret)
	}
	for k, v := range extra {
		form[k] = v
	}
	return f.postForm(f.endpoint("token_endpoint"), form, nil)
}

// tokens checks a token response and returns access and refresh tokens.
func (f *flow) tokens(a answer) (access, refresh string) {
	f.t.Helper()
	if a.status != http.StatusOK {
		f.t.Fatalf("token endpoint: %s", a)
	}
	if cc := a.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		f.t.Errorf("token response Cache-Control %q, want no-store", cc)
	}
	m := a.json()
	access, _ = m["access_token"].(string)
	refresh, _ = m["refresh_token"].(string)
	if access == "" {
		f.t.Fatalf("no access_token: %s", a)
	}
	return access, refresh
}

// bearer adds a token (and the profile's User-Agent) to every request.
type bearer struct {
	token string
	ua    string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	r.Header.Set("User-Agent", b.ua)
	return b.base.RoundTrip(r)
}

// useToken connects the official Go SDK client to the connector URL with
// the token and calls echo; it returns the echoed text.
func (f *flow) useToken(token, text string) string {
	f.t.Helper()
	out, err := callEcho(f.site.Resource, token, f.ua, text)
	if err != nil {
		f.t.Fatalf("MCP with token at %s: %v\nwire (TLS front):\n%s", f.site.Resource, err, wireFor(f.site.Resource))
	}
	return out
}

// useAndRefresh uses the access token, refreshes, and uses the successor:
// the client stays connected across a refresh.
func (f *flow) useAndRefresh(access, refresh, text string) {
	f.t.Helper()
	f.useToken(access, text)
	a2, _ := f.tokens(f.refresh(refresh, nil))
	f.useToken(a2, text+" refreshed")
}

func callEcho(resource, token, ua, text string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := httpClient()
	hc.CheckRedirect = nil
	hc.Transport = bearer{token: token, ua: ua, base: hc.Transport}
	c := mcp.NewClient(&mcp.Implementation{Name: "gatehouse-e2e-go", Version: "1.0.0"}, nil)
	sess, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, HTTPClient: hc, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err != nil {
		return "", err
	}
	defer sess.Close()
	res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			sb.WriteString(tc.Text)
		}
	}
	return sb.String(), nil
}

// rawMCP sends one MCP request with the token (no SDK), for status checks.
func rawMCP(resource, token string) (int, http.Header, string) {
	hc := httpClient()
	req, _ := http.NewRequest(http.MethodPost, resource, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, resp.Header, string(b)
}
