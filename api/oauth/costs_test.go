package oauth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// busEnv is a server as a replica runs it: caches on, kept current by bus.
func busEnv(t *testing.T, dsn string, bus tenants.Bus) *env {
	return newEnv(t, dsn, envOpts{bus: bus, auditInMemory: true, limits: unlimited{}})
}

// ccForm pre-registers a client_credentials client (client_secret_post)
// and returns the form of its token request.
func (e *env) ccForm(tn *tenants.Tenant, site tenants.Site) url.Values {
	id, secret := e.ccClient(tn, tenants.AuthClientSecretPost)
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "resource": {site.Resource}}
}

// TestTransactionsPerRequest counts the database transactions (each InTx
// and each statement outside one) of the token and introspection requests
// once the caches are warm (docs/PERFORMANCE.md "What each number costs"):
// at most one per token issued, none per introspection of a live JWT. On
// Postgres it also counts the statements (round trips, BEGIN and COMMIT
// aside): a refresh reads its token, grant and user in one and rotates in
// one; a code exchange consumes and reads in one. (SQLite runs more, all
// local: no data-modifying CTE, and a statement to take the write lock.)
func TestTransactionsPerRequest(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e := busEnv(t, dsn(t), &testdb.Bus{})
		tn := e.tenant("costs", nil, &tenants.Settings{ClientCredentials: true})
		site := e.pathSite(tn)
		cc := e.ccForm(tn, site)
		cid := e.publicClient(site, "costs")
		key := e.apiKey(tn)
		at, rt := e.tokens(site, cid) // warms the client, tenant and key caches
		const n = 5
		postgres := strings.HasSuffix(t.Name(), "/postgres")
		per := func(name string, max, maxStatements float64, req func(i int)) {
			t.Helper()
			req(-1) // warm-up: first uses write last_used_at once
			before, stmts := e.store.Transactions(), e.store.Statements()
			for i := 0; i < n; i++ {
				req(i)
			}
			got, gotStmts := float64(e.store.Transactions()-before)/n, float64(e.store.Statements()-stmts)/n
			t.Logf("%s: %.2f transactions, %.2f statements per request", name, got, gotStmts)
			if got > max {
				t.Errorf("%s: %.2f transactions per request, want ≤ %.0f", name, got, max)
			}
			if postgres && gotStmts > maxStatements {
				t.Errorf("%s: %.2f statements per request, want ≤ %.0f", name, gotStmts, maxStatements)
			}
		}
		per("client_credentials", 1, 0, func(int) {
			if resp, out := e.post(site.Endpoint("token"), cc, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("client_credentials: %d %v", resp.StatusCode, out)
			}
		})
		per("refresh", 1, 2, func(int) {
			resp, out := e.refresh(site, cid, rt, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("refresh: %d %v", resp.StatusCode, out)
			}
			rt = out["refresh_token"].(string)
		})
		// An authorization that ends in the request it started in (dev
		// auto-login, consent on file) reads the tenant's IdPs and the
		// consent, upserts the user and stores grant + code in one
		// transaction; its pending authorization is never written.
		per("authorization ending in its first request", 4, 5, func(int) { e.code(site, cid, nil) })
		codes := make([][2]string, n+1)
		for i := range codes {
			codes[i][0], codes[i][1] = e.code(site, cid, nil)
		}
		per("code exchange", 1, 3, func(i int) {
			if resp, out := e.exchange(site, cid, codes[i+1][0], codes[i+1][1]); resp.StatusCode != http.StatusOK {
				t.Fatalf("code exchange: %d %v", resp.StatusCode, out)
			}
		})
		per("introspection of a live JWT", 0, 0, func(int) {
			if out := e.introspect(site, key, at); out["active"] != true {
				t.Fatalf("introspection: %v", out)
			}
		})
	})
}

