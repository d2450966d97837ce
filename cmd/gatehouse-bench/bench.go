package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// redirectURI is the bench client's redirect URI: loopback (RFC 8252), never
// followed — the code is read from the Location header.
const redirectURI = "http://127.0.0.1/gatehouse-bench/callback"

// session is one worker's own grant in tenant t: its access token and the
// head of its refresh-token rotation chain.
type session struct {
	t      *benchTenant
	at, rt string
	br     *http.Client
	user   string
}

// benchTenant is a tenant the tool provisioned, with its public client.
type benchTenant struct {
	slug     string
	issuer   string // cfg.URL + the tenant's issuer path (path mode)
	resource string // the tenant's connector URL as the server names it
	mcpURL   string // cfg.URL + the connector URL's path
	pubID    string // its DCR public client
}

type bench struct {
	cfg      *config
	progress io.Writer
	tr       *http.Transport
	rt       http.RoundTripper // tr, spreading client addresses when asked
	hc       *http.Client      // shared, never follows redirects

	servers  []*http.Server
	stops    []func()
	upstream string // upstream MCP URL
	bare     string // bare reverse proxy URL

	benchTenant // the bench tenant
	ccID        string
	ccSecret    string
	ccErr       error
	apiKey      string
	sessions    []*session
	cleaned     bool

	spread   []*benchTenant // --tenants
	spreadSs []*session     // one per spread tenant
}

func newBench(cfg *config, progress io.Writer) *bench {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = cfg.Concurrency*4 + 16
	tr.DisableCompression = true
	b := &bench{cfg: cfg, progress: progress, tr: tr, rt: tr}
	if cfg.SpreadIPs {
		if u, err := url.Parse(cfg.URL); err == nil {
			b.rt = &spreadIPs{base: tr, host: u.Host}
		}
	}
	b.hc = &http.Client{Transport: b.rt, Timeout: 60 * time.Second, CheckRedirect: noRedirects}
	return b
}

// spreadIPs gives every request to the server under test its own client
// address in X-Forwarded-For (a random 10.0.0.0/8 address). The token and
// authorize limits count per tenant, client and IP (a real load comes from
// many users); the server believes the header only from a trusted proxy
// (GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32), otherwise it changes nothing.
type spreadIPs struct {
	base http.RoundTripper
	host string
}

func (s *spreadIPs) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == s.host {
		var p [3]byte
		_, _ = rand.Read(p[:])
		req = req.Clone(req.Context())
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", p[0], p[1], p[2]))
	}
	return s.base.RoundTrip(req)
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// browser is a client with its own cookie jar (one user agent's session).
func (b *bench) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: b.rt, Timeout: 60 * time.Second, Jar: jar, CheckRedirect: noRedirects}
}

func (b *bench) close() {
	for _, s := range b.servers {
		_ = s.Close()
	}
	for _, stop := range b.stops {
		stop()
	}
	b.tr.CloseIdleConnections()
}

// startUpstream starts the tool's own upstream (unless --upstream-url) and
// the bare proxy in front of whichever upstream is used.
func (b *bench) startUpstream() error {
	b.upstream = b.cfg.UpstreamURL
	if b.upstream == "" {
		srv, base, err := serveOn(b.cfg.UpstreamAddr, upstreamHandler(b.cfg.UpstreamDelay))
		if err != nil {
			return fmt.Errorf("starting the upstream MCP server: %w", err)
		}
		b.servers = append(b.servers, srv)
		b.upstream = base + "/mcp"
	}
	target, err := url.Parse(b.upstream)
	if err != nil || target.Host == "" {
		return fmt.Errorf("bad upstream URL %q", b.upstream)
	}
	var base string
	if b.cfg.BareProcess {
		var stop func()
		base, stop, err = startBareProxyProcess(b.cfg.UpstreamAddr, target, b.cfg.Concurrency)
		if err != nil {
			return fmt.Errorf("starting the bare proxy: %w", err)
		}
		b.stops = append(b.stops, stop)
	} else {
		var srv *http.Server
		srv, base, err = serveOn(b.cfg.UpstreamAddr, bareProxy(target, b.cfg.Concurrency))
		if err != nil {
			return fmt.Errorf("starting the bare proxy: %w", err)
		}
		b.servers = append(b.servers, srv)
	}
	b.bare = base + target.Path
	return nil
}

func randomHex(n int) string {
	p := make([]byte, n)
	_, _ = rand.Read(p)
	return hex.EncodeToString(p)
}

// do sends req and reads the whole body.
func (b *bench) do(hc *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp, body, err
}

