package provision_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// PUT/GET …/idp: the client secret is sealed, never returned, and kept
// when a later PUT omits it (docs/RULES.md §9).
func TestIdP(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		tn := e.tenant("acme")
		put := func(body any) resp { return e.admin("PUT", "/api/v1/tenants/acme/idp", body) }
		// The default IdP where allowed is dev.
		if m := e.admin("GET", "/api/v1/tenants/acme/idp", nil).json(t); m["type"] != "dev" || m["client_secret_set"] != false {
			t.Fatalf("default idp: %v", m)
		}
		fieldErr(t, put(map[string]any{"type": "github", "client_id": "Iv1.abc"}).problem(t, 400), "client_secret", "required for github")
		const secret = "gh-client-secret-value-123"
		r := put(map[string]any{"type": "github", "client_id": "Iv1.abc", "client_secret": secret, "allowed_orgs": []string{"acme-inc"}, "allowed_domains": []string{"Acme.example"}})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		m := r.json(t)
		if m["client_secret_set"] != true || m["type"] != "github" || strings.Contains(string(r.body), secret) {
			t.Fatalf("put answer: %s", r.body)
		}
		if d := m["allowed_domains"].([]any); d[0] != "acme.example" {
			t.Fatalf("domains not normalised: %v", d)
		}
		g := e.admin("GET", "/api/v1/tenants/acme/idp", nil)
		if strings.Contains(string(g.body), secret) || g.json(t)["client_secret_set"] != true {
			t.Fatalf("get: %s", g.body)
		}
		// Omitted secret keeps the stored one.
		put(map[string]any{"type": "github", "client_id": "Iv1.def"})
		cfg, err := e.store.GetIdP(context.Background(), tn.ID, "github")
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := e.sealer.Open(cfg.ClientSecretSealed, tenants.IdPSecretContext(tn.ID, "github")); err != nil || plain != secret || cfg.ClientID != "Iv1.def" {
			t.Fatalf("kept secret: %q %v %+v", plain, err, cfg)
		}
		// PUT replaces: the dev IdP is gone.
		if all, _ := e.store.ListIdPs(context.Background(), tn.ID); len(all) != 1 {
			t.Fatalf("idps: %+v", all)
		}
		for _, tc := range []struct {
			body        any
			field, frag string
		}{
			{map[string]any{"type": "oidc", "client_id": "c", "issuer_url": "not-a-url"}, "issuer_url", "absolute http(s)"},
			{map[string]any{"type": "saml"}, "type", "one of"},
			{map[string]any{}, "type", "required"},
			{map[string]any{"type": "google", "allowed_orgs": []string{"x"}}, "allowed_orgs", "only used by the github"},
			{map[string]any{"type": "dev", "client_secret": 5}, "client_secret", "must be a string"},
			{map[string]any{"type": "dev", "secret": "x"}, "secret", "not a known field"},
			{map[string]any{"type": "dev", "scopes": []string{"bad scope"}}, "scopes", "not a valid scope"},
		} {
			fieldErr(t, put(tc.body).problem(t, 400), tc.field, tc.frag)
		}
		if evs := e.audit(tn.ID, "admin.idp.updated"); len(evs) < 2 || evs[0].Actor != "admin" {
			t.Fatalf("audit: %+v", evs)
		}
	})
}

// The dev IdP is refused where it is disabled (production without
// GATEHOUSE_ALLOW_DEV_IDP).
func TestDevIdPDisabled(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), &envOpts{noDevIdP: true})
	r := e.admin("POST", "/api/v1/tenants", map[string]any{"slug": "acme", "upstream_mcp_url": "https://u.example/mcp"})
	fieldErr(t, r.problem(t, 400), "idp", "required")
	r = e.admin("POST", "/api/v1/tenants", map[string]any{"slug": "acme", "upstream_mcp_url": "https://u.example/mcp", "idp": map[string]any{"type": "dev"}})
	fieldErr(t, r.problem(t, 400), "idp.type", "disabled")
}

