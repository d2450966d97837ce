package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/api"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// adminToken is the operator's admin token in every server of these tests.
const adminToken = "admin-token-for-tests-0123456789"

// serve serves the whole public surface (api.New) over a test kit's
// services, at a loopback address that is also the kit's public URL. wrap
// (nil: none) wraps the handler as the process does (telemetry.Handler).
func serve(t *testing.T, ko testkit.Options, o *api.Options, wrap func(http.Handler) http.Handler) (*httptest.Server, *testkit.Kit) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	ko.PublicURL = "http://" + srv.Listener.Addr().String()
	ko.AdminToken = adminToken
	k := testkit.New(t, ko)
	h, err := api.New(k.Deps, o)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		h = wrap(h)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, k
}

// openStore opens a fresh SQLite store for a test that wraps it (fault
// injection, counting) before handing it to the kit.
func openStore(t *testing.T, o *gormstore.Options) *gormstore.Store {
	t.Helper()
	s, err := gormstore.Open(context.Background(), testdb.SQLite(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// createTenant creates tenant "acme" with the dev IdP through k's
// provisioning service.
func createTenant(t *testing.T, k *testkit.Kit) {
	t.Helper()
	if _, err := k.Deps.Provisioner.CreateTenant(context.Background(), tenants.TenantInput{Slug: "acme",
		UpstreamMCPURL: "https://mcp.acme.example/mcp", IdP: &tenants.IdPInput{Type: tenants.IdPDev}}); err != nil {
		t.Fatal(err)
	}
}

// request is one request to a test server and, for refusals, the format
// its answer must have.
type request struct {
	name, method, path, host, body, auth string
	// forwardedFor is the X-Forwarded-For a proxy in front would send.
	forwardedFor string
	// want: "oauth" (RFC 6749 error), "rpc" (JSON-RPC error), "problem"
	// (RFC 9457)
	want string
}

// noRedirects answers with the server's own response, redirects included.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// doReq sends c to srv (Host: c.host, the server's own when "") and returns
// its answer (never following a redirect) with the body read.
func doReq(t *testing.T, srv *httptest.Server, c request) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, _ := http.NewRequest(c.method, srv.URL+c.path, body)
	if c.host != "" {
		req.Host = c.host
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if strings.HasPrefix(c.body, "{") {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	if c.forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", c.forwardedFor)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// checkRefusal fails the test unless the refusal b is in c.want's format:
// an RFC 6749 error oauthCode, a JSON-RPC error, or problem+json carrying
// the answer's status.
func checkRefusal(t *testing.T, c request, resp *http.Response, b []byte, oauthCode string) {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	switch c.want {
	case "oauth":
		if m["error"] != oauthCode {
			t.Errorf("%s: body %s; want error %s", c.name, b, oauthCode)
		}
	case "rpc":
		e, _ := m["error"].(map[string]any)
		if m["jsonrpc"] != "2.0" || e == nil || e["code"] == nil {
			t.Errorf("%s: body %s; want a JSON-RPC error", c.name, b)
		}
	case "problem":
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") || m["status"] != float64(resp.StatusCode) {
			t.Errorf("%s: %q %s; want problem+json %d", c.name, resp.Header.Get("Content-Type"), b, resp.StatusCode)
		}
	}
}
