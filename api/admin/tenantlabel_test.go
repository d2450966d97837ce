package admin_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse/gatehouse/api/admin"
)

// A deleted tenant's series are removed; live tenants' stay.
func TestTenantSeriesPrune(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := admin.NewTenantSeries(reg)
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_x_total", Help: "x"}, []string{"tenant", "outcome"})
	streams := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatehouse_y", Help: "y"}, []string{"tenant"})
	ts.MustRegister(reqs, streams)
	reqs.WithLabelValues("live", "ok").Inc()
	reqs.WithLabelValues("gone", "ok").Inc()
	reqs.WithLabelValues("gone", "denied").Inc()
	streams.WithLabelValues("gone").Set(2)
	live := map[string]bool{"live": true}
	n, err := ts.Prune(context.Background(), reg, func(_ context.Context, slug string) (bool, error) { return live[slug], nil })
	if err != nil || n != 3 {
		t.Fatalf("pruned %d, %v; want 3", n, err)
	}
	if got := testutil.CollectAndCount(reqs); got != 1 {
		t.Errorf("%d request series left, want 1", got)
	}
	if got := testutil.CollectAndCount(streams); got != 0 {
		t.Errorf("%d stream series left", got)
	}
	if testutil.ToFloat64(reqs.WithLabelValues("live", "ok")) != 1 {
		t.Error("a live tenant's series was touched")
	}
}

// With the tenant label dropped, /metrics adds the tenants' series up.
func TestMetricsWithoutTenantLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_x_total", Help: "x"}, []string{"tenant", "outcome"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatehouse_lat_seconds", Help: "l", Buckets: []float64{1, 10}}, []string{"tenant"})
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_plain_total", Help: "p"})
	reg.MustRegister(reqs, lat, other)
	reqs.WithLabelValues("a", "ok").Add(2)
	reqs.WithLabelValues("b", "ok").Add(3)
	reqs.WithLabelValues("b", "denied").Add(1)
	lat.WithLabelValues("a").Observe(0.5)
	lat.WithLabelValues("b").Observe(5)
	other.Inc()
	for _, drop := range []bool{false, true} {
		rec := httptest.NewRecorder()
		admin.Handler(admin.Options{Registry: reg, DatabasePing: ok, DropTenantLabel: drop}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body := rec.Body.String()
		if strings.Contains(body, `tenant="`) != !drop {
			t.Fatalf("drop=%v: tenant label present=%v\n%s", drop, !drop, body)
		}
		if !drop {
			continue
		}
		for _, want := range []string{`gatehouse_x_total{outcome="ok"} 5`, `gatehouse_x_total{outcome="denied"} 1`,
			`gatehouse_lat_seconds_bucket{le="1"} 1`, `gatehouse_lat_seconds_bucket{le="10"} 2`, `gatehouse_lat_seconds_count 2`,
			`gatehouse_lat_seconds_sum 5.5`, `gatehouse_plain_total 1`} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q in\n%s", want, body)
			}
		}
	}
}