// Pre-registered clients (issue 3): secret shown once, hashed at rest;
// redirect URIs follow docs/RULES.md §5; URL-shaped (CIMD) ids can be deleted.
func TestClients(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		tn := e.tenant("acme")
		ctx := context.Background()
		r := e.admin("POST", "/api/v1/tenants/acme/clients", map[string]any{
			"client_name": "Claude", "redirect_uris": []string{"https://claude.ai/api/mcp/auth_callback"}, "skip_consent": true})
		if r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		m := r.json(t)
		secret, _ := m["client_secret"].(string)
		id := m["client_id"].(string)
		if !strings.HasPrefix(secret, "ghs_") || len(secret) < 40 || m["token_endpoint_auth_method"] != "client_secret_basic" || m["kind"] != "preregistered" {
			t.Fatalf("created: %s", r.body)
		}
		if r.header.Get("Location") != "/api/v1/tenants/acme/clients/"+id {
			t.Fatalf("Location %q", r.header.Get("Location"))
		}
		stored, err := e.store.GetClient(ctx, tn.ID, id)
		if err != nil || stored.SecretHash != tenants.HashSecret(secret) || !stored.SkipConsent {
			t.Fatalf("stored: %+v %v", stored, err)
		}
		// Public client: no secret.
		r = e.admin("POST", "/api/v1/tenants/acme/clients", map[string]any{"client_id": "inspector", "token_endpoint_auth_method": "none",
			"redirect_uris": []string{"http://127.0.0.1:6274/oauth/callback", "cursor://anysphere.cursor-mcp/oauth/callback"}})
		if r.status != 201 || strings.Contains(string(r.body), "client_secret\"") {
			t.Fatalf("public: %d %s", r.status, r.body)
		}
		// The list never shows secrets.
		l := e.admin("GET", "/api/v1/tenants/acme/clients", nil)
		if strings.Contains(string(l.body), secret) || strings.Contains(string(l.body), stored.SecretHash) || len(l.json(t)["items"].([]any)) != 2 {
			t.Fatalf("list: %s", l.body)
		}
		for _, tc := range []struct {
			body        map[string]any
			status      int
			field, frag string
		}{
			{map[string]any{"redirect_uris": []string{"http://evil.example/cb"}}, 400, "redirect_uris", "loopback"},
			{map[string]any{"redirect_uris": []string{"javascript:alert(1)"}}, 400, "redirect_uris", "not allowed"},
			{map[string]any{"redirect_uris": []string{"https://a.example/cb#frag"}}, 400, "redirect_uris", "fragment"},
			{map[string]any{}, 400, "redirect_uris", "at least one"},
			{map[string]any{"redirect_uris": "https://a.example/cb"}, 400, "redirect_uris", "must be an array"},
			{map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "token_endpoint_auth_method": "client_secret_jwt"}, 400, "token_endpoint_auth_method", "one of"},
			{map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "none"}, 400, "grant_types", "confidential"},
			{map[string]any{"grant_types": []string{"password"}}, 400, "grant_types", "not supported"},
			{map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "scope": "admin"}, 400, "scope", "not offered"},
			{map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "client_id": "https://x.example/meta"}, 400, "client_id", "3-128"},
			{map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "skip_consent": "yes"}, 400, "skip_consent", "must be a boolean"},
			{map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "client_secret": "mine"}, 400, "client_secret", "not a known field"},
			{map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "client_id": "inspector"}, 409, "client_id", "already registered"},
		} {
			fieldErr(t, e.admin("POST", "/api/v1/tenants/acme/clients", tc.body).problem(t, tc.status), tc.field, tc.frag)
		}
		// A machine client with client_credentials only needs no redirect URI.
		if r := e.admin("POST", "/api/v1/tenants/acme/clients", map[string]any{"grant_types": []string{"client_credentials"}}); r.status != 201 {
			t.Fatalf("client_credentials: %d %s", r.status, r.body)
		}
		if evs := e.audit(tn.ID, tenants.ActClientRegistered); len(evs) != 3 || evs[0].Actor != "admin" {
			t.Fatalf("audit registered: %d", len(evs))
		}

		// Delete revokes the client's grants, tells every replica, audits.
		cimd := "https://claude.ai/oauth/mcp-oauth-client-metadata"
		for _, cid := range []string{cimd, cimd + "2"} {
			if err := e.store.CreateClient(ctx, &tenants.Client{TenantID: tn.ID, ID: cid, Kind: tenants.ClientCIMD, CreatedAt: time.Now().UTC()}); err != nil {
				t.Fatal(err)
			}
		}
		g := &tenants.Grant{TenantID: tn.ID, ID: tenants.RandomID(), Subject: "u1", ClientID: cimd, CreatedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(time.Hour).UTC()}
		if err := e.store.CreateGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		// Raw slashes, then percent-encoded.
		if r := e.admin("DELETE", "/api/v1/tenants/acme/clients/"+cimd, nil); r.status != 204 {
			t.Fatalf("delete raw CIMD id: %d %s", r.status, r.body)
		}
		if r := e.admin("DELETE", "/api/v1/tenants/acme/clients/"+url.PathEscape(cimd+"2"), nil); r.status != 204 {
			t.Fatalf("delete escaped CIMD id: %d %s", r.status, r.body)
		}
		if _, err := e.store.GetClient(ctx, tn.ID, cimd); err == nil {
			t.Fatal("client survived")
		}
		if got, _ := e.store.GetGrant(ctx, tn.ID, g.ID); got.RevokedAt == nil {
			t.Fatal("grant of the deleted client not revoked")
		}
		if !e.bus.has(tenants.TopicGrantRevoked, tn.ID+" "+g.ID) {
			t.Fatal("grant revocation not published")
		}
		if evs := e.audit(tn.ID, tenants.ActClientDeleted); len(evs) != 2 || evs[1].ClientID != cimd || evs[0].Actor != "admin" {
			t.Fatalf("audit deleted: %+v", evs)
		}
		if r := e.admin("DELETE", "/api/v1/tenants/acme/clients/"+id, nil); r.status != 204 {
			t.Fatal(r.status)
		}
		e.admin("DELETE", "/api/v1/tenants/acme/clients/"+id, nil).problem(t, 404)
		e.admin("DELETE", "/api/v1/tenants/acme/clients/", nil).problem(t, 404)
	})
}

