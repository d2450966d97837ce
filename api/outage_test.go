package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/api"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// downStore fails every read the request paths make while down is set, the
// way gormstore reports a stopped database (tenants.ErrUnavailable).
type downStore struct {
	tenants.Store
	down atomic.Bool
}

var errDown = &tenants.UnavailableError{Cause: errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")}

func (s *downStore) GetTenantBySlug(ctx context.Context, slug string) (*tenants.Tenant, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.GetTenantBySlug(ctx, slug)
}
func (s *downStore) GetTenantByDomain(ctx context.Context, d string) (*tenants.Tenant, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.GetTenantByDomain(ctx, d)
}
func (s *downStore) GetTenant(ctx context.Context, id string) (*tenants.Tenant, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.GetTenant(ctx, id)
}
func (s *downStore) FindClientTenants(ctx context.Context, id string) ([]string, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.FindClientTenants(ctx, id)
}
func (s *downStore) GetClient(ctx context.Context, tid, id string) (*tenants.Client, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.GetClient(ctx, tid, id)
}
func (s *downStore) GetAPIKeyByHash(ctx context.Context, h string) (*tenants.APIKey, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.GetAPIKeyByHash(ctx, h)
}
func (s *downStore) ListTenants(ctx context.Context, p tenants.Page) ([]tenants.Tenant, string, error) {
	if s.down.Load() {
		return nil, "", errDown
	}
	return s.Store.ListTenants(ctx, p)
}
func (s *downStore) Ping(ctx context.Context) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.Ping(ctx)
}

func outageServer(t *testing.T) (*httptest.Server, *downStore, *testkit.LockedBuffer) {
	t.Helper()
	gs, err := gormstore.Open(context.Background(), testdb.SQLite(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gs.Close() })
	s := &downStore{Store: gs}
	sealer, _ := tenants.NewSealer([][]byte{make([]byte, 32)})
	prov := &tenants.Provisioner{Store: gs, Sealer: sealer, AllowDevIdP: true}
	if _, err := prov.CreateTenant(context.Background(), tenants.TenantInput{Slug: "acme", UpstreamMCPURL: "https://mcp.acme.example/mcp",
		IdP: &tenants.IdPInput{Type: tenants.IdPDev}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	logs := &testkit.LockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	sites := httpx.NewSites(s, base, "tenants.test")
	sites.Outage().SetLogger(logger)
	d := &httpx.Deps{Store: s, Sealer: sealer, Keys: keys.New(s, sealer, nil), Auditor: &tenants.SyncAuditor{Store: gs},
		Logger: logger, Sites: sites, PublicURL: base, TenantDomain: "tenants.test", AllowDevIdP: true,
		AdminTokenHash: tenants.HashSecret("admin-token-for-tests-0123456789")}
	wiring.Build(d, nil)
	h, err := api.New(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, s, logs
}

type outageCase struct {
	name, method, path, host, body, auth string
	// want: "oauth" (RFC 6749 temporarily_unavailable), "rpc" (JSON-RPC
	// error), "problem" (RFC 9457)
	want string
}

func doReq(t *testing.T, srv *httptest.Server, c outageCase) (*http.Response, []byte) {
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
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// Issue 13, findings 1 and 2: with the database down, every tenant endpoint
// answers 503 in its surface's format with Retry-After (never 404 "no such
// tenant", never invalid_client), the outage is logged once, and probes
// keep answering whatever the Host.
func TestDatabaseOutageAnswers503(t *testing.T) {
	srv, s, logs := outageServer(t)
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {"some-client"}, "code": {"x"}}.Encode()
	cases := []outageCase{
		{name: "mcp path mode", method: "POST", path: "/t/acme/mcp", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, auth: "Bearer abc", want: "rpc"},
		{name: "mcp host mode", method: "POST", path: "/mcp", host: "acme.tenants.test", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, auth: "Bearer abc", want: "rpc"},
		{name: "token", method: "POST", path: "/t/acme/oauth/token", body: form, want: "oauth"},
		{name: "token host mode", method: "POST", path: "/oauth/token", host: "acme.tenants.test", body: form, want: "oauth"},
		{name: "root token", method: "POST", path: "/token", body: form, want: "oauth"},
		{name: "register", method: "POST", path: "/t/acme/oauth/register", body: `{"redirect_uris":["http://127.0.0.1/cb"]}`, want: "oauth"},
		{name: "AS metadata", method: "GET", path: "/.well-known/oauth-authorization-server/t/acme", want: "oauth"},
		{name: "PRM", method: "GET", path: "/.well-known/oauth-protected-resource/t/acme/mcp", want: "oauth"},
		{name: "api with key", method: "GET", path: "/api/v1/tenants/acme", auth: "Bearer some-api-key", want: "problem"},
		{name: "api admin", method: "GET", path: "/api/v1/tenants/acme", auth: "Bearer admin-token-for-tests-0123456789", want: "problem"},
	}
	// Up: the unknown tenant is a 404 (the contrast the outage must not hit).
	if resp, _ := doReq(t, srv, outageCase{method: "POST", path: "/t/nope/mcp", body: `{}`}); resp.StatusCode != 404 {
		t.Fatalf("unknown tenant while up: %d", resp.StatusCode)
	}
	s.down.Store(true)
	for _, c := range cases {
		resp, b := doReq(t, srv, c)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d Retry-After=%q %s; want 503 with Retry-After", c.name, resp.StatusCode, resp.Header.Get("Retry-After"), b)
			continue
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		switch c.want {
		case "oauth":
			if m["error"] != "temporarily_unavailable" {
				t.Errorf("%s: body %s; want error temporarily_unavailable", c.name, b)
			}
		case "rpc":
			e, _ := m["error"].(map[string]any)
			if m["jsonrpc"] != "2.0" || e == nil || e["code"] == nil {
				t.Errorf("%s: body %s; want a JSON-RPC error", c.name, b)
			}
		case "problem":
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") || m["status"] != float64(503) {
				t.Errorf("%s: %q %s; want problem+json 503", c.name, resp.Header.Get("Content-Type"), b)
			}
		}
	}
	// The public liveness probe never resolves a tenant, whatever the Host
	// (pod IP, tenant host); /metrics and /readyz live on the admin
	// listener (api/admin), which has no tenant lookup at all.
	for _, host := range []string{"", "10.1.2.3:8080", "acme.tenants.test", "custom.example.org"} {
		resp, b := doReq(t, srv, outageCase{method: "GET", path: "/healthz", host: host})
		if resp.StatusCode != 200 {
			t.Errorf("/healthz Host=%q during outage: %d %s", host, resp.StatusCode, b)
		}
	}
	if n := strings.Count(logs.String(), "database unavailable"); n != 1 {
		t.Errorf("outage logged %d times; want once:\n%s", n, logs.String())
	}
	s.down.Store(false)
	// Recovery without restart: the next lookup reaches the store again.
	resp, b := doReq(t, srv, outageCase{method: "GET", path: "/.well-known/oauth-authorization-server/t/acme"})
	if resp.StatusCode != 200 {
		t.Fatalf("after recovery: %d %s", resp.StatusCode, b)
	}
	if !strings.Contains(logs.String(), "database reachable again") {
		t.Error("recovery not logged")
	}
}
