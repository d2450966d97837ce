package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/tenants"
)

func okUpstream() *upstreamRec {
	return &upstreamRec{next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	})}
}

// RFC 9728 §5.1 / RFC 6750 §3: a request without a token gets 401 with the
// absolute path-inserted resource_metadata URL and the default scope, on
// every method the transport uses, at /mcp and /mcp/ alike (never a redirect).
func TestNoToken401OnEveryMethod_RFC9728_5_1(t *testing.T) {
	e := newEnv(t, nil)
	up := okUpstream()
	tn := e.tenant("acme", serveMCP(t, up), nil)
	want := `Bearer resource_metadata="` + e.base + `/.well-known/oauth-protected-resource/t/acme/mcp", scope="mcp"`
	if got := e.pathSite(tn).PRMURL(); !strings.HasPrefix(want, `Bearer resource_metadata="`+got+`"`) {
		t.Fatalf("challenge must name site.PRMURL() %s", got)
	}
	for _, path := range []string{"/t/acme/mcp", "/t/acme/mcp/"} {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			body := ""
			if m == http.MethodPost {
				body = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`
			}
			resp := e.do(m, e.base+path, body, map[string]string{"User-Agent": "Claude-User"})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s %s: status %d, want 401", m, path, resp.StatusCode)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Fatalf("%s %s: WWW-Authenticate\n got %s\nwant %s", m, path, got, want)
			}
			var rpc struct {
				JSONRPC string `json:"jsonrpc"`
				Error   struct{ Code int }
			}
			if err := json.NewDecoder(resp.Body).Decode(&rpc); err != nil || rpc.JSONRPC != "2.0" || rpc.Error.Code == 0 {
				t.Fatalf("%s %s: body is not a JSON-RPC error: %v %+v", m, path, err, rpc)
			}
			if resp.Header.Get("Access-Control-Expose-Headers") == "" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("%s %s: CORS headers missing on 401", m, path)
			}
		}
	}
	if n := len(up.all()); n != 0 {
		t.Fatalf("upstream was called %d times without a token", n)
	}
	// The connection doctor reads these: reason no_header with the caller's User-Agent.
	ev := e.audit.Last(tenants.ActMCPDenied)
	if ev == nil || ev.Reason != tenants.ReasonNoHeader || ev.UserAgent != "Claude-User" || ev.TenantID != tn.ID || ev.Outcome != tenants.OutcomeFailure {
		t.Fatalf("audit event for no_header: %+v", ev)
	}
	if got := e.counter("acme", "denied", tenants.ReasonNoHeader); got != 6 {
		t.Fatalf("metric denied/no_header = %v, want 6", got)
	}
}

// A preflight is answered before authentication (browser-based clients).
func TestPreflightWithoutToken(t *testing.T) {
	e := newEnv(t, nil)
	e.tenant("acme", "http://127.0.0.1:9/mcp", nil)
	resp := e.do(http.MethodOptions, e.base+"/t/acme/mcp", "", map[string]string{
		"Origin": "https://inspector.example", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version, mcp-param-region",
	})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	allow := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"authorization", "mcp-protocol-version", "mcp-session-id", "last-event-id", "mcp-param-region"} {
		if !strings.Contains(allow, h) {
			t.Fatalf("Access-Control-Allow-Headers %q lacks %s", allow, h)
		}
	}
	if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Fatal("WWW-Authenticate not exposed")
	}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Each denial of docs/RULES.md §6 with its exact status and WWW-Authenticate
// (RFC 6750 §3, §3.1) and its audit reason (docs/RULES.md §8).
func TestDenials_RFC6750_3_1(t *testing.T) {
	e := newEnv(t, nil)
	up := okUpstream()
	upURL := serveMCP(t, up)
	tn := e.tenant("acme", upURL, &tenants.Settings{ToolScopes: map[string]string{"add": "admin"}})
	other := e.tenant("other", upURL, nil)
	url := e.mcpURL(tn)
	prm := e.base + "/.well-known/oauth-protected-resource/t/acme/mcp"
	ctx := context.Background()

	good, _ := e.token(tn, nil)
	otherTok, _ := e.token(other, nil)
	expired, _ := e.token(tn, &tokOpts{iat: time.Now().Add(-2 * time.Hour), ttl: time.Hour})
	revoked, rg := e.token(tn, nil)
	if err := tenants.RevokeGrant(ctx, e.store, nil, nil, tn.ID, rg.ID, "test"); err != nil {
		t.Fatal(err)
	}
	hostSite := tenants.HostSite("http", "acme.tenants.test", tn)
	otherMode, _ := e.token(tn, &tokOpts{site: &hostSite})

	parts := strings.Split(good, ".")
	var hdr map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	_ = json.Unmarshal(raw, &hdr)
	algNone := b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": hdr["kid"]}) + "." + parts[1] + "."
	hs256 := func() string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")},
			(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", hdr["kid"]))
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		jws, _ := s.Sign(payload)
		out, _ := jws.CompactSerialize()
		return out
	}()
	unknownKid := func() string {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "not-a-tenant-key"))
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		jws, _ := s.Sign(payload)
		out, _ := jws.CompactSerialize()
		return out
	}()
	tamperedPayload := func() string {
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c map[string]any
		_ = json.Unmarshal(raw, &c)
		c["scope"] = "mcp admin"
		return parts[0] + "." + b64(c) + "." + parts[2]
	}()

	bare := `Bearer resource_metadata="` + prm + `", scope="mcp"`
	invalid := func(desc string) string { return bare + `, error="invalid_token", error_description="` + desc + `"` }
	badReq := func(desc string) string { return bare + `, error="invalid_request", error_description="` + desc + `"` }
	toolCall := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`

	cases := []struct {
		name       string
		auth       []string
		body       string
		status     int
		challenge  string
		reason     string
		wantClient bool
	}{
		{"no header", nil, "", 401, bare, tenants.ReasonNoHeader, false},
		{"basic scheme", []string{"Basic dXNlcjpwYXNz"}, "", 401, bare, tenants.ReasonMalformed, false},
		{"bearer without token", []string{"Bearer"}, "", 401, invalid("empty bearer token"), tenants.ReasonMalformed, false},
		{"two tokens in one header", []string{"Bearer " + good + " " + good}, "", 400, badReq("more than one bearer token"), tenants.ReasonMalformed, false},
		{"two authorization headers", []string{"Bearer " + good, "Bearer " + good}, "", 400, badReq("more than one Authorization header"), tenants.ReasonMalformed, false},
		{"not a JWT", []string{"Bearer abc.def"}, "", 401, invalid("the access token is malformed"), tenants.ReasonMalformed, false},
		{"wrong tenant's token", []string{"Bearer " + otherTok}, "", 401, invalid("the access token was signed by a key this resource does not know"), tenants.ReasonUnknownKey, false},
		{"expired", []string{"Bearer " + expired}, "", 401, invalid("the access token expired"), tenants.ReasonExpired, true},
		{"revoked grant", []string{"Bearer " + revoked}, "", 401, invalid("the access token's grant was revoked"), tenants.ReasonRevoked, true},
		{"wrong audience (same tenant, host mode token)", []string{"Bearer " + otherMode}, "", 401, invalid("the access token was not issued for this resource"), tenants.ReasonWrongAud, true},
		{"alg none", []string{"Bearer " + algNone}, "", 401, invalid("the access token signature is invalid or its algorithm is not allowed"), tenants.ReasonBadSignature, false},
		{"alg HS256", []string{"Bearer " + hs256}, "", 401, invalid("the access token signature is invalid or its algorithm is not allowed"), tenants.ReasonBadSignature, false},
		{"unknown kid", []string{"Bearer " + unknownKid}, "", 401, invalid("the access token was signed by a key this resource does not know"), tenants.ReasonUnknownKey, false},
		{"tampered payload", []string{"Bearer " + tamperedPayload}, "", 401, invalid("the access token signature is invalid or its algorithm is not allowed"), tenants.ReasonBadSignature, false},
		{"missing tool scope", []string{"Bearer " + good}, toolCall, 403,
			`Bearer resource_metadata="` + prm + `", scope="admin", error="insufficient_scope", error_description="calling add requires scope admin"`, tenants.ReasonScope, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.all())
			method := http.MethodGet
			if tc.body != "" {
				method = http.MethodPost
			}
			for _, m := range []string{method, http.MethodDelete} {
				if m == http.MethodDelete && tc.body != "" {
					continue
				}
				req, _ := http.NewRequest(m, url, strings.NewReader(tc.body))
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Content-Type", "application/json")
				for _, a := range tc.auth {
					req.Header.Add("Authorization", a)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body := readAll(t, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Fatalf("%s: status %d, want %d (%s)", m, resp.StatusCode, tc.status, body)
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Fatalf("%s: WWW-Authenticate\n got %s\nwant %s", m, got, tc.challenge)
				}
				if strings.Contains(body, good) || (len(tc.auth) > 0 && len(tc.auth[0]) > 20 && strings.Contains(body, strings.TrimPrefix(tc.auth[0], "Bearer "))) {
					t.Fatalf("%s: the token was echoed in the body", m)
				}
				ev := e.audit.Last(tenants.ActMCPDenied)
				if ev == nil || ev.Reason != tc.reason || ev.TenantID != tn.ID {
					t.Fatalf("%s: audit %+v, want reason %s", m, ev, tc.reason)
				}
				if tc.wantClient && ev.ClientID != "client-acme" {
					t.Fatalf("%s: audit client_id %q, want client-acme", m, ev.ClientID)
				}
				for _, a := range tc.auth {
					tok := strings.TrimPrefix(a, "Bearer ")
					if len(tok) > 20 && strings.Contains(mustJSON(ev), tok) {
						t.Fatal("audit event contains the token")
					}
				}
			}
			if n := len(up.all()); n != before {
				t.Fatal("a denied request reached the upstream")
			}
		})
	}
	if e.counter("acme", "denied", tenants.ReasonExpired) == 0 || e.counter("acme", "denied", tenants.ReasonScope) != 1 {
		t.Fatal("denials are not counted by tenant and reason")
	}
	// And the good token is accepted, for contrast.
	resp := e.do(http.MethodPost, url, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + good})
	if resp.StatusCode != 200 {
		t.Fatalf("valid token: status %d", resp.StatusCode)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// docs/RULES.md §5 / §10: a token of one URL mode is refused at the other, and the
// host-mode connector URL accepts its own token (and the PRM there names the
// host-mode resource).
func TestHostModeTokenAndChallenge(t *testing.T) {
	e := newEnv(t, &envOpts{tenantDomain: "tenants.test"})
	tn := e.tenant("acme", serveMCP(t, okUpstream()), nil)
	port := e.base[strings.LastIndex(e.base, ":")+1:]
	host := "acme.tenants.test:" + port
	site := tenants.HostSite("http", host, tn)
	hostTok, _ := e.token(tn, &tokOpts{site: &site})
	pathTok, _ := e.token(tn, nil)

	resp := e.do(http.MethodPost, e.base+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Host": host, "Authorization": "Bearer " + hostTok})
	if resp.StatusCode != 200 {
		t.Fatalf("host-mode token at host-mode URL: %d %s", resp.StatusCode, readAll(t, resp.Body))
	}
	resp = e.do(http.MethodPost, e.base+"/mcp", `{}`, map[string]string{"Host": host, "Authorization": "Bearer " + pathTok})
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("path-mode token at host-mode URL: %d", resp.StatusCode)
	}
	resp = e.do(http.MethodGet, e.base+"/mcp", "", map[string]string{"Host": host})
	want := `Bearer resource_metadata="http://` + host + `/.well-known/oauth-protected-resource/mcp", scope="mcp"`
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != want {
		t.Fatalf("host-mode 401: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// A suspended tenant's connector answers a clear error to every request,
// and a token that worked before stops working (docs/RULES.md §12).
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
