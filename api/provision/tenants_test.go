package provision_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants"
)

// docs/RULES.md §9: bad input to POST /tenants gets the exact status and a problem
// naming the field (RFC 9457 §3 plus an errors extension member).
func TestCreateTenantBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("taken", map[string]any{"custom_domain": "mcp.taken.example"})
		up := `"upstream_mcp_url":"https://u.example/mcp"`
		cases := []struct {
			name   string
			body   any
			ct     string
			status int
			typ    string
			field  string
			frag   string
		}{
			{"slug wrong type", `{"slug":5,` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "must be a string, not number"},
			{"name wrong type", `{"slug":"okay","name":["x"],` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "name", "must be a string, not array"},
			{"settings wrong type", `{"slug":"okay",` + up + `,"settings":{"access_token_ttl":"1h"}}`, "", 400, "urn:gatehouse:problem:validation", "settings.access_token_ttl", "must be an integer, not string"},
			{"idp wrong type", `{"slug":"okay",` + up + `,"idp":{"type":"dev","scopes":"openid"}}`, "", 400, "urn:gatehouse:problem:validation", "idp.scopes", "must be an array"},
			{"unknown field", `{"slug":"okay",` + up + `,"colour":"red"}`, "", 400, "urn:gatehouse:problem:validation", "colour", "not a known field"},
			{"unknown settings field", `{"slug":"okay",` + up + `,"settings":{"ttl":1}}`, "", 400, "urn:gatehouse:problem:validation", "settings.ttl", "not a known field"},
			{"unknown idp field", `{"slug":"okay",` + up + `,"idp":{"type":"dev","secret":"x"}}`, "", 400, "urn:gatehouse:problem:validation", "idp.secret", "not a known field"},
			{"settings not object", `{"slug":"okay",` + up + `,"settings":"fast"}`, "", 400, "urn:gatehouse:problem:validation", "settings", "must be an object, not string"},
			{"read-only field", `{"slug":"okay",` + up + `,"custom_domain_verified":true}`, "", 400, "urn:gatehouse:problem:validation", "custom_domain_verified", "not a known field"},
			{"trailing data", `{"slug":"okay",` + up + `} {}`, "", 400, "urn:gatehouse:problem:malformed-json", "", ""},
			{"malformed", `{"slug":"okay",`, "", 400, "urn:gatehouse:problem:malformed-json", "", ""},
			{"empty body", "", "", 400, "urn:gatehouse:problem:malformed-json", "", ""},
			{"not an object", `[1,2]`, "", 400, "urn:gatehouse:problem:validation", "(body)", "must be an object"},
			{"wrong content type", `{"slug":"okay",` + up + `}`, "text/plain", 415, "urn:gatehouse:problem:unsupported-media-type", "", ""},
			{"form content type", `slug=okay`, "application/x-www-form-urlencoded", 415, "urn:gatehouse:problem:unsupported-media-type", "", ""},
			{"no content type", `{"slug":"okay",` + up + `}`, "-", 415, "urn:gatehouse:problem:unsupported-media-type", "", ""},
			{"slug missing", `{` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "3-40 characters"},
			{"slug too short", `{"slug":"ab",` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "3-40 characters"},
			{"slug too long", `{"slug":"` + strings.Repeat("a", 41) + `",` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "3-40 characters"},
			{"slug upper case", `{"slug":"Acme",` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "3-40 characters"},
			{"slug leading dash", `{"slug":"-acme",` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "3-40 characters"},
			{"slug trailing dash", `{"slug":"acme-",` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "3-40 characters"},
			{"slug double dash", `{"slug":"ac--me",` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "'--'"},
			{"slug underscore", `{"slug":"ac_me",` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "3-40 characters"},
			{"slug reserved api", `{"slug":"api",` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "reserved"},
			{"slug reserved well-known", `{"slug":"well-known",` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "reserved"},
			{"slug reserved oauth", `{"slug":"oauth",` + up + `}`, "", 400, "urn:gatehouse:problem:validation", "slug", "reserved"},
			{"upstream missing", `{"slug":"okay"}`, "", 400, "urn:gatehouse:problem:validation", "upstream_mcp_url", "required"},
			{"upstream not http", `{"slug":"okay","upstream_mcp_url":"ftp://u.example/mcp"}`, "", 400, "urn:gatehouse:problem:validation", "upstream_mcp_url", "absolute http(s)"},
			{"upstream relative", `{"slug":"okay","upstream_mcp_url":"/mcp"}`, "", 400, "urn:gatehouse:problem:validation", "upstream_mcp_url", "absolute http(s)"},
			{"upstream credentials", `{"slug":"okay","upstream_mcp_url":"https://u:p@u.example/mcp"}`, "", 400, "urn:gatehouse:problem:validation", "upstream_mcp_url", "credentials"},
			{"domain upper case", `{"slug":"okay",` + up + `,"custom_domain":"MCP.Example.com"}`, "", 400, "urn:gatehouse:problem:validation", "custom_domain", "lower-case"},
			{"domain single label", `{"slug":"okay",` + up + `,"custom_domain":"localhost"}`, "", 400, "urn:gatehouse:problem:validation", "custom_domain", "two labels"},
			{"domain ip", `{"slug":"okay",` + up + `,"custom_domain":"10.0.0.1"}`, "", 400, "urn:gatehouse:problem:validation", "custom_domain", "IP address"},
			{"ttl out of range", `{"slug":"okay2",` + up + `,"settings":{"access_token_ttl":5}}`, "", 400, "urn:gatehouse:problem:validation", "settings.access_token_ttl", "between 60 and 86400"},
			{"bad dcr policy", `{"slug":"okay2",` + up + `,"settings":{"dcr_policy":"maybe"}}`, "", 400, "urn:gatehouse:problem:validation", "settings.dcr_policy", "open, allowlist, closed"},
			{"bad idp type", `{"slug":"okay2",` + up + `,"idp":{"type":"saml"}}`, "", 400, "urn:gatehouse:problem:validation", "idp.type", "github, google, oidc, dev"},
			{"oidc without issuer", `{"slug":"okay2",` + up + `,"idp":{"type":"oidc","client_id":"c"}}`, "", 400, "urn:gatehouse:problem:validation", "idp.issuer_url", "required"},
			{"bad header name", `{"slug":"okay2",` + up + `,"settings":{"upstream_headers":{"X-Gatehouse-Subject":"x"}}}`, "", 400, "urn:gatehouse:problem:validation", "settings.upstream_headers", "not a valid header name"},
			{"duplicate slug", `{"slug":"taken",` + up + `}`, "", 409, "urn:gatehouse:problem:conflict", "slug", "taken"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(req{method: "POST", path: "/api/v1/tenants", token: adminToken, body: tc.body, ct: tc.ct})
				p := r.problem(t, tc.status)
				if p.Type != tc.typ {
					t.Fatalf("type %q, want %q (%s)", p.Type, tc.typ, r.body)
				}
				if p.Instance != "/api/v1/tenants" {
					t.Fatalf("instance %q", p.Instance)
				}
				if tc.field != "" {
					fieldErr(t, p, tc.field, tc.frag)
				}
			})
		}
		// Nothing of the failed attempts was stored.
		for _, slug := range []string{"okay", "okay2", "other"} {
			if _, err := e.store.GetTenantBySlug(context.Background(), slug); err == nil {
				t.Fatalf("tenant %s was created by a failed request", slug)
			}
		}
	})
}

