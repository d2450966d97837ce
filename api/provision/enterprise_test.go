package provision_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// POST/GET/DELETE …/enterprise-idps (docs/RULES.md §11): validation as
// problem+json, 201 with id and Location, per-URL-mode targets, tenant
// isolation, and deleting an IdP revokes the access of its users.
func TestEnterpriseIdPs(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		e.mkTenant("other", nil)
		base := "/api/v1/tenants/acme/enterprise-idps"
		for _, tc := range []struct {
			body        any
			field, frag string
		}{
			{map[string]any{"allowed_clients": []string{"c"}}, "issuer", "is required"},
			{map[string]any{"issuer": "http://idp.example", "allowed_clients": []string{"c"}}, "issuer", "https"},
			{map[string]any{"issuer": "https://idp.example?x=1", "allowed_clients": []string{"c"}}, "issuer", "query"},
			{map[string]any{"issuer": "https://idp.example", "allowed_clients": []string{}}, "allowed_clients", "at least one"},
			{map[string]any{"issuer": "https://idp.example", "allowed_clients": []string{"c", "c"}}, "allowed_clients", "twice"},
			{map[string]any{"issuer": "https://idp.example", "jwks_uri": "http://idp.example/keys", "allowed_clients": []string{"c"}}, "jwks_uri", "https"},
			{map[string]any{"issuer": "https://idp.example", "allowed_clients": []string{"c"}, "scopes": []string{"admin"}}, "scopes", "not offered"},
		} {
			fieldErr(t, e.admin("POST", base, tc.body).problem(t, 400), tc.field, tc.frag)
		}
		e.admin("POST", base, map[string]any{"issuer": "https://idp.example", "allowed_clients": []string{"c"}, "extra": 1}).problem(t, 400)

		r := e.admin("POST", base, map[string]any{"issuer": "https://acme.okta.example", "allowed_clients": []string{"claude"}, "scopes": []string{"mcp"}})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		m := r.json(t)
		id, _ := m["id"].(string)
		if id == "" || r.header.Get("Location") != base+"/"+id {
			t.Fatalf("id %q, Location %q", id, r.header.Get("Location"))
		}
		targets := m["targets"].([]any)
		tg := targets[0].(map[string]any)
		if tg["url_mode"] != "path" || tg["audience"] != publicURL+"/t/acme" || tg["resource"] != publicURL+"/t/acme/mcp" ||
			tg["token_endpoint"] != publicURL+"/t/acme/oauth/token" {
			t.Fatalf("targets: %v", targets)
		}
		fieldErr(t, e.admin("POST", base, map[string]any{"issuer": "https://acme.okta.example", "allowed_clients": []string{"x"}}).problem(t, 409), "issuer", "already trusted")

		if g := e.admin("GET", base+"/"+id, nil).json(t); g["issuer"] != "https://acme.okta.example" {
			t.Fatalf("get: %v", g)
		}
		if items := e.admin("GET", base, nil).json(t)["items"].([]any); len(items) != 1 {
			t.Fatalf("list: %v", items)
		}
		e.admin("GET", base+"?limit=1", nil).problem(t, 400)
		// Another tenant's key sees 404, never the IdP.
		key, _ := e.mkKey("other")
		e.do(req{method: "GET", path: base + "/" + id, token: key}).problem(t, 404)
		e.do(req{method: "GET", path: "/api/v1/tenants/other/enterprise-idps/" + id, token: key}).problem(t, 404)
		e.do(req{method: "DELETE", path: "/api/v1/tenants/other/enterprise-idps/" + id, token: key}).problem(t, 404)

		// A user who arrived through the IdP, with a live grant.
		ctx := context.Background()
		tn := e.tenant("acme")
		g := e.enterpriseGrant(tn, "https://acme.okta.example")
		if r := e.admin("DELETE", base+"/"+id, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		e.admin("GET", base+"/"+id, nil).problem(t, 404)
		if got, _ := e.store.GetGrant(ctx, tn.ID, g.ID); got.RevokedAt == nil {
			t.Fatal("the grant of a user of the deleted IdP is still live")
		}
		if len(e.audit(tn.ID, "admin.enterprise_idp.deleted")) != 1 || len(e.audit(tn.ID, "admin.enterprise_idp.created")) != 1 {
			t.Fatal("admin changes not audited")
		}
		if !e.bus.has(tenants.TopicTenantChanged, tn.ID) {
			t.Fatal("other replicas not told")
		}
	})
}