// Grants: list and revoke; revocation reaches every replica (docs/RULES.md §6).
func TestGrants(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		e.mkTenant("bravo", nil)
		tn := e.tenant("acme")
		ctx := context.Background()
		var ids []string
		for i := 0; i < 3; i++ {
			g := &tenants.Grant{TenantID: tn.ID, ID: tenants.RandomID(), Subject: "user", ClientID: "c1", Scopes: tenants.Strings{"mcp"},
				Resource: publicURL + "/t/acme/mcp", CreatedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(time.Hour).UTC()}
			if err := e.store.CreateGrant(ctx, g); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, g.ID)
		}
		r := e.admin("GET", "/api/v1/tenants/acme/grants?limit=2", nil)
		m := r.json(t)
		if len(m["items"].([]any)) != 2 || m["next_cursor"] == nil {
			t.Fatalf("page 1: %s", r.body)
		}
		r = e.admin("GET", "/api/v1/tenants/acme/grants?limit=2&cursor="+m["next_cursor"].(string), nil)
		if m := r.json(t); len(m["items"].([]any)) != 1 || m["next_cursor"] != nil {
			t.Fatalf("page 2: %s", r.body)
		}
		// Another tenant's key cannot revoke it.
		bkey, _ := e.mkKey("bravo")
		e.do(req{method: "DELETE", path: "/api/v1/tenants/acme/grants/" + ids[0], token: bkey}).problem(t, 404)
		e.do(req{method: "DELETE", path: "/api/v1/tenants/bravo/grants/" + ids[0], token: bkey}).problem(t, 404)
		if g, _ := e.store.GetGrant(ctx, tn.ID, ids[0]); g.RevokedAt != nil {
			t.Fatal("revoked by another tenant")
		}
		if r := e.admin("DELETE", "/api/v1/tenants/acme/grants/"+ids[0], nil); r.status != 204 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if g, _ := e.store.GetGrant(ctx, tn.ID, ids[0]); g.RevokedAt == nil {
			t.Fatal("not revoked")
		}
		if !e.bus.has(tenants.TopicGrantRevoked, tn.ID+" "+ids[0]) {
			t.Fatal("not published")
		}
		// Revoking again still answers 204 and audits once.
		if r := e.admin("DELETE", "/api/v1/tenants/acme/grants/"+ids[0], nil); r.status != 204 {
			t.Fatal(r.status)
		}
		evs := e.audit(tn.ID, tenants.ActGrantRevoked)
		if len(evs) != 1 || evs[0].Actor != "admin" || evs[0].Subject != "user" {
			t.Fatalf("audit: %+v", evs)
		}
		e.admin("DELETE", "/api/v1/tenants/acme/grants/nosuch", nil).problem(t, 404)
	})
}

