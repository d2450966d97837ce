package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// A suspended tenant's connector answers a clear error to every request,
// and a token that worked before stops working (DESIGN §12).
func TestSuspendedTenantConnectorRefusesWithClearError(t *testing.T) {
	e := newEnv(t, nil)
	us := httptest.NewServer(okUpstream())
	defer us.Close()
	tn := e.tenant("acme", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	auth := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
	res := e.do(http.MethodPost, e.mcpURL(tn), body, auth)
	readAll(t, res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("before suspension: %d", res.StatusCode)
	}
	now := time.Now().UTC()
	tn.SuspendedAt = &now
	if err := e.store.UpdateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	e.deps.Sites.Invalidate()
	for name, hdr := range map[string]map[string]string{"with token": auth, "without token": {"Content-Type": "application/json"}} {
		res := e.do(http.MethodPost, e.mcpURL(tn), body, hdr)
		got := readAll(t, res.Body)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(got, tenants.SuspendedMessage) || !strings.Contains(got, `"jsonrpc":"2.0"`) {
			t.Errorf("%s: %d %s", name, res.StatusCode, got)
		}
	}
}
