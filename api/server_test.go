package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/api"
	"github.com/gatehouse/gatehouse/api/admin"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants"
)

func server(t *testing.T) *httptest.Server {
	t.Helper()
	srv, _ := wrappedServer(t, &countingStore{}, "", io.Discard)
	return srv
}

// Unmatched routes answer in their surface's format: problem+json under
// /api/, OAuth-style JSON on protocol paths, an HTML page for people;
// never gin's plain text.
func TestUnmatchedRoutes(t *testing.T) {
	srv := server(t)
	cases := []struct {
		method, path, ctype string
		status              int
		body                string // the whole body, where it is fixed
	}{
		{"GET", "/api/v1/nope", "application/problem+json", 404,
			`{"type":"about:blank","title":"Not Found","status":404,"detail":"no such endpoint; see /api/v1/openapi.yaml"}`},
		{"PUT", "/api/v1/tenants", "application/problem+json", 405,
			`{"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"method not allowed on this endpoint"}`},
		{"GET", "/nope", "text/html", 404, ""},
		{"GET", "/console/nope/deeper", "text/html", 404, ""},
		{"GET", "/t/acme/oauth/nope", "application/json", 404, `{"error":"not_found","error_description":"no such endpoint"}`},
		{"GET", "/.well-known/nope", "application/json", 404, `{"error":"not_found","error_description":"no such endpoint"}`},
		{"GET", "/favicon.ico", "image/svg+xml", 200, ""},
		{"PUT", "/healthz", "application/json", 405, `{"error":"method_not_allowed","error_description":"method not allowed on this endpoint"}`},
	}
	for _, c := range cases {
		resp, body := doReq(t, srv, request{method: c.method, path: c.path})
		if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
			t.Errorf("%s %s: %d %q; want %d %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.status, c.ctype)
		}
		if c.body != "" && string(body) != c.body {
			t.Errorf("%s %s: body %s; want %s", c.method, c.path, body, c.body)
		}
	}
}

// The public listener keeps only liveness: readiness and metrics (which
// list every tenant slug that has seen traffic) are on the admin listener.
func TestPublicListenerOnlyLiveness(t *testing.T) {
	srv := server(t)
	for p, want := range map[string]int{"/healthz": 200, "/readyz": 404, "/metrics": 404} {
		resp, body := doReq(t, srv, request{method: "GET", path: p})
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", p, resp.StatusCode, want)
		}
		if strings.Contains(string(body), "gatehouse_http_requests_total") {
			t.Errorf("%s publishes metrics", p)
		}
	}
}

// countingStore counts tenant lookups and can fail its ping with text that
// names the database (as a real driver error does).
type countingStore struct {
	tenants.Store
	lookups atomic.Int64
	pingErr error
}

func (s *countingStore) GetTenantBySlug(ctx context.Context, slug string) (*tenants.Tenant, error) {
	s.lookups.Add(1)
	return s.Store.GetTenantBySlug(ctx, slug)
}

func (s *countingStore) GetTenantByDomain(ctx context.Context, host string) (*tenants.Tenant, error) {
	s.lookups.Add(1)
	return s.Store.GetTenantByDomain(ctx, host)
}

func (s *countingStore) Ping(ctx context.Context) error {
	if s.pingErr != nil {
		return s.pingErr
	}
	return s.Store.Ping(ctx)
}

// wrappedServer serves the platform over cs (wrapping a fresh store), with
// its JSON log on logs.
func wrappedServer(t *testing.T, cs *countingStore, tenantDomain string, logs io.Writer, opts ...*api.Options) (*httptest.Server, *httpx.Deps) {
	t.Helper()
	cs.Store = openStore(t, nil)
	var o *api.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	srv, k := serve(t, testkit.Options{Store: cs, TenantDomain: tenantDomain, Logs: logs}, o, nil)
	return srv, k.Deps
}

// Liveness never resolves a tenant, whatever the Host header says.
func TestHealthzNoTenantLookup(t *testing.T) {
	cs := &countingStore{}
	srv, _ := wrappedServer(t, cs, "tenants.example", io.Discard)
	for _, host := range []string{"acme.tenants.example", "custom.example.org", ""} {
		resp, _ := doReq(t, srv, request{method: "GET", path: "/healthz", host: host})
		if resp.StatusCode != 200 {
			t.Errorf("host %q: %d", host, resp.StatusCode)
		}
	}
	if n := cs.lookups.Load(); n != 0 {
		t.Fatalf("/healthz made %d tenant lookups", n)
	}
	// The same counter does see host-mode lookups on other paths.
	doReq(t, srv, request{method: "GET", path: "/mcp", host: "acme.tenants.example"})
	if cs.lookups.Load() == 0 {
		t.Fatal("the lookup counter is not wired")
	}
}

// Hole 15: /readyz answered raw database and Redis error text (host, user,
// database). Now only the admin listener answers it, each dependency in a
// fixed vocabulary; the details go to the log.
func TestSecurity_15_ReadyzNoErrorText(t *testing.T) {
	const secret = "dial tcp 10.9.8.7:5432: password authentication failed for user \"gh_prod\" database \"gatehouse_prod\""
	const redisSecret = "dial tcp redis-primary.internal:6379: connect: connection refused"
	var logs bytes.Buffer
	cs := &countingStore{pingErr: errors.New(secret)}
	srv, d := wrappedServer(t, cs, "", &logs)
	d.QueuePing = func(context.Context) error { return errors.New(redisSecret) }

	adm := httptest.NewServer(admin.Handler(admin.Options{
		Registry: prometheus.NewRegistry(), DatabasePing: d.Store.Ping, QueuePing: d.QueuePing, Logger: d.Logger,
	}))
	defer adm.Close()
	for _, s := range []*httptest.Server{srv, adm} {
		resp, body := doReq(t, s, request{method: "GET", path: "/readyz"})
		for _, leak := range []string{"10.9.8.7", "gh_prod", "gatehouse_prod", "redis-primary", "refused", "dial tcp"} {
			if strings.Contains(string(body), leak) {
				t.Errorf("%s/readyz leaks %q: %s", s.URL, leak, body)
			}
		}
		if s == adm {
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("admin /readyz with the database down: %d", resp.StatusCode)
			}
			want := `{"status":"not_ready","checks":{"database":"unavailable","queue":"degraded"}}`
			if strings.TrimSpace(string(body)) != want {
				t.Errorf("admin /readyz body %s, want %s", body, want)
			}
		}
	}
	if !strings.Contains(logs.String(), "gh_prod") || !strings.Contains(logs.String(), "redis-primary") {
		t.Errorf("the details must reach the log: %s", logs.String())
	}
}
