package httpx_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// The access log line carries the request's fields, with the client
// address RequestInfo read.
func TestAccessLog(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	var buf bytes.Buffer
	r := gin.New()
	r.Use(httpx.RequestInfo(), httpx.AccessLog(slog.New(slog.NewJSONHandler(&buf, nil))))
	r.GET("/t/:slug/x", func(c *gin.Context) { c.Status(http.StatusTeapot) })
	req := httptest.NewRequest(http.MethodGet, "/t/acme/x", nil)
	req.RemoteAddr = "192.0.2.7:4242"
	req.Header.Set("X-Request-Id", "req-0123456789abcdef")
	r.ServeHTTP(httptest.NewRecorder(), req)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	for k, v := range map[string]any{"msg": "http request", "method": "GET", "route": "/t/:slug/x", "path": "/t/acme/x",
		"status": float64(http.StatusTeapot), "request_id": "req-0123456789abcdef", "ip": "192.0.2.7"} {
		if line[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, line[k], v, buf.Bytes())
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms missing: %s", buf.Bytes())
	}
}
