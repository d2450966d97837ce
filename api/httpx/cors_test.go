package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

// One CORS policy for every public surface: any origin, preflight ended
// with 204, requested plain-token headers echoed (and anything else not),
// and Vary so a shared cache cannot mix preflight answers.
func TestCORSOnePolicy(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Any("/x", httpx.CORS("GET, POST, OPTIONS", "WWW-Authenticate"), func(c *gin.Context) { c.String(200, "ok") })
	pre := func(reqHeaders string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodOptions, "/x", nil)
		req.Header.Set("Origin", "https://inspector.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		if reqHeaders != "" {
			req.Header.Set("Access-Control-Request-Headers", reqHeaders)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	w := pre("authorization, mcp-param-repo")
	h := w.Header()
	if w.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight: %d %v", w.Code, h)
	}
	if !strings.Contains(h.Get("Access-Control-Allow-Headers"), "mcp-param-repo") || !strings.Contains(h.Get("Vary"), "Access-Control-Request-Headers") {
		t.Fatalf("allow %q vary %q", h.Get("Access-Control-Allow-Headers"), h.Get("Vary"))
	}
	if got := pre("x-evil\r\nset-cookie: a").Header().Get("Access-Control-Allow-Headers"); strings.Contains(got, "evil") {
		t.Fatalf("a non-token header list was echoed: %q", got)
	}
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	w = httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != 200 || w.Header().Get("Access-Control-Expose-Headers") != "WWW-Authenticate" {
		t.Fatalf("simple request: %d %v", w.Code, w.Header())
	}
}