// Changing the tenant's upstream IdP never touches enterprise users
// (they are admitted by the enterprise IdP list, not the login IdP).
func TestEnterpriseUsersSurviveIdPChange(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), nil)
	e.mkTenant("acme", nil)
	ctx := context.Background()
	tn := e.tenant("acme")
	g := e.enterpriseGrant(tn, "https://acme.okta.example")
	if r := e.admin("PUT", "/api/v1/tenants/acme/idp", map[string]any{"type": "github", "client_id": "Iv1.abc", "client_secret": "s"}); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got, _ := e.store.GetGrant(ctx, tn.ID, g.ID); got.RevokedAt != nil {
		t.Fatalf("enterprise user's grant revoked by an upstream IdP change: %s", got.RevokedReason)
	}
}

// enterpriseGrant stores a user who arrived through issuer, with a live grant.
func (e *env) enterpriseGrant(tn *tenants.Tenant, issuer string) *tenants.Grant {
	e.t.Helper()
	now := time.Now().UTC()
	u := &tenants.User{TenantID: tn.ID, ID: tenants.RandomID(), IdP: tenants.IdPEnterprise, IdPIssuer: issuer, IdPSubject: "u1", CreatedAt: now, LastLoginAt: now}
	if err := e.store.UpsertUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	g := &tenants.Grant{TenantID: tn.ID, ID: tenants.RandomID(), UserID: u.ID, Subject: u.ID, ClientID: "claude", Scopes: tenants.Strings{"mcp"},
		Resource: publicURL + "/t/" + tn.Slug + "/mcp", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.store.CreateGrant(context.Background(), g); err != nil {
		e.t.Fatal(err)
	}
	return g
}

// POST …/clients with private_key_jwt (RFC 7523 §2.2): jwks or jwks_uri,
// public keys only, no secret; the keys are shown back, never a secret.
func TestPrivateKeyJWTClients(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), nil)
	e.mkTenant("acme", map[string]any{"settings": map[string]any{"client_credentials": true}})
	base := "/api/v1/tenants/acme/clients"
	pub := map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256", "kid": "k1",
		"x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}}
	priv := map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256", "kid": "k1",
		"x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}}}
	sym := map[string]any{"keys": []any{map[string]any{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}}}
	for _, tc := range []struct {
		body        map[string]any
		field, frag string
	}{
		{map[string]any{"token_endpoint_auth_method": "private_key_jwt", "grant_types": []string{"client_credentials"}}, "jwks", "exactly one"},
		{map[string]any{"token_endpoint_auth_method": "private_key_jwt", "grant_types": []string{"client_credentials"}, "jwks": pub, "jwks_uri": "https://k.example/jwks"}, "jwks", "exactly one"},
		{map[string]any{"token_endpoint_auth_method": "private_key_jwt", "grant_types": []string{"client_credentials"}, "jwks": priv}, "jwks", "public keys only"},
		{map[string]any{"token_endpoint_auth_method": "private_key_jwt", "grant_types": []string{"client_credentials"}, "jwks": sym}, "jwks", "asymmetric"},
		{map[string]any{"token_endpoint_auth_method": "private_key_jwt", "grant_types": []string{"client_credentials"}, "jwks_uri": "http://k.example/jwks"}, "jwks_uri", "https"},
		{map[string]any{"grant_types": []string{"client_credentials"}, "jwks": pub}, "jwks", "only used with"},
	} {
		fieldErr(t, e.admin("POST", base, tc.body).problem(t, 400), tc.field, tc.frag)
	}
	r := e.admin("POST", base, map[string]any{"client_id": "machine-1", "token_endpoint_auth_method": "private_key_jwt", "grant_types": []string{"client_credentials"}, "jwks": pub})
	if r.status != http.StatusCreated {
		t.Fatalf("%d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["client_secret"] != nil || m["token_endpoint_auth_method"] != "private_key_jwt" || m["jwks"] == nil {
		t.Fatalf("created: %v", m)
	}
	if r := e.admin("POST", base, map[string]any{"client_id": "machine-2", "token_endpoint_auth_method": "private_key_jwt", "grant_types": []string{"client_credentials"}, "jwks_uri": "https://keys.example/jwks"}); r.status != http.StatusCreated {
		t.Fatalf("%d %s", r.status, r.body)
	}
	e.admin("GET", base, nil) // the list validates against the spec
}