// docs/RULES.md §9: bodies over 1 MiB are 413, whether the length is declared or
// the body is streamed.
func TestBodyOver1MiB(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		big := `{"slug":"big","upstream_mcp_url":"https://u.example/mcp","name":"` + strings.Repeat("x", 1<<20) + `"}`
		for _, path := range []struct{ method, path string }{
			{"POST", "/api/v1/tenants"},
			{"PATCH", "/api/v1/tenants/acme"},
			{"PUT", "/api/v1/tenants/acme/idp"},
			{"POST", "/api/v1/tenants/acme/clients"},
			{"POST", "/api/v1/tenants/acme/api-keys"},
		} {
			r := e.do(req{method: path.method, path: path.path, token: adminToken, body: big})
			p := r.problem(t, http.StatusRequestEntityTooLarge)
			if p.Type != "urn:gatehouse:problem:body-too-large" {
				t.Fatalf("%s %s: type %q", path.method, path.path, p.Type)
			}
		}
		// Streamed (no Content-Length): the limit still holds.
		hr, _ := http.NewRequest("POST", "/api/v1/tenants", strings.NewReader(big))
		hr.ContentLength = -1
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Authorization", "Bearer "+adminToken)
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, hr)
		if w.Code != http.StatusRequestEntityTooLarge || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("chunked: %d %s", w.Code, w.Header().Get("Content-Type"))
		}
		// Just under the limit is fine (and fails validation on the name instead).
		ok := `{"slug":"big","upstream_mcp_url":"https://u.example/mcp","name":"` + strings.Repeat("x", 1<<20-100) + `"}`
		r := e.do(req{method: "POST", path: "/api/v1/tenants", token: adminToken, body: ok})
		fieldErr(t, r.problem(t, 400), "name", "at most 200")
	})
}

