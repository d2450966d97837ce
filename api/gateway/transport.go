package gateway

import (
	"io"
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

// followRedirects re-sends a request the upstream redirected within its own
// origin (e.g. /mcp → /mcp/, as Starlette does) instead of handing the
// client a Location with an internal address. Other redirects are left for
// modifyResponse to refuse.
type followRedirects struct{ base http.RoundTripper }

func (f *followRedirects) RoundTrip(req *http.Request) (*http.Response, error) {
	for hop := 0; ; hop++ {
		resp, err := f.base.RoundTrip(req)
		if err != nil || hop == 3 {
			return resp, err
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, nil
		}
		loc, perr := req.URL.Parse(resp.Header.Get("Location"))
		if perr != nil || loc.Scheme != req.URL.Scheme || loc.Host != req.URL.Host || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		next := req.Clone(req.Context())
		next.URL = loc
		next.Host = ""
		if req.GetBody != nil {
			if next.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		req = next
	}
}
