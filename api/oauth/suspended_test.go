package oauth_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// A suspended tenant's authorization server refuses: its refresh tokens
// stop working (403 access_denied, the operator's words) and its sign-in
// pages say so instead of starting a login.
func TestSuspendedTenantRefusesTokensAndSignIn(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), envOpts{})
	tn := e.tenant("acme", nil, nil)
	site := e.pathSite(tn)
	cid := e.publicClient(site, "App")
	_, rt := e.tokens(site, cid)
	now := time.Now().UTC()
	tn.SuspendedAt = &now
	if err := e.store.UpdateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	e.deps.Sites.Invalidate()
	resp, out := e.refresh(site, cid, rt, nil)
	if resp.StatusCode != http.StatusForbidden || out["error"] != "access_denied" || out["error_description"] != tenants.SuspendedMessage {
		t.Fatalf("refresh of a suspended tenant: %d %v", resp.StatusCode, out)
	}
	res, err := e.browser().Get(site.Endpoint("authorize") + "?client_id=" + cid)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "suspended by the platform operator") {
		t.Fatalf("authorize of a suspended tenant: %d %.500s", res.StatusCode, body)
	}
}