// Audit log: filters (action, client_id, subject, after, before) and
// cursor paging, newest first (issue 5).
func TestAudit(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		tn := e.tenant("acme")
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var evs []tenants.AuditEvent
		for i := 0; i < 6; i++ {
			at := base.Add(time.Duration(i) * time.Minute)
			ev := tenants.AuditEvent{ID: tenants.OrderedID(at), TenantID: tn.ID, Time: at, Action: tenants.ActTokenIssued, ClientID: "c1", Subject: "alice", Outcome: "success"}
			if i%2 == 1 {
				ev.Action, ev.ClientID, ev.Subject = tenants.ActMCPDenied, "c2", "bob"
				ev.Reason = tenants.ReasonNoHeader
			}
			evs = append(evs, ev)
		}
		if err := e.store.InsertAuditEvents(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		count := func(q string) int {
			r := e.admin("GET", "/api/v1/tenants/acme/audit?"+q, nil)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", q, r.status, r.body)
			}
			return len(r.json(t)["items"].([]any))
		}
		ts := func(i int) string {
			return url.QueryEscape(base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339))
		}
		for q, want := range map[string]int{
			"action=mcp.denied":                   3,
			"client_id=c1":                        3,
			"subject=bob&action=mcp.denied":       3,
			"subject=alice&client_id=c2":          0,
			"after=" + ts(4):                      3, // 12:04, 12:05 and the tenant's creation (now)
			"before=" + ts(2):                     2,
			"after=" + ts(1) + "&before=" + ts(3): 2,
			"action=token.issued&after=" + ts(3):  1,
		} {
			if got := count(q); got != want {
				t.Errorf("%s: %d events, want %d", q, got, want)
			}
		}
		// Paging newest first under a filter.
		var seen []string
		cursor := ""
		for {
			q := "action=token.issued&limit=2"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			m := e.admin("GET", "/api/v1/tenants/acme/audit?"+q, nil).json(t)
			for _, it := range m["items"].([]any) {
				seen = append(seen, it.(map[string]any)["id"].(string))
			}
			c, ok := m["next_cursor"].(string)
			if !ok {
				break
			}
			cursor = c
		}
		if len(seen) != 3 || seen[0] != evs[4].ID || seen[2] != evs[0].ID {
			t.Fatalf("paging: %v", seen)
		}
		// A cursor is bound to its filter.
		m := e.admin("GET", "/api/v1/tenants/acme/audit?action=token.issued&limit=1", nil).json(t)
		r := e.admin("GET", "/api/v1/tenants/acme/audit?action=mcp.denied&limit=1&cursor="+m["next_cursor"].(string), nil)
		fieldErr(t, r.problem(t, 400), "cursor", "")
		for _, tc := range []struct{ q, field string }{
			{"after=yesterday", "after"},
			{"before=2026-03-01", "before"},
			{"after=" + ts(3) + "&before=" + ts(1), "after"},
			{"limit=500", "limit"},
			{"actor=admin", "actor"},
		} {
			fieldErr(t, e.admin("GET", "/api/v1/tenants/acme/audit?"+tc.q, nil).problem(t, 400), tc.field, "")
		}
	})
}

func TestWebhookDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		tn := e.tenant("acme")
		for i := 0; i < 3; i++ {
			d := &tenants.WebhookDelivery{ID: tenants.OrderedID(time.Now()), TenantID: tn.ID, EventIDs: tenants.Strings{"e1"}, Status: "dead",
				Attempts: 8, LastError: "connection refused", LastStatus: 0, CreatedAt: time.Now().UTC()}
			if err := e.store.CreateWebhookDelivery(context.Background(), d); err != nil {
				t.Fatal(err)
			}
		}
		m := e.admin("GET", "/api/v1/tenants/acme/webhook-deliveries?limit=2", nil).json(t)
		if len(m["items"].([]any)) != 2 || m["next_cursor"] == nil {
			t.Fatalf("%v", m)
		}
		it := m["items"].([]any)[0].(map[string]any)
		if it["status"] != "dead" || it["attempts"] != float64(8) || it["last_error"] != "connection refused" {
			t.Fatalf("%v", it)
		}
	})
}