// Paging through tenants by opaque cursor; next_cursor is absent on the
// last page; bad cursors and limits are 400 (docs/RULES.md §9).
func TestListTenantsPaging(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		var want []string
		for i := 0; i < 7; i++ {
			slug := fmt.Sprintf("team-%02d", i)
			e.mkTenant(slug, nil)
			want = append(want, slug)
		}
		var got []string
		cursor := ""
		pages := 0
		for {
			path := "/api/v1/tenants?limit=3"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			r := e.admin("GET", path, nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var l struct {
				Items []struct {
					Slug     string `json:"slug"`
					Resource string `json:"resource"`
				} `json:"items"`
				Next *string `json:"next_cursor"`
			}
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Fatal(err)
			}
			pages++
			for _, it := range l.Items {
				got = append(got, it.Slug)
				if it.Resource != publicURL+"/t/"+it.Slug+"/mcp" {
					t.Fatalf("resource %q", it.Resource)
				}
			}
			if l.Next == nil {
				if strings.Contains(string(r.body), "next_cursor") {
					t.Fatal("next_cursor must be absent on the last page")
				}
				break
			}
			cursor = *l.Next
		}
		if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("pages %d, got %v", pages, got)
		}
		// Default page holds all seven.
		if r := e.admin("GET", "/api/v1/tenants", nil); len(r.json(t)["items"].([]any)) != 7 {
			t.Fatalf("default page: %s", r.body)
		}
		first := e.admin("GET", "/api/v1/tenants?limit=3", nil).json(t)["next_cursor"].(string)
		for _, tc := range []struct{ q, field string }{
			{"cursor=not-a-cursor", "cursor"},
			{"cursor=" + first[:len(first)-2] + "xx", "cursor"}, // tampered MAC
			{"cursor=dGVhbS0wMg", "cursor"},                     // a raw store cursor (no MAC)
			{"cursor=", "cursor"},
			{"limit=0", "limit"},
			{"limit=201", "limit"},
			{"limit=-1", "limit"},
			{"limit=ten", "limit"},
			{"limit=1&limit=2", "limit"},
			{"since=2026-01-01", "since"},
		} {
			r := e.admin("GET", "/api/v1/tenants?"+tc.q, nil)
			fieldErr(t, r.problem(t, 400), tc.field, "")
		}
		// A cursor of one list does not page another.
		key, _ := e.mkKey("team-00")
		_ = key
		clientsCursor := first
		r := e.admin("GET", "/api/v1/tenants/team-00/clients?cursor="+clientsCursor, nil)
		fieldErr(t, r.problem(t, 400), "cursor", "")
	})
}

