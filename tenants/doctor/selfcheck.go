package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// SelfCheckResult is the self-check of one URL mode of a tenant.
type SelfCheckResult struct {
	Mode     string  `json:"mode"`
	Issuer   string  `json:"issuer"`
	Resource string  `json:"resource"`
	Passed   int     `json:"passed"`
	Failed   int     `json:"failed"`
	Checks   []Check `json:"checks"`
}

// Check is one self-check result.
type Check struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	URL    string `json:"url,omitempty"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Self-check ids.
const (
	CheckPRM              = "prm"          // PRM served at this URL, JSON
	CheckPRMResource      = "prm_resource" // resource == connector URL, byte for byte
	CheckPRMAuthServers   = "prm_authorization_servers"
	CheckPRMCORS          = "prm_cors"
	CheckASMetadata       = "as_metadata"
	CheckIssuer           = "issuer"
	CheckS256             = "pkce_s256"
	CheckEndpoints        = "endpoints"
	CheckAdvertisedURLs   = "advertised_urls" // metadata names this tenant's own endpoints
	CheckRegistration     = "registration"
	CheckRegistrationCORS = "registration_cors"
	CheckTokenCORS        = "token_cors"
	CheckJWKS             = "jwks"
	CheckMCP401           = "mcp_401"
	CheckMCPCORS          = "mcp_cors"
	CheckMCPNoRedirect    = "mcp_no_redirect"
)

// probeOrigin is the Origin the CORS checks send (a browser-based client).
const probeOrigin = "https://inspector.example"

const maxBody = 256 << 10

type checker struct {
	ctx  context.Context
	hc   *http.Client
	site tenants.Site
	res  *SelfCheckResult
}

func (c *checker) add(id, name, u string, ok bool, format string, args ...any) {
	c.res.Checks = append(c.res.Checks, Check{ID: id, Name: name, URL: u, OK: ok, Detail: fmt.Sprintf(format, args...)})
	if ok {
		c.res.Passed++
	} else {
		c.res.Failed++
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (c *checker) do(method, u string, body []byte, hdr map[string]string) response {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return response{err: err}
	}
	req.Header.Set("User-Agent", SelfCheckUserAgent)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return response{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// problem describes a failed answer by status only: response bodies and
// redirect targets are never echoed (the answer may come from whatever a
// tenant's domain points at).
func (r response) problem() string {
	if r.err != nil {
		return "request failed: " + r.err.Error()
	}
	if r.status >= 300 && r.status < 400 {
		return fmt.Sprintf("HTTP %d redirect (clients do not all follow redirects for discovery; a redirect on the MCP URL drops the token)", r.status)
	}
	return fmt.Sprintf("HTTP %d", r.status)
}

// hv is a response header value as shown in a detail, capped.
func (r response) hv(name string) string {
	v := r.header.Get(name)
	if len(v) > 200 {
		v = v[:200] + "…"
	}
	return v
}

func (r response) json() (map[string]any, error) {
	if r.err != nil || r.status != http.StatusOK {
		return nil, errors.New(r.problem())
	}
	if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "json") {
		return nil, fmt.Errorf("Content-Type is %q, not JSON", r.hv("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %v", err)
	}
	return m, nil
}

// strList reads a JSON string array (at most 20 members, each capped:
// they may be shown in a detail).
func strList(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok && len(out) < 20 {
			out = append(out, truncate(s))
		}
	}
	return out
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func allowsOrigin(h http.Header) bool {
	v := h.Get("Access-Control-Allow-Origin")
	return v == "*" || v == probeOrigin
}

// SelfCheck fetches a tenant site's public URLs the way MCP clients discover
// them (RFC 9728 protected resource metadata at both URLs, RFC 8414
// authorization server metadata, registration, token CORS, JWKS, the MCP
// URL's 401) and lists each result. Only URLs the platform derives from
// the site are fetched: URLs the fetched metadata advertises are compared
// with them and a mismatch is reported, never fetched. No response body is
// echoed. hc should be NewSelfCheckClient's (the outbound address policy);
// redirects are not followed.
func SelfCheck(ctx context.Context, hc *http.Client, site tenants.Site) SelfCheckResult {
	if hc == nil {
		hc = NewSelfCheckClient(10*time.Second, false)
	}
	nc := *hc
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res := SelfCheckResult{Mode: site.Mode, Issuer: site.Issuer, Resource: site.Resource, Checks: []Check{}}
	c := &checker{ctx: ctx, hc: &nc, site: site, res: &res}

	for _, u := range site.PRMURLs() {
		c.checkPRM(u)
	}
	meta := c.checkASMetadata()
	c.checkAdvertised(meta)
	c.checkRegistration(meta)
	c.checkTokenCORS()
	c.checkJWKS()
	c.checkMCP()
	return res
}

// SelfCheckSites runs SelfCheck for each of a tenant's sites (its URL
// modes) at once; the results are in the order of sites.
func SelfCheckSites(ctx context.Context, hc *http.Client, sites []tenants.Site) []SelfCheckResult {
	out := make([]SelfCheckResult, len(sites))
	var wg sync.WaitGroup
	for i, s := range sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = SelfCheck(ctx, hc, s)
		}()
	}
	wg.Wait()
	return out
}

func (c *checker) checkPRM(u string) {
	r := c.do(http.MethodGet, u, nil, map[string]string{"Accept": "application/json", "Origin": probeOrigin})
	m, err := r.json()
	if err != nil {
		c.add(CheckPRM, "Protected resource metadata (RFC 9728)", u, false, "%v", err)
		return
	}
	c.add(CheckPRM, "Protected resource metadata (RFC 9728)", u, true, "served as JSON")
	res, _ := m["resource"].(string)
	c.add(CheckPRMResource, "PRM resource equals the connector URL", u, res == c.site.Resource,
		"resource = %q, connector URL = %q", truncate(res), c.site.Resource)
	as := strList(m["authorization_servers"])
	c.add(CheckPRMAuthServers, "PRM names this tenant's issuer", u, contains(as, c.site.Issuer),
		"authorization_servers = %q, issuer = %q", as, c.site.Issuer)
	c.add(CheckPRMCORS, "PRM allows cross-origin reads (CORS)", u, allowsOrigin(r.header),
		"Access-Control-Allow-Origin = %q", r.hv("Access-Control-Allow-Origin"))
}

func (c *checker) checkASMetadata() map[string]any {
	u := c.site.ASMetadataURL()
	r := c.do(http.MethodGet, u, nil, map[string]string{"Accept": "application/json", "Origin": probeOrigin})
	m, err := r.json()
	if err != nil {
		c.add(CheckASMetadata, "Authorization server metadata (RFC 8414)", u, false, "%v", err)
		return nil
	}
	c.add(CheckASMetadata, "Authorization server metadata (RFC 8414)", u, true, "served as JSON; CORS Access-Control-Allow-Origin = %q", r.hv("Access-Control-Allow-Origin"))
	iss, _ := m["issuer"].(string)
	c.add(CheckIssuer, "Issuer equals the issuer URL byte for byte (RFC 8414 §3.3)", u, iss == c.site.Issuer,
		"issuer = %q, expected %q", truncate(iss), c.site.Issuer)
	methods := strList(m["code_challenge_methods_supported"])
	c.add(CheckS256, "PKCE S256 advertised", u, contains(methods, "S256"), "code_challenge_methods_supported = %q", methods)
	var missing []string
	for _, k := range []string{"authorization_endpoint", "token_endpoint"} {
		v, _ := m[k].(string)
		if pu, err := url.Parse(v); v == "" || err != nil || !pu.IsAbs() {
			missing = append(missing, k)
		}
	}
	c.add(CheckEndpoints, "Authorization and token endpoints are absolute URLs", u, len(missing) == 0, "%s",
		okOr(len(missing) == 0, "present", "missing or not absolute: "+strings.Join(missing, ", ")))
	return m
}

func okOr(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

// advertised are the metadata members naming this tenant's endpoints and
// the URL the platform derives for each.
func (c *checker) advertised() [][2]string {
	return [][2]string{
		{"authorization_endpoint", c.site.Endpoint("authorize")},
		{"token_endpoint", c.site.Endpoint("token")},
		{"registration_endpoint", c.site.Endpoint("register")},
		{"jwks_uri", c.site.JWKSURL()},
	}
}

// checkAdvertised compares the endpoint URLs the metadata advertises with
// the ones this site has. A different URL is reported and not fetched: the
// self-check only ever fetches URLs the platform derives itself.
func (c *checker) checkAdvertised(meta map[string]any) {
	if meta == nil {
		return
	}
	var bad []string
	for _, a := range c.advertised() {
		v, present := meta[a[0]].(string)
		if !present && a[0] == "registration_endpoint" && c.dcrClosed() {
			continue
		}
		if v != a[1] {
			bad = append(bad, fmt.Sprintf("%s = %q, expected %q", a[0], truncate(v), a[1]))
		}
	}
	c.add(CheckAdvertisedURLs, "Metadata names this tenant's own endpoints", c.site.ASMetadataURL(), len(bad) == 0, "%s",
		okOr(len(bad) == 0, "authorization, token, registration and JWKS URLs are the expected ones",
			strings.Join(bad, "; ")+" (advertised URLs are not fetched)"))
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func (c *checker) dcrClosed() bool {
	return c.site.Tenant != nil && c.site.Tenant.Settings.DCR() == tenants.DCRClosed
}

func (c *checker) checkRegistration(meta map[string]any) {
	name := "Registration endpoint reachable (RFC 7591)"
	if _, advertised := meta["registration_endpoint"]; !advertised && meta != nil && c.dcrClosed() {
		c.add(CheckRegistration, name, "", true, "not advertised: dcr_policy is closed (clients need a metadata document client id or pre-registration)")
		return
	}
	reg := c.site.Endpoint("register")
	// An empty registration is invalid: a reachable endpoint answers 400
	// with an RFC 7591 error and registers nothing.
	r := c.do(http.MethodPost, reg, []byte(`{}`), map[string]string{"Content-Type": "application/json", "Accept": "application/json", "Origin": probeOrigin})
	var body struct {
		Error string `json:"error"`
	}
	switch {
	case r.err != nil:
		c.add(CheckRegistration, name, reg, false, "%s", r.problem())
	case r.status == http.StatusBadRequest && json.Unmarshal(r.body, &body) == nil && body.Error != "":
		c.add(CheckRegistration, name, reg, true, "answers an invalid registration with HTTP 400 %q", body.Error)
	case r.status == http.StatusForbidden && c.dcrClosed():
		c.add(CheckRegistration, name, reg, true, "reachable; registration is closed by dcr_policy")
	default:
		c.add(CheckRegistration, name, reg, false, "expected HTTP 400 with an RFC 7591 error for an empty registration, got %s", r.problem())
	}
	if r.err != nil {
		c.add(CheckRegistrationCORS, "Registration allows cross-origin calls (CORS)", reg, false, "%s", r.problem())
		return
	}
	c.add(CheckRegistrationCORS, "Registration allows cross-origin calls (CORS)", reg, allowsOrigin(r.header),
		"Access-Control-Allow-Origin = %q", r.hv("Access-Control-Allow-Origin"))
}

func (c *checker) checkTokenCORS() {
	tok := c.site.Endpoint("token")
	r := c.do(http.MethodOptions, tok, nil, map[string]string{"Origin": probeOrigin,
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization"})
	ok := r.err == nil && r.status < 300 && allowsOrigin(r.header)
	c.add(CheckTokenCORS, "Token endpoint answers a CORS preflight", tok, ok, "%s; Access-Control-Allow-Origin = %q, Allow-Headers = %q",
		r.problem(), r.hv("Access-Control-Allow-Origin"), r.hv("Access-Control-Allow-Headers"))
}

func (c *checker) checkJWKS() {
	u := c.site.JWKSURL()
	r := c.do(http.MethodGet, u, nil, map[string]string{"Accept": "application/json"})
	m, err := r.json()
	if err != nil {
		c.add(CheckJWKS, "Signing keys published (JWKS)", u, false, "%v", err)
		return
	}
	keys, _ := m["keys"].([]any)
	c.add(CheckJWKS, "Signing keys published (JWKS)", u, len(keys) > 0, "%d key(s)", len(keys))
}

var resourceMetadataParam = regexp.MustCompile(`resource_metadata="([^"]*)"`)

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"gatehouse-doctor","version":"1"}}}`

func (c *checker) mcpHeaders() map[string]string {
	return map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Origin": probeOrigin, "MCP-Protocol-Version": "2025-06-18"}
}

func (c *checker) checkMCP() {
	u := c.site.Resource
	r := c.do(http.MethodPost, u, []byte(initializeBody), c.mcpHeaders())
	name := "MCP URL answers 401 with an absolute resource_metadata (RFC 9728 §5.1)"
	if r.err != nil || r.status != http.StatusUnauthorized {
		c.add(CheckMCP401, name, u, false, "expected HTTP 401 without a token, got %s", r.problem())
	} else {
		m := resourceMetadataParam.FindStringSubmatch(r.header.Get("WWW-Authenticate"))
		www := r.hv("WWW-Authenticate")
		switch {
		case !strings.HasPrefix(strings.ToLower(www), "bearer"):
			c.add(CheckMCP401, name, u, false, "WWW-Authenticate = %q is not a Bearer challenge", www)
		case m == nil:
			c.add(CheckMCP401, name, u, false, "WWW-Authenticate = %q has no resource_metadata", www)
		case !isAbsolute(m[1]):
			c.add(CheckMCP401, name, u, false, "resource_metadata %q is relative: clients silently reject it", truncate(m[1]))
		case !contains(c.site.PRMURLs(), m[1]):
			c.add(CheckMCP401, name, u, false, "resource_metadata %q is not one of this tenant's PRM URLs %q", truncate(m[1]), c.site.PRMURLs())
		default:
			c.add(CheckMCP401, name, u, true, "WWW-Authenticate = %q", www)
		}
		expose := strings.ToLower(r.header.Get("Access-Control-Expose-Headers"))
		c.add(CheckMCPCORS, "MCP URL lets browser clients read WWW-Authenticate (CORS)", u,
			allowsOrigin(r.header) && strings.Contains(expose, "www-authenticate"),
			"Access-Control-Allow-Origin = %q, Access-Control-Expose-Headers = %q",
			r.hv("Access-Control-Allow-Origin"), r.hv("Access-Control-Expose-Headers"))
	}
	// A redirect between /mcp and /mcp/ drops the Authorization header
	// (claude-ai-mcp #430): the slash variant must answer, not redirect.
	r2 := c.do(http.MethodPost, u+"/", []byte(initializeBody), c.mcpHeaders())
	ok := r2.err == nil && r2.status == http.StatusUnauthorized
	c.add(CheckMCPNoRedirect, "MCP URL with a trailing slash is served, not redirected", u+"/", ok, "%s", okOr(ok, "HTTP 401 (no redirect)", "expected HTTP 401, got "+r2.problem()))
}

func isAbsolute(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && u.Host != ""
}
