package gateway

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// timedTransport records how long the tenant's upstream MCP server takes to
// answer with headers (the body of a stream is not the upstream's latency),
// by tenant and outcome: ok (below 500), error_status (5xx), failed (no
// answer: refused, reset, timed out).
type timedTransport struct {
	base http.RoundTripper
	hist *prometheus.HistogramVec
}

func newUpstreamHistogram(reg prometheus.Registerer) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_upstream_request_duration_seconds",
		Help:    "Time until the tenant's upstream MCP server answered with headers, by tenant and outcome (ok, error_status, failed).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 120},
	}, []string{"tenant", "outcome"})
	reg.MustRegister(h)
	return h
}

func (t *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	slug := ""
	if st := stateFrom(r); st != nil && st.site.Tenant != nil {
		slug = st.site.Tenant.Slug
	}
	outcome := "ok"
	switch {
	case err != nil:
		outcome = "failed"
	case resp.StatusCode >= 500:
		outcome = "error_status"
	}
	t.hist.WithLabelValues(slug, outcome).Observe(time.Since(start).Seconds())
	return resp, err
}
