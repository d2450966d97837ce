package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants"
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

// outageServer serves tenant "acme" (path and host mode, tenants.test) over
// a store that can be taken down; its text log is returned.
func outageServer(t *testing.T) (*httptest.Server, *downStore, *testkit.Buffer) {
	t.Helper()
	s := &downStore{Store: openStore(t, nil)}
	logs := &testkit.Buffer{}
	srv, k := serve(t, testkit.Options{Store: s, TenantDomain: "tenants.test", Logger: slog.New(slog.NewTextHandler(logs, nil))}, nil, nil)
	k.Deps.Sites.Outage().SetLogger(k.Logger)
	createTenant(t, k)
	return srv, s, logs
}

// Issue 13, findings 1 and 2: with the database down, every tenant endpoint
// answers 503 in its surface's format with Retry-After (never 404 "no such
// tenant", never invalid_client), the outage is logged once, and probes
// keep answering whatever the Host.
func TestDatabaseOutageAnswers503(t *testing.T) {
	srv, s, logs := outageServer(t)
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {"some-client"}, "code": {"x"}}.Encode()
	cases := []request{
		{name: "mcp path mode", method: "POST", path: "/t/acme/mcp", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, auth: "Bearer abc", want: "rpc"},
		{name: "mcp host mode", method: "POST", path: "/mcp", host: "acme.tenants.test", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, auth: "Bearer abc", want: "rpc"},
		{name: "token", method: "POST", path: "/t/acme/oauth/token", body: form, want: "oauth"},
		{name: "token host mode", method: "POST", path: "/oauth/token", host: "acme.tenants.test", body: form, want: "oauth"},
		{name: "root token", method: "POST", path: "/token", body: form, want: "oauth"},
		{name: "register", method: "POST", path: "/t/acme/oauth/register", body: `{"redirect_uris":["http://127.0.0.1/cb"]}`, want: "oauth"},
		{name: "AS metadata", method: "GET", path: "/.well-known/oauth-authorization-server/t/acme", want: "oauth"},
		{name: "PRM", method: "GET", path: "/.well-known/oauth-protected-resource/t/acme/mcp", want: "oauth"},
		{name: "api with key", method: "GET", path: "/api/v1/tenants/acme", auth: "Bearer some-api-key", want: "problem"},
		{name: "api admin", method: "GET", path: "/api/v1/tenants/acme", auth: "Bearer " + adminToken, want: "problem"},
	}
	// Up: the unknown tenant is a 404 (the contrast the outage must not hit).
	if resp, _ := doReq(t, srv, request{method: "POST", path: "/t/nope/mcp", body: `{}`}); resp.StatusCode != 404 {
		t.Fatalf("unknown tenant while up: %d", resp.StatusCode)
	}
	s.down.Store(true)
	for _, c := range cases {
		resp, b := doReq(t, srv, c)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d Retry-After=%q %s; want 503 with Retry-After", c.name, resp.StatusCode, resp.Header.Get("Retry-After"), b)
			continue
		}
		checkRefusal(t, c, resp, b, "temporarily_unavailable")
	}
	// The public liveness probe never resolves a tenant, whatever the Host
	// (pod IP, tenant host); /metrics and /readyz live on the admin
	// listener (api/admin), which has no tenant lookup at all.
	for _, host := range []string{"", "10.1.2.3:8080", "acme.tenants.test", "custom.example.org"} {
		resp, b := doReq(t, srv, request{method: "GET", path: "/healthz", host: host})
		if resp.StatusCode != 200 {
			t.Errorf("/healthz Host=%q during outage: %d %s", host, resp.StatusCode, b)
		}
	}
	if n := strings.Count(logs.String(), "database unavailable"); n != 1 {
		t.Errorf("outage logged %d times; want once:\n%s", n, logs.String())
	}
	s.down.Store(false)
	// Recovery without restart: the next lookup reaches the store again.
	resp, b := doReq(t, srv, request{method: "GET", path: "/.well-known/oauth-authorization-server/t/acme"})
	if resp.StatusCode != 200 {
		t.Fatalf("after recovery: %d %s", resp.StatusCode, b)
	}
	if !strings.Contains(logs.String(), "database reachable again") {
		t.Error("recovery not logged")
	}
}
