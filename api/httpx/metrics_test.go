package httpx_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse/api/httpx"
)

func sampleCount(t *testing.T, reg *prometheus.Registry, name, route string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabel(m, "route", route) {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// SSE stream lifetimes go to their own histogram, not the request latency one.
func TestStreamLifetimesOutOfLatency(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	reg := prometheus.NewRegistry()
	r := gin.New()
	r.Use(httpx.NewMetrics(reg).Handler())
	r.GET("/json", func(c *gin.Context) { c.JSON(200, gin.H{"ok": true}) })
	r.GET("/sse", func(c *gin.Context) {
		c.Header("Content-Type", "text/event-stream")
		c.Status(200)
		c.Writer.Flush()
		time.Sleep(20 * time.Millisecond)
		_, _ = c.Writer.Write([]byte("data: x\n\n"))
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	for _, p := range []string{"/json", "/sse"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body) // the middleware has observed once the body ends
		resp.Body.Close()
	}
	if n := sampleCount(t, reg, "gatehouse_http_request_duration_seconds", "/json"); n != 1 {
		t.Errorf("latency samples for /json: %d", n)
	}
	if n := sampleCount(t, reg, "gatehouse_http_request_duration_seconds", "/sse"); n != 0 {
		t.Errorf("an SSE stream went into the latency histogram (%d)", n)
	}
	if n := sampleCount(t, reg, "gatehouse_http_stream_duration_seconds", "/sse"); n != 1 {
		t.Errorf("stream lifetime samples for /sse: %d", n)
	}
}
