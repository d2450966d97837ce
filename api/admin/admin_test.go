package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/api/admin"
)

func fail(msg string) func(context.Context) error {
	return func(context.Context) error { return errors.New(msg) }
}

func ok(context.Context) error { return nil }

// /readyz reports each dependency in the fixed vocabulary. A Redis outage
// alone does not make serve unready (audit writes synchronously), but it
// does make the worker unready.
func TestReadyzVocabulary(t *testing.T) {
	cases := []struct {
		name          string
		db, queue     func(context.Context) error
		queueRequired bool
		code          int
		want          admin.Readiness
	}{
		{"all up", ok, ok, false, 200, admin.Readiness{Status: "ready", Checks: map[string]string{"database": "ok", "queue": "ok"}}},
		{"redis down, serve", ok, fail("x"), false, 200, admin.Readiness{Status: "ready", Checks: map[string]string{"database": "ok", "queue": "degraded"}}},
		{"redis down, worker", ok, fail("x"), true, 503, admin.Readiness{Status: "not_ready", Checks: map[string]string{"database": "ok", "queue": "unavailable"}}},
		{"database down", fail("x"), ok, false, 503, admin.Readiness{Status: "not_ready", Checks: map[string]string{"database": "unavailable", "queue": "ok"}}},
		{"no queue", ok, nil, false, 200, admin.Readiness{Status: "ready", Checks: map[string]string{"database": "ok"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := admin.Handler(admin.Options{DatabasePing: tc.db, QueuePing: tc.queue, QueueRequired: tc.queueRequired,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d", rec.Code, tc.code)
			}
			var got admin.Readiness
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.want.Status || len(got.Checks) != len(tc.want.Checks) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for k, v := range tc.want.Checks {
				if got.Checks[k] != v {
					t.Errorf("check %s = %q, want %q", k, got.Checks[k], v)
				}
			}
		})
	}
}

// /metrics and /healthz are served; other methods are refused.
func TestAdminRoutes(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_test_total", Help: "t"})
	reg.MustRegister(c)
	c.Inc()
	srv := httptest.NewServer(admin.Handler(admin.Options{Registry: reg, DatabasePing: ok, Version: "v9",
		Routes: map[string]http.Handler{"GET /extra": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })}}))
	defer srv.Close()
	get := func(method, p string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+p, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("GET", "/metrics"); code != 200 || !strings.Contains(body, "gatehouse_test_total 1") {
		t.Errorf("/metrics: %d %s", code, body)
	}
	if code, body := get("GET", "/healthz"); code != 200 || !strings.Contains(body, `"version":"v9"`) {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, _ := get("GET", "/extra"); code != 204 {
		t.Errorf("extra route: %d", code)
	}
	if code, _ := get("POST", "/readyz"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz: %d", code)
	}
}