// POST …/keys/rotate switches to the next key now; the old key stays in the
// JWKS for tokens it signed (issue 3).
func TestRotateKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		tn := e.tenant("acme")
		ctx := context.Background()
		tok, err := e.deps.Keys.Sign(ctx, tn.ID, "at+jwt", map[string]any{"sub": "x"})
		if err != nil {
			t.Fatal(err)
		}
		before, _ := e.deps.Keys.JWKS(ctx, tn.ID)
		r := e.admin("POST", "/api/v1/tenants/acme/keys/rotate", nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var rot struct {
			Active  string `json:"active_kid"`
			Retired string `json:"retired_kid"`
			Next    string `json:"next_kid"`
			JWKS    struct {
				Keys []struct {
					KID string `json:"kid"`
					D   string `json:"d"`
				} `json:"keys"`
			} `json:"jwks"`
		}
		if err := json.Unmarshal(r.body, &rot); err != nil {
			t.Fatal(err)
		}
		if rot.Active == "" || rot.Retired == "" || rot.Next == "" || rot.Active == rot.Retired {
			t.Fatalf("rotation: %s", r.body)
		}
		kids := map[string]bool{}
		for _, k := range rot.JWKS.Keys {
			kids[k.KID] = true
			if k.D != "" {
				t.Fatal("private key material in the JWKS")
			}
		}
		if !kids[rot.Active] || !kids[rot.Retired] || !kids[rot.Next] {
			t.Fatalf("JWKS lacks a key: %v", kids)
		}
		for _, k := range before.Keys {
			if !kids[k.KeyID] {
				t.Fatalf("key %s dropped from JWKS at rotation", k.KeyID)
			}
		}
		// Tokens signed before still verify; new ones use the new key.
		if _, err := e.deps.Keys.Verify(ctx, tn.ID, tok); err != nil {
			t.Fatalf("old token after rotation: %v", err)
		}
		if !e.bus.has(tenants.TopicKeysRotated, tn.ID) {
			t.Fatal("not published")
		}
		evs := e.audit(tn.ID, tenants.ActKeyRotated)
		if len(evs) != 1 || evs[0].Actor != "admin" || evs[0].Details[tenants.DetailKID] != rot.Active ||
			evs[0].Details[tenants.DetailRetiredKID] != rot.Retired || evs[0].Details[tenants.DetailManual] != true {
			t.Fatalf("audit: %+v", evs)
		}
		// The retired key stays published for the policy's period (the
		// tenant's access-token lifetime plus skew) whoever rotates.
		rows, err := e.deps.Store.ListSigningKeys(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range rows {
			if k.KID != rot.Retired {
				continue
			}
			if k.DeleteAfter == nil || k.RetiredAt == nil || k.DeleteAfter.Sub(*k.RetiredAt) != keys.RetainFor(tn) {
				t.Fatalf("retired key kept %v, want %v", k.DeleteAfter.Sub(*k.RetiredAt), keys.RetainFor(tn))
			}
		}
		if r := e.admin("POST", "/api/v1/tenants/acme/keys/rotate", map[string]any{}); r.status != 200 {
			t.Fatalf("empty object body: %d", r.status)
		}
		fieldErr(t, e.admin("POST", "/api/v1/tenants/acme/keys/rotate", map[string]any{"force": true}).problem(t, 400), "force", "not a known field")
		e.do(req{method: "POST", path: "/api/v1/tenants/acme/keys/rotate", token: adminToken, body: "x", ct: "text/plain"}).problem(t, 415)
	})
}

