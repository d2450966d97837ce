package oauth_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
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
	tn, site, cid := e.withPublicClient("acme", "App", nil, nil)
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

// An expired API key authenticates introspection no more than a deleted one.
func TestIntrospectionRefusesExpiredAPIKey(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), envOpts{})
	tn := e.tenant("expkey", nil, nil)
	site := e.pathSite(tn)
	soon := time.Now().Add(time.Hour)
	key, k, err := e.prov.CreateAPIKey(context.Background(), tn, tenants.APIKeyInput{Name: "short", ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}
	if out := e.introspect(site, key, "not-a-token"); out["active"] != false {
		t.Fatalf("live key: %v", out)
	}
	if err := e.store.DB().Model(&tenants.APIKey{}).Where("id = ?", k.ID).Update("expires_at", time.Now().Add(-time.Minute)).Error; err != nil {
		t.Fatal(err)
	}
	resp, out := e.post(site.Endpoint("introspect"), url.Values{"token": {"x"}}, http.Header{"Authorization": {"Bearer " + key}})
	if resp.StatusCode != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Fatalf("expired key: %d %v", resp.StatusCode, out)
	}
}