// api calls the provisioning API with the admin token; want is the expected
// status; out, when not nil, receives the JSON answer.
func (b *bench) api(ctx context.Context, method, path string, in any, want int, out any) (int, error) {
	var body io.Reader
	if in != nil {
		p, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(p)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.cfg.URL+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.cfg.AdminToken)
	if in != nil {
		ct := "application/json"
		if method == http.MethodPatch {
			ct = "application/merge-patch+json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, raw, err := b.do(b.hc, req)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != want {
		return resp.StatusCode, statusErr(resp, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func (b *bench) needs(names ...string) bool {
	for _, s := range b.cfg.Scenarios {
		for _, n := range names {
			if s == n {
				return true
			}
		}
	}
	return false
}

// provision creates the bench tenant (dev IdP, consent skipped, the tool's
// upstream), its clients, an API key and one grant per worker.
func (b *bench) provision(ctx context.Context) error {
	b.slug = "bench-" + randomHex(5)
	var t struct {
		PathMode struct {
			Issuer   string `json:"issuer"`
			Resource string `json:"resource"`
		} `json:"path_mode"`
	}
	in := map[string]any{"slug": b.slug, "name": "gatehouse-bench", "upstream_mcp_url": b.upstream,
		"idp": map[string]any{"type": "dev"}, "settings": map[string]any{"skip_consent": true}}
	if _, err := b.api(ctx, http.MethodPost, "/api/v1/tenants", in, http.StatusCreated, &t); err != nil {
		return fmt.Errorf("creating the tenant: %w", err)
	}
	iss, err1 := url.Parse(t.PathMode.Issuer)
	res, err2 := url.Parse(t.PathMode.Resource)
	if err1 != nil || err2 != nil || iss.Path == "" || res.Path == "" {
		return fmt.Errorf("the tenant's path-mode issuer/resource are missing (%q, %q)", t.PathMode.Issuer, t.PathMode.Resource)
	}
	b.issuer, b.resource, b.mcpURL = b.cfg.URL+iss.Path, t.PathMode.Resource, b.cfg.URL+res.Path
	// client_credentials and the MCP quotas are tenant settings on servers
	// that know them; an older server refuses the unknown field (400).
	// The MCP quotas are raised to their maximum: the load is the point.
	for _, st := range []map[string]any{{"client_credentials": true},
		{"mcp_requests_per_minute": 1_000_000, "mcp_requests_per_minute_per_user": 1_000_000}} {
		patch := map[string]any{"settings": st}
		if code, err := b.api(ctx, http.MethodPatch, "/api/v1/tenants/"+b.slug, patch, http.StatusOK, nil); err != nil && code != http.StatusBadRequest {
			return fmt.Errorf("setting %v: %w", st, err)
		}
	}
	if b.needs("token-client-credentials") {
		var cl struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		in := map[string]any{"client_name": "gatehouse-bench machine client", "token_endpoint_auth_method": "client_secret_post",
			"grant_types": []string{"client_credentials"}}
		if _, err := b.api(ctx, http.MethodPost, "/api/v1/tenants/"+b.slug+"/clients", in, http.StatusCreated, &cl); err != nil {
			b.ccErr = fmt.Errorf("pre-registering the client_credentials client: %w", err)
		}
		b.ccID, b.ccSecret = cl.ClientID, cl.ClientSecret
	}
	if b.needs("introspect") {
		var k struct {
			Key string `json:"key"`
		}
		if _, err := b.api(ctx, http.MethodPost, "/api/v1/tenants/"+b.slug+"/api-keys", map[string]any{"name": "gatehouse-bench"}, http.StatusCreated, &k); err != nil {
			return fmt.Errorf("creating an API key: %w", err)
		}
		b.apiKey = k.Key
	}
	if !b.needs("token-refresh", "token-authcode", "introspect", "gateway", "gateway-stream") {
		return nil
	}
	if err := b.register(ctx, &b.benchTenant); err != nil {
		return err
	}
	if !b.needs("token-refresh", "introspect", "gateway", "gateway-stream") {
		return nil
	}
	return b.startSessions(ctx)
}

// register registers t's public client once (DCR, RFC 7591).
func (b *bench) register(ctx context.Context, t *benchTenant) error {
	in, _ := json.Marshal(map[string]any{"client_name": "gatehouse-bench", "redirect_uris": []string{redirectURI},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.issuer+"/oauth/register", bytes.NewReader(in))
	req.Header.Set("Content-Type", "application/json")
	resp, raw, err := b.do(b.hc, req)
	if err != nil {
		return fmt.Errorf("registering the client: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("registering the client: %w", statusErr(resp, raw))
	}
	var out struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.ClientID == "" {
		return fmt.Errorf("registering the client: no client_id in %s", raw)
	}
	t.pubID = out.ClientID
	return nil
}

// startSessions runs one authorization-code flow per worker (a few at a
// time) so each worker has its own grant and refresh chain.
func (b *bench) startSessions(ctx context.Context) error {
	b.sessions = make([]*session, b.cfg.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, 4)
	for i := range b.sessions {
		s := &session{t: &b.benchTenant, br: b.browser(), user: fmt.Sprintf("bench-user-%d", i)}
		b.sessions[i] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var err error
			if s.at, s.rt, err = b.flow(ctx, s.t, s.br, s.user); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("authorization-code flow for a worker: %w", err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

var (
	hiddenRequest = regexp.MustCompile(`name="request" value="([^"]*)"`)
	hiddenCSRF    = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
)

// formFields reads the pending request id and CSRF token from one of the
// authorization server's pages (dev login, consent).
func formFields(page []byte) (request, csrf string, ok bool) {
	r, c := hiddenRequest.FindSubmatch(page), hiddenCSRF.FindSubmatch(page)
	if r == nil || c == nil {
		return "", "", false
	}
	return html.UnescapeString(string(r[1])), html.UnescapeString(string(c[1])), true
}

// flow is a complete authorization-code flow with PKCE as a browser and its
// client do it: authorize → dev IdP login form → (consent form, when shown)
// → redirect with code → code exchange. It returns the tokens.
func (b *bench) flow(ctx context.Context, t *benchTenant, br *http.Client, user string) (at, rt string, err error) {
	verifier := randomHex(32)
	sum := sha256.Sum256([]byte(verifier))
	state := randomHex(8)
	q := url.Values{"response_type": {"code"}, "client_id": {t.pubID}, "redirect_uri": {redirectURI}, "state": {state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}, "resource": {t.resource}, "scope": {"mcp"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.issuer+"/oauth/authorize?"+q.Encode(), nil)
	resp, page, err := b.do(br, req)
	for step := 0; err == nil && step < 6; step++ {
		switch {
		case resp.StatusCode == http.StatusOK:
			// A form of the authorization server: dev login or consent.
			id, csrf, ok := formFields(page)
			if !ok {
				return "", "", fmt.Errorf("a page without the expected form at %s", resp.Request.URL.Path)
			}
			f := url.Values{"request": {id}, "csrf": {csrf}}
			action := t.issuer + "/oauth/dev-login"
			if bytes.Contains(page, []byte(`name="decision"`)) {
				action = t.issuer + "/oauth/consent"
				f.Set("decision", "approve")
			} else {
				f.Set("username", user)
			}
			req, _ = http.NewRequestWithContext(ctx, http.MethodPost, action, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, page, err = b.do(br, req)
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, lerr := resp.Location()
			if lerr != nil {
				return "", "", lerr
			}
			if strings.HasPrefix(loc.String(), redirectURI) {
				return b.exchange(ctx, t, loc.Query(), state, verifier)
			}
			req, _ = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
			resp, page, err = b.do(br, req)
		default:
			return "", "", statusErr(resp, page)
		}
	}
	if err != nil {
		return "", "", err
	}
	return "", "", errors.New("the authorization flow did not reach the redirect URI")
}

func (b *bench) exchange(ctx context.Context, t *benchTenant, cb url.Values, state, verifier string) (at, rt string, err error) {
	if e := cb.Get("error"); e != "" {
		return "", "", fmt.Errorf("authorization error %s: %s", e, cb.Get("error_description"))
	}
	if cb.Get("state") != state || cb.Get("code") == "" {
		return "", "", errors.New("the redirect carried no code or the wrong state")
	}
	tok, err := b.token(ctx, t.issuer, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "redirect_uri": {redirectURI},
		"code_verifier": {verifier}, "client_id": {t.pubID}, "resource": {t.resource}})
	if err != nil {
		return "", "", err
	}
	if tok.RefreshToken == "" {
		return "", "", errors.New("the code exchange returned no refresh token")
	}
	return tok.AccessToken, tok.RefreshToken, nil
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// token calls the token endpoint of issuer.
func (b *bench) token(ctx context.Context, issuer string, form url.Values) (*tokenResponse, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, raw, err := b.do(b.hc, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusErr(resp, raw)
	}
	var tok tokenResponse
	if err := json.Unmarshal(raw, &tok); err != nil || tok.AccessToken == "" {
		return nil, fmt.Errorf("token response without access_token: %.120s", raw)
	}
	return &tok, nil
}

// cleanup deletes the bench tenant (with everything it made) unless --keep.
func (b *bench) cleanup() {
	if b.cleaned || b.slug == "" || b.cfg.Keep {
		return
	}
	b.cleaned = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.api(ctx, http.MethodDelete, "/api/v1/tenants/"+b.slug, nil, http.StatusNoContent, nil); err != nil {
		fmt.Fprintln(b.progress, "deleting the bench tenant:", err)
	}
}