// API keys: the key is shown once as `key`; lists never show it.
func TestAPIKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		tn := e.tenant("acme")
		r := e.admin("POST", "/api/v1/tenants/acme/api-keys", map[string]any{"name": "deploy"})
		m := r.json(t)
		key := m["key"].(string)
		if r.status != 201 || !strings.HasPrefix(key, "ghk_") || m["prefix"] != key[:10] || m["name"] != "deploy" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		// Without a body too.
		if r := e.admin("POST", "/api/v1/tenants/acme/api-keys", nil); r.status != 201 {
			t.Fatalf("no body: %d %s", r.status, r.body)
		}
		l := e.admin("GET", "/api/v1/tenants/acme/api-keys", nil)
		if strings.Contains(string(l.body), key) || strings.Contains(string(l.body), tenants.HashSecret(key)) || len(l.json(t)["items"].([]any)) != 2 {
			t.Fatalf("list: %s", l.body)
		}
		fieldErr(t, e.admin("POST", "/api/v1/tenants/acme/api-keys", map[string]any{"name": strings.Repeat("n", 201)}).problem(t, 400), "name", "at most 200")
		fieldErr(t, e.admin("POST", "/api/v1/tenants/acme/api-keys", map[string]any{"name": 1}).problem(t, 400), "name", "must be a string")
		fieldErr(t, e.admin("POST", "/api/v1/tenants/acme/api-keys", map[string]any{"tenant": "bravo"}).problem(t, 400), "tenant", "not a known field")
		e.admin("DELETE", "/api/v1/tenants/acme/api-keys/nosuch", nil).problem(t, 404)
		if evs := e.audit(tn.ID, "admin.api_key.created"); len(evs) != 2 {
			t.Fatalf("audit: %d", len(evs))
		}
		if r := e.do(req{method: "GET", path: "/api/v1/tenants/acme", token: key}); r.status != 200 {
			t.Fatal(r.status)
		}
		if r := e.admin("DELETE", "/api/v1/tenants/acme/api-keys/"+m["id"].(string), nil); r.status != 204 {
			t.Fatal(r.status)
		}
		e.do(req{method: "GET", path: "/api/v1/tenants/acme", token: key}).problem(t, 401)
		if evs := e.audit(tn.ID, "admin.api_key.deleted"); len(evs) != 1 {
			t.Fatalf("audit: %d", len(evs))
		}
	})
}

// docs/RULES.md §9: request headers over 64 KiB are 431. The http.Server's
// MaxHeaderBytes does it (as cmd/gatehouse/serve.go configures); this runs
// the API behind a real server with that setting.
func TestHeadersOver64KiB(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), nil)
	srv := newHTTPServer(t, e.handler)
	send := func(n int) int {
		hr, _ := http.NewRequest("GET", srv+"/api/v1/tenants", nil)
		hr.Header.Set("Authorization", "Bearer "+adminToken)
		hr.Header.Set("X-Padding", strings.Repeat("a", n))
		res, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := send(60 << 10); got != http.StatusOK {
		t.Fatalf("60 KiB of headers: %d", got)
	}
	if got := send(80 << 10); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("80 KiB of headers: %d, want 431", got)
	}
}

// Unknown routes under /api/v1 and wrong methods never reach a handler.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), nil)
	e.mkTenant("acme", nil)
	if r := e.admin("PUT", "/api/v1/tenants/acme", map[string]any{}); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT tenant: %d", r.status)
	}
	if r := e.admin("GET", "/api/v1/tenants/acme/", nil); r.status != http.StatusNotFound {
		t.Fatalf("trailing slash must not redirect: %d", r.status)
	}
}

// In the embedded default, cmd/gatehouse/serve.go puts an http.ServeMux in
// front of the router, which cleans "//" out of raw paths with a redirect;
// a percent-encoded URL client id passes through it intact.
func TestCIMDClientIDThroughServeMux(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), nil)
	e.mkTenant("acme", nil)
	tn := e.tenant("acme")
	cimd := "https://claude.ai/oauth/mcp-oauth-client-metadata"
	if err := e.store.CreateClient(context.Background(), &tenants.Client{TenantID: tn.ID, ID: cimd, Kind: tenants.ClientCIMD, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", e.handler)
	base := newHTTPServer(t, mux)
	hr, _ := http.NewRequest("DELETE", base+"/api/v1/tenants/acme/clients/"+url.PathEscape(cimd), nil)
	hr.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", res.StatusCode)
	}
	if _, err := e.store.GetClient(context.Background(), tn.ID, cimd); err == nil {
		t.Fatal("client survived")
	}
}

