package httpx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants/telemetry"
)

// A request proxied behind TraceRoute (as the MCP gateway proxies to the
// tenant's server) carries the server span's traceparent upstream, and the
// span is named by the route.
func TestTraceparentReachesProxiedUpstream(t *testing.T) {
	rec, tp := testkit.Tracing(t)

	var got string
	up := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Header.Get("Traceparent") }))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(httpx.TraceRoute())
	r.POST("/t/:slug/mcp", gin.WrapH(httputil.NewSingleHostReverseProxy(target)))
	srv := httptest.NewServer(telemetry.Handler(r))
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/t/acme/mcp", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_ = tp.ForceFlush(context.Background())
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Name() != "POST /t/:slug/mcp" {
		t.Fatalf("spans: %v", spans)
	}
	sc := spans[0].SpanContext()
	if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; got != want {
		t.Fatalf("upstream traceparent %q, want %q", got, want)
	}
}