// TestDeletedClientRefusedOnEveryReplica: two replicas share one database
// and one bus; both have the client cached. Deleting it through one
// refuses it at the other from that moment (no cache TTL to wait out), for
// client_credentials and for a refresh.
func TestDeletedClientRefusedOnEveryReplica(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		bus, db := &testdb.Bus{}, dsn(t)
		a := busEnv(t, db, bus)
		b := busEnv(t, db, bus)
		b.restart(a.key) // one GATEHOUSE_SECRET_KEY for both replicas
		tn := a.tenant("replicas", nil, &tenants.Settings{ClientCredentials: true})
		siteA, siteB := a.pathSite(tn), b.pathSite(tn)
		cc := a.ccForm(tn, siteA)
		ccB := url.Values{}
		for k, v := range cc {
			ccB[k] = v
		}
		ccB.Set("resource", siteB.Resource)
		cid := a.publicClient(siteA, "replicas")
		_, rt := b.tokens(siteB, cid)    // registered through a, used through b
		for _, e := range []*env{a, b} { // both replicas cache both clients
			site, form := e.pathSite(tn), cc
			if e == b {
				form = ccB
			}
			if resp, out := e.post(site.Endpoint("token"), form, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("client_credentials before the delete: %d %v", resp.StatusCode, out)
			}
		}
		resp, out := b.refresh(siteB, cid, rt, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh before the delete: %d %v", resp.StatusCode, out)
		}
		rt = out["refresh_token"].(string)

		for _, id := range []string{cc.Get("client_id"), cid} {
			if err := a.prov.DeleteClient(context.Background(), tn, id); err != nil {
				t.Fatal(err)
			}
		}
		if resp, out := b.post(siteB.Endpoint("token"), ccB, nil); resp.StatusCode != http.StatusUnauthorized || out["error"] != "invalid_client" {
			t.Errorf("client_credentials on the other replica after the delete: %d %v, want 401 invalid_client", resp.StatusCode, out)
		}
		if resp, out := b.refresh(siteB, cid, rt, nil); resp.StatusCode != http.StatusUnauthorized || out["error"] != "invalid_client" {
			t.Errorf("refresh on the other replica after the delete: %d %v, want 401 invalid_client", resp.StatusCode, out)
		}
		if resp, out := a.post(siteA.Endpoint("token"), cc, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("client_credentials on the deleting replica: %d %v, want 401", resp.StatusCode, out)
		}
	})
}

// TestMetadataDocuments: with the caches on, AS metadata and the JWKS cost
// no transaction, answer 304 to their own ETag, and a tenant.changed
// notice (here: client_credentials turned on) changes the document at once.
func TestMetadataDocuments(t *testing.T) {
	bus := &testdb.Bus{}
	e := busEnv(t, testdb.SQLite(t), bus)
	tn := e.tenant("metadoc", nil, nil)
	site := e.pathSite(tn)
	metaURL := e.base + "/.well-known/oauth-authorization-server" + strings.TrimPrefix(site.Issuer, e.base)
	get := func(u, inm string) (*http.Response, string) {
		t.Helper()
		hdr := http.Header{}
		if inm != "" {
			hdr.Set("If-None-Match", inm)
		}
		resp := e.send(http.MethodGet, u, nil, hdr)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	for _, u := range []string{metaURL, site.JWKSURL()} {
		resp, body := get(u, "")
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || etag == "" || resp.Header.Get("Cache-Control") != "public, max-age=300" ||
			resp.Header.Get("Content-Type") != "application/json; charset=utf-8" || !json.Valid([]byte(body)) {
			t.Fatalf("GET %s: %d ETag %q %v %s", u, resp.StatusCode, etag, resp.Header, body)
		}
		before := e.store.Transactions()
		if resp, body2 := get(u, ""); resp.StatusCode != http.StatusOK || body2 != body || resp.Header.Get("ETag") != etag {
			t.Fatalf("GET %s again: %d, a different document or ETag", u, resp.StatusCode)
		}
		if n := e.store.Transactions() - before; n != 0 {
			t.Errorf("GET %s (cached): %d transactions, want 0", u, n)
		}
		if resp, body := get(u, `"other", W/`+etag); resp.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("GET %s with If-None-Match: %d %q, want 304 and no body", u, resp.StatusCode, body)
		}
		if resp, _ := get(u, `"other"`); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with another ETag: %d, want 200", u, resp.StatusCode)
		}
	}
	_, before := get(metaURL, "")
	if strings.Contains(before, "client_credentials") {
		t.Fatalf("client_credentials advertised while off: %s", before)
	}
	patched, _, err := e.prov.PatchTenant(context.Background(), tn, []byte(`{"settings":{"client_credentials":true}}`), tenants.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.deps.Sites.Invalidate()
	_ = bus.Publish(context.Background(), tenants.TopicTenantChanged, patched.ID) // as the provisioning API does
	if _, after := get(metaURL, ""); !strings.Contains(after, "client_credentials") {
		t.Errorf("metadata after turning client_credentials on (tenant.changed): %s", after)
	}
}