// API keys are for automation (DESIGN §12): a read-only key reads and is
// refused any change; an expired key stops working; both are listed with
// their scope and expiry.
func TestAPIKeyReadOnlyAndExpiry(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), nil)
	e.mkTenant("acme", nil)
	r := e.admin("POST", "/api/v1/tenants/acme/api-keys", map[string]any{"name": "reader", "read_only": true})
	if r.status != 201 || r.json(t)["read_only"] != true {
		t.Fatalf("%d %s", r.status, r.body)
	}
	ro := r.json(t)["key"].(string)
	if r := e.do(req{method: "GET", path: "/api/v1/tenants/acme/grants", token: ro}); r.status != 200 {
		t.Fatalf("read-only GET: %d %s", r.status, r.body)
	}
	p := e.do(req{method: "PATCH", path: "/api/v1/tenants/acme", token: ro, body: map[string]any{"name": "Hacked"}, ct: "application/merge-patch+json"}).problem(t, 403)
	if !strings.Contains(p.Detail, "read-only") {
		t.Fatalf("detail %q", p.Detail)
	}
	e.do(req{method: "POST", path: "/api/v1/tenants/acme/api-keys", token: ro, body: map[string]any{"name": "escalate"}}).problem(t, 403)
	if got := e.tenant("acme"); got.Name == "Hacked" {
		t.Fatal("a read-only key changed the tenant")
	}
	fieldErr(t, e.admin("POST", "/api/v1/tenants/acme/api-keys", map[string]any{"expires_at": time.Now().Add(-time.Hour).Format(time.RFC3339)}).problem(t, 400), "expires_at", "in the future")
	soon := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	r = e.admin("POST", "/api/v1/tenants/acme/api-keys", map[string]any{"name": "short", "expires_at": soon.Format(time.RFC3339)})
	if r.status != 201 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	key, id := r.json(t)["key"].(string), r.json(t)["id"].(string)
	if r := e.do(req{method: "GET", path: "/api/v1/tenants/acme", token: key}); r.status != 200 {
		t.Fatalf("live key: %d", r.status)
	}
	past := time.Now().Add(-time.Minute)
	if err := e.store.DB().Model(&tenants.APIKey{}).Where("id = ?", id).Update("expires_at", past).Error; err != nil {
		t.Fatal(err)
	}
	p = e.do(req{method: "GET", path: "/api/v1/tenants/acme", token: key}).problem(t, 401)
	if !strings.Contains(p.Detail, "expired") {
		t.Fatalf("detail %q", p.Detail)
	}
}

// A suspended team's API keys are refused with a problem naming the
// suspension; the operator's admin token still reads it; resuming restores
// the key.
func TestSuspendedTeamAPIKeysRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		key, _ := e.mkKey("acme")
		ten := e.tenant("acme")
		now := time.Now().UTC()
		ten.SuspendedAt = &now
		if err := e.store.UpdateTenant(context.Background(), ten); err != nil {
			t.Fatal(err)
		}
		for _, r := range []req{
			{method: "GET", path: "/api/v1/tenants/acme/grants", token: key},
			{method: "POST", path: "/api/v1/tenants/acme/api-keys", token: key, body: map[string]any{"name": "another"}},
		} {
			p := e.do(r).problem(t, 403)
			if p.Type != "urn:gatehouse:problem:team-suspended" || !strings.Contains(p.Detail, "suspended by the platform operator") {
				t.Fatalf("%s %s: %+v", r.method, r.path, p)
			}
		}
		if r := e.admin("GET", "/api/v1/tenants/acme/grants", nil); r.status != 200 {
			t.Fatalf("admin token on a suspended team: %d %s", r.status, r.body)
		}
		ten.SuspendedAt = nil
		if err := e.store.UpdateTenant(context.Background(), ten); err != nil {
			t.Fatal(err)
		}
		if r := e.do(req{method: "GET", path: "/api/v1/tenants/acme/grants", token: key}); r.status != 200 {
			t.Fatalf("key after resume: %d %s", r.status, r.body)
		}
	})
}