// docs/RULES.md §9 auth: admin token for everything, a tenant API key for its own
// tenant only; another tenant's slug answers exactly like a missing slug.
func TestAuth(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("alpha", nil)
		e.mkTenant("bravo", nil)
		alphaKey, alphaKeyID := e.mkKey("alpha")

		// Missing and invalid credentials: 401 with WWW-Authenticate (RFC 6750 §3).
		for _, tc := range []struct {
			name, authz, wantWWW string
		}{
			{"none", "", `Bearer realm="gatehouse-api"`},
			{"basic", "Basic YWRtaW46YWRtaW4=", `error="invalid_request"`},
			{"empty bearer", "Bearer ", `error="invalid_request"`},
			{"wrong token", "Bearer gha_wrong", `error="invalid_token"`},
			{"admin hash itself", "Bearer " + tenants.HashSecret(adminToken), `error="invalid_token"`},
			{"key prefix only", "Bearer " + alphaKey[:10], `error="invalid_token"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(req{method: "GET", path: "/api/v1/tenants/alpha", hdr: map[string]string{"Authorization": tc.authz}})
				p := r.problem(t, 401)
				if p.Type != "urn:gatehouse:problem:unauthorized" {
					t.Fatalf("type %q", p.Type)
				}
				if w := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(w, "Bearer") || !strings.Contains(w, tc.wantWWW) {
					t.Fatalf("WWW-Authenticate %q", w)
				}
			})
		}
		// Bearer scheme is case-insensitive (RFC 9110 §11.1).
		if r := e.do(req{method: "GET", path: "/api/v1/tenants/alpha", hdr: map[string]string{"Authorization": "bearer " + adminToken}}); r.status != 200 {
			t.Fatalf("lower-case scheme: %d", r.status)
		}

		k := func(method, path string, body any) resp {
			return e.do(req{method: method, path: path, token: alphaKey, body: body})
		}
		// Own tenant: allowed.
		for _, p := range []string{"", "/idp", "/clients", "/grants", "/audit", "/webhook-deliveries", "/api-keys"} {
			if r := k("GET", "/api/v1/tenants/alpha"+p, nil); r.status != 200 {
				t.Fatalf("own tenant GET %s: %d %s", p, r.status, r.body)
			}
		}
		if r := k("PATCH", "/api/v1/tenants/alpha", map[string]any{"name": "Alpha Co"}); r.status != 200 {
			t.Fatalf("own tenant PATCH: %d %s", r.status, r.body)
		}
		// Platform operations: 403.
		for _, tc := range []struct{ method, path string }{
			{"GET", "/api/v1/tenants"},
			{"POST", "/api/v1/tenants"},
			{"DELETE", "/api/v1/tenants/alpha"},
		} {
			r := k(tc.method, tc.path, map[string]any{"slug": "zulu", "upstream_mcp_url": "https://u.example/mcp"})
			if p := r.problem(t, 403); p.Type != "urn:gatehouse:problem:forbidden" {
				t.Fatalf("%s %s: %q", tc.method, tc.path, p.Type)
			}
		}
		// Another tenant's resources: the same 404 as a slug that does not exist.
		norm := func(r resp, slug string) string {
			p := r.problem(t, 404)
			p.RequestID = ""
			b, _ := json.Marshal(p)
			return strings.ReplaceAll(string(b), slug, "SLUG")
		}
		ops := []struct {
			method, suffix string
			body           any
		}{
			{"GET", "", nil}, {"PATCH", "", map[string]any{"name": "x"}}, {"DELETE", "", nil},
			{"GET", "/idp", nil}, {"PUT", "/idp", map[string]any{"type": "dev"}},
			{"GET", "/clients", nil}, {"POST", "/clients", map[string]any{"redirect_uris": []string{"https://a.example/cb"}}},
			{"DELETE", "/clients/abc", nil}, {"GET", "/grants", nil}, {"DELETE", "/grants/abc", nil},
			{"GET", "/audit", nil}, {"GET", "/webhook-deliveries", nil}, {"POST", "/keys/rotate", nil},
			{"GET", "/api-keys", nil}, {"POST", "/api-keys", nil}, {"DELETE", "/api-keys/abc", nil}, {"GET", "/doctor", nil},
		}
		for _, op := range ops {
			other := norm(k(op.method, "/api/v1/tenants/bravo"+op.suffix, op.body), "bravo")
			missing := norm(k(op.method, "/api/v1/tenants/nosuch"+op.suffix, op.body), "nosuch")
			if other != missing {
				t.Fatalf("%s %s: another tenant's answer differs from a missing one:\n%s\n%s", op.method, op.suffix, other, missing)
			}
		}
		// Bravo is untouched.
		if e.tenant("bravo").Name != "bravo" {
			t.Fatal("bravo was changed by alpha's key")
		}
		// The key's use is recorded and its actor appears in audit events.
		keys, _ := e.store.ListAPIKeys(context.Background(), e.tenant("alpha").ID)
		if len(keys) != 1 || keys[0].LastUsedAt == nil {
			t.Fatalf("last_used_at not recorded: %+v", keys)
		}
		evs := e.audit(e.tenant("alpha").ID, "admin.tenant.updated")
		if len(evs) != 1 || evs[0].Actor != "api_key:"+alphaKeyID {
			t.Fatalf("audit actor: %+v", evs)
		}
		// A deleted key stops working at once.
		if r := k("DELETE", "/api/v1/tenants/alpha/api-keys/"+alphaKeyID, nil); r.status != 204 {
			t.Fatalf("delete own key: %d %s", r.status, r.body)
		}
		k("GET", "/api/v1/tenants/alpha", nil).problem(t, 401)
	})
}

// PATCH is a JSON merge patch (RFC 7396): settings merge field by field;
// null removes; write-only secrets are sealed and never echoed.
func TestPatchTenant(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", map[string]any{"settings": map[string]any{"access_token_ttl": 900, "tool_scopes": map[string]string{"add": "math"}, "scopes": []string{"mcp", "math"}}})
		tn := e.tenant("acme")
		patch := func(body any, ct string) resp {
			return e.do(req{method: "PATCH", path: "/api/v1/tenants/acme", token: adminToken, body: body, ct: ct})
		}
		// RFC 7396 §2: object members merge, others replace, null deletes.
		r := patch(`{"settings":{"dcr_policy":"closed","tool_scopes":{"echo":"mcp"}},"name":"Acme Inc"}`, "application/merge-patch+json")
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		s := r.json(t)["settings"].(map[string]any)
		if s["access_token_ttl"] != float64(900) || s["dcr_policy"] != "closed" {
			t.Fatalf("settings not merged: %v", s)
		}
		if ts := s["tool_scopes"].(map[string]any); ts["add"] != "math" || ts["echo"] != "mcp" {
			t.Fatalf("nested object not merged: %v", ts)
		}
		r = patch(`{"settings":{"access_token_ttl":null,"tool_scopes":{"add":null}}}`, "")
		s = r.json(t)["settings"].(map[string]any)
		if _, ok := s["access_token_ttl"]; ok || s["dcr_policy"] != "closed" {
			t.Fatalf("null did not remove: %v", s)
		}
		if ts := s["tool_scopes"].(map[string]any); len(ts) != 1 || ts["echo"] != "mcp" {
			t.Fatalf("tool_scopes: %v", ts)
		}
		if got := e.tenant("acme"); got.Settings.AccessTTL().Seconds() != 3600 || got.Name != "Acme Inc" {
			t.Fatalf("stored: %+v", got)
		}

		// Write-only secrets: sealed, reported as booleans, merged per header.
		const hv, ws = "Bearer upstream-secret-value-1", "webhook-secret-value-2"
		r = patch(map[string]any{"settings": map[string]any{"upstream_headers": map[string]string{"Authorization": hv, "X-Team": "a"}, "audit_webhook_secret": ws}}, "")
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), hv) || strings.Contains(string(r.body), ws) || strings.Contains(string(r.body), "upstream_headers\":{") {
			t.Fatalf("secret echoed: %s", r.body)
		}
		sec := r.json(t)["secrets"].(map[string]any)
		if sec["upstream_headers"] != true || sec["audit_webhook_secret"] != true {
			t.Fatalf("secrets: %v", sec)
		}
		headers := func() map[string]string {
			plain, err := tenants.OpenTenantSecret(e.sealer, e.tenant("acme"), tenants.SecretUpstreamHeaders)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]string{}
			if plain != "" {
				_ = json.Unmarshal([]byte(plain), &m)
			}
			return m
		}
		if h := headers(); h["Authorization"] != hv || h["X-Team"] != "a" {
			t.Fatalf("sealed headers: %v", h)
		}
		raw := e.tenant("acme")
		if strings.Contains(fmt.Sprint(raw.SealedSecrets), hv) || strings.Contains(fmt.Sprint(raw.Settings), hv) {
			t.Fatal("secret stored in the clear")
		}
		patch(`{"settings":{"upstream_headers":{"X-Team":null,"X-Env":"prod"}}}`, "")
		if h := headers(); len(h) != 2 || h["Authorization"] != hv || h["X-Env"] != "prod" {
			t.Fatalf("header merge: %v", h)
		}
		if w, _ := tenants.OpenTenantSecret(e.sealer, e.tenant("acme"), tenants.SecretAuditWebhookSecret); w != ws {
			t.Fatalf("webhook secret changed by an unrelated patch: %q", w)
		}
		r = patch(`{"settings":{"upstream_headers":null,"audit_webhook_secret":null}}`, "")
		if sec := r.json(t)["secrets"].(map[string]any); sec["upstream_headers"] != false || sec["audit_webhook_secret"] != false {
			t.Fatalf("secrets not cleared: %v", sec)
		}
		// Every GET and list hides secrets too.
		patch(map[string]any{"settings": map[string]any{"upstream_headers": map[string]string{"Authorization": hv}}}, "")
		for _, p := range []string{"/api/v1/tenants/acme", "/api/v1/tenants"} {
			if b := e.admin("GET", p, nil).body; strings.Contains(string(b), hv) {
				t.Fatalf("%s leaks the secret", p)
			}
		}
		for _, ev := range e.audit(tn.ID, "") {
			b, _ := json.Marshal(ev)
			if strings.Contains(string(b), hv) || strings.Contains(string(b), ws) {
				t.Fatalf("audit event holds a secret: %s", b)
			}
		}

		// Bad patches.
		for _, tc := range []struct {
			name, body, ct string
			status         int
			field, frag    string
		}{
			{"slug immutable", `{"slug":"acme2"}`, "", 400, "slug", "cannot be changed"},
			{"unknown field", `{"issuer":"x"}`, "", 400, "issuer", "not a known field"},
			{"unknown settings field", `{"settings":{"nope":1}}`, "", 400, "settings.nope", "not a known field"},
			{"wrong settings type", `{"settings":{"access_token_ttl":"1h"}}`, "", 400, "settings.access_token_ttl", "must be an integer"},
			{"settings out of range", `{"settings":{"refresh_grace_seconds":9999}}`, "", 400, "settings.refresh_grace_seconds", "between 0 and 600"},
			{"settings not object", `{"settings":[1]}`, "", 400, "settings", "must be an object"},
			{"headers not strings", `{"settings":{"upstream_headers":{"A":1}}}`, "", 400, "settings.upstream_headers", "must be an object"},
			{"name wrong type", `{"name":7}`, "", 400, "name", "must be a string"},
			{"name empty", `{"name":""}`, "", 400, "name", "must not be empty"},
			{"upstream null", `{"upstream_mcp_url":null}`, "", 400, "upstream_mcp_url", "required"},
			{"upstream bad", `{"upstream_mcp_url":"javascript:alert(1)"}`, "", 400, "upstream_mcp_url", "absolute http(s)"},
			{"domain bad", `{"custom_domain":"mcp.exa_mple.com"}`, "", 400, "custom_domain", "lower-case DNS name"},
			{"patch is array", `[]`, "", 400, "(body)", "JSON object"},
			{"patch is null", `null`, "", 400, "(body)", "JSON object"},
			{"trailing", `{"name":"x"}x`, "", 400, "", ""},
			{"text/plain", `{"name":"x"}`, "text/plain", 415, "", ""},
			{"json-patch", `[{"op":"replace","path":"/name","value":"x"}]`, "application/json-patch+json", 415, "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := patch(tc.body, tc.ct).problem(t, tc.status)
				if tc.field != "" {
					fieldErr(t, p, tc.field, tc.frag)
				}
			})
		}
		if got := e.tenant("acme"); got.Name != "Acme Inc" || got.Slug != "acme" {
			t.Fatalf("a failed patch changed the tenant: %+v", got)
		}
		// Changes are announced to every replica and audited with the actor.
		if !e.bus.has(tenants.TopicTenantChanged, tn.ID) {
			t.Fatal("tenant.changed not published")
		}
		evs := e.audit(tn.ID, "admin.tenant.updated")
		if len(evs) == 0 || evs[0].Actor != "admin" {
			t.Fatalf("audit: %+v", evs)
		}
	})
}

// Custom domains: a tenant key cannot mark one verified; changing the
// domain drops verification; a verified domain gives host-mode URLs.
func TestCustomDomain(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		e.mkTenant("bravo", map[string]any{"custom_domain": "mcp.bravo.example"})
		key, _ := e.mkKey("acme")
		r := e.do(req{method: "PATCH", path: "/api/v1/tenants/acme", token: key, body: `{"custom_domain":"mcp.acme.example","custom_domain_verified":true}`})
		fieldErr(t, r.problem(t, 400), "custom_domain_verified", "admin token")
		r = e.do(req{method: "PATCH", path: "/api/v1/tenants/acme", token: key, body: `{"custom_domain":"mcp.acme.example"}`})
		if m := r.json(t); r.status != 200 || m["custom_domain"] != "mcp.acme.example" || m["custom_domain_verified"] != false || m["host_mode"] != nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r = e.admin("PATCH", "/api/v1/tenants/acme", map[string]any{"custom_domain_verified": true})
		m := r.json(t)
		if m["issuer"] != "http://mcp.acme.example" || m["resource"] != "http://mcp.acme.example/mcp" {
			t.Fatalf("host mode view: %s", r.body)
		}
		hm := m["host_mode"].(map[string]any)
		if hm["authorization_server_metadata"] != "http://mcp.acme.example/.well-known/oauth-authorization-server" {
			t.Fatalf("host mode metadata: %v", hm)
		}
		if pm := m["path_mode"].(map[string]any); pm["resource"] != publicURL+"/t/acme/mcp" {
			t.Fatalf("path mode: %v", pm)
		}
		// Claims on another tenant's domain: see TestSecurity_12_CustomDomainClaims.
		// A new domain must be verified again.
		r = e.admin("PATCH", "/api/v1/tenants/acme", map[string]any{"custom_domain": "mcp2.acme.example"})
		if m := r.json(t); m["custom_domain_verified"] != false {
			t.Fatalf("verification survived a domain change: %s", r.body)
		}
		// The platform's own host is refused.
		r = e.admin("PATCH", "/api/v1/tenants/acme", map[string]any{"custom_domain": "localhost"})
		r.problem(t, 400)
	})
}

// With GATEHOUSE_TENANT_DOMAIN the view has host-mode URLs (docs/RULES.md §4) and
// names under the tenant domain are refused as custom domains.
func TestTenantViewHostMode(t *testing.T) {
	testkit.Backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e := newEnv(t, dsn(t), &envOpts{tenantDomain: "connect.example.com"})
		m := e.mkTenant("acme", nil)
		// docs/RULES.md §4: host mode keeps the public URL's scheme and port.
		want := map[string]any{
			"issuer":   "http://acme.connect.example.com:8080",
			"resource": "http://acme.connect.example.com:8080/mcp",
		}
		for k, v := range want {
			if m[k] != v {
				t.Fatalf("%s = %v, want %v", k, m[k], v)
			}
		}
		pm := m["path_mode"].(map[string]any)
		if pm["issuer"] != publicURL+"/t/acme" || pm["resource"] != publicURL+"/t/acme/mcp" ||
			pm["authorization_server_metadata"] != publicURL+"/.well-known/oauth-authorization-server/t/acme" ||
			pm["jwks_uri"] != publicURL+"/t/acme/jwks.json" {
			t.Fatalf("path mode: %v", pm)
		}
		prm := pm["protected_resource_metadata"].([]any)
		if prm[0] != publicURL+"/.well-known/oauth-protected-resource/t/acme/mcp" {
			t.Fatalf("PRM: %v", prm)
		}
		hm := m["host_mode"].(map[string]any)
		if hm["protected_resource_metadata"].([]any)[0] != "http://acme.connect.example.com:8080/.well-known/oauth-protected-resource/mcp" {
			t.Fatalf("host PRM: %v", hm)
		}
		r := e.admin("POST", "/api/v1/tenants", map[string]any{"slug": "bravo", "upstream_mcp_url": "https://u.example/mcp", "custom_domain": "evil.connect.example.com"})
		fieldErr(t, r.problem(t, 400), "custom_domain", "tenant domain")
		// The API is not served on tenant hosts.
		r = e.do(req{method: "GET", path: "/api/v1/tenants/acme", token: adminToken, hdr: map[string]string{"Host": "acme.connect.example.com"}})
		if r.status != 404 {
			t.Fatalf("API on a tenant host: %d", r.status)
		}
	})
}

// DELETE /tenants/{slug} removes everything the tenant holds.
func TestDeleteTenant(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		e.mkTenant("keep", nil)
		tn := e.tenant("acme")
		key, _ := e.mkKey("acme")
		e.admin("POST", "/api/v1/tenants/acme/clients", map[string]any{"redirect_uris": []string{"https://a.example/cb"}})
		e.admin("POST", "/api/v1/tenants/acme/keys/rotate", nil)
		if r := e.admin("DELETE", "/api/v1/tenants/acme", nil); r.status != 204 || len(r.body) != 0 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		e.admin("GET", "/api/v1/tenants/acme", nil).problem(t, 404)
		e.admin("DELETE", "/api/v1/tenants/acme", nil).problem(t, 404)
		e.do(req{method: "GET", path: "/api/v1/tenants/acme", token: key}).problem(t, 401)
		ctx := context.Background()
		if ks, _ := e.store.ListSigningKeys(ctx, tn.ID); len(ks) != 0 {
			t.Fatal("signing keys survived")
		}
		if cs, _, _ := e.store.ListClients(ctx, tn.ID, tenants.Page{}); len(cs) != 0 {
			t.Fatal("clients survived")
		}
		if !e.bus.has(tenants.TopicTenantChanged, tn.ID) || !e.bus.has(tenants.TopicKeysRotated, tn.ID) {
			t.Fatal("replicas not told")
		}
		evs := e.audit("", "admin.tenant.deleted")
		if len(evs) != 1 || evs[0].Actor != "admin" || evs[0].Details["slug"] != "acme" {
			t.Fatalf("audit: %+v", evs)
		}
		e.admin("GET", "/api/v1/tenants/keep", nil)
	})
}
