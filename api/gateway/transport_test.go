package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// histCount is the sample count of the upstream latency histogram for
// (tenant, outcome).
func (e *env) histCount(slug, outcome string) uint64 {
	e.t.Helper()
	return e.series("gatehouse_upstream_request_duration_seconds", map[string]string{"tenant": slug, "outcome": outcome}).GetHistogram().GetSampleCount()
}

// Operations: the upstream's answer time is a histogram by tenant and
// outcome, so a slow or failing tenant server shows in metrics, not only in
// the audit log.
func TestUpstreamLatencyHistogram(t *testing.T) {
	e := newEnv(t, nil)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	okT := e.tenant("fast", serveMCP(t, okUpstream()), nil)
	errT := e.tenant("broken", serveMCP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })), nil)
	deadT := e.tenant("gone", deadURL+"/mcp", nil)
	for _, tn := range []struct {
		slug string
		url  string
		tok  string
	}{{"fast", e.mcpURL(okT), first(e.token(okT, nil))}, {"broken", e.mcpURL(errT), first(e.token(errT, nil))}, {"gone", e.mcpURL(deadT), first(e.token(deadT, nil))}} {
		res := e.do(http.MethodPost, tn.url, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tn.tok})
		res.Body.Close()
	}
	for _, c := range []struct{ slug, outcome string }{{"fast", "ok"}, {"broken", "error_status"}, {"gone", "failed"}} {
		if n := e.histCount(c.slug, c.outcome); n != 1 {
			t.Errorf("tenant %s outcome %s: %d samples, want 1", c.slug, c.outcome, n)
		}
	}
	if n := e.histCount("fast", "failed"); n != 0 {
		t.Errorf("a good answer counted as failed: %d", n)
	}
}

func first[A, B any](a A, _ B) A { return a }
