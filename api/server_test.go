package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/api"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

func server(t *testing.T) *httptest.Server {
	t.Helper()
	s, err := gormstore.Open(context.Background(), testdb.SQLite(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sealer, _ := tenants.NewSealer([][]byte{make([]byte, 32)})
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &httpx.Deps{Store: s, Sealer: sealer, Keys: keys.New(s, sealer, nil), Auditor: &tenants.SyncAuditor{Store: s},
		Logger: logger, Sites: httpx.NewSites(s, base, ""), PublicURL: base, AllowDevIdP: true, AdminTokenHash: tenants.HashSecret("admin-token-for-tests-0123456789")}
	h, err := api.New(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// Unmatched routes answer in their surface's format: problem+json under
// /api/, OAuth-style JSON elsewhere; never gin's plain text.
func TestUnmatchedRoutes(t *testing.T) {
	srv := server(t)
	cases := []struct {
		method, path, ctype string
		status              int
	}{
		{"GET", "/api/v1/nope", "application/problem+json", 404},
		{"GET", "/nope", "application/json", 404},
		{"PUT", "/healthz", "application/json", 405},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
			t.Errorf("%s %s: %d %q; want %d %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.status, c.ctype)
		}
	}
}

func TestHealthAndReady(t *testing.T) {
	srv := server(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}
