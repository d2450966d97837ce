package access_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// RFC 6750 §2.1 (b64token syntax) and §3.1 (which failures carry which
// error code and status).
func TestBearerToken_RFC6750_2_1(t *testing.T) {
	cases := []struct {
		in     []string
		token  string
		status int
		code   string
		reason string
	}{
		{nil, "", 401, "", tenants.ReasonNoHeader},
		{[]string{""}, "", 401, "", tenants.ReasonNoHeader},
		{[]string{"Basic dXNlcjpwYXNz"}, "", 401, "", tenants.ReasonMalformed},
		{[]string{"Bearer"}, "", 401, access.ErrCodeInvalidToken, tenants.ReasonMalformed},
		{[]string{"Bearer    "}, "", 401, access.ErrCodeInvalidToken, tenants.ReasonMalformed},
		{[]string{"Bearer a.b.c d.e.f"}, "", 400, access.ErrCodeInvalidRequest, tenants.ReasonMalformed},
		{[]string{"Bearer a.b.c", "Bearer a.b.c"}, "", 400, access.ErrCodeInvalidRequest, tenants.ReasonMalformed},
		{[]string{"Bearer a\"b"}, "", 400, access.ErrCodeInvalidRequest, tenants.ReasonMalformed},
		{[]string{"Bearer ===="}, "", 400, access.ErrCodeInvalidRequest, tenants.ReasonMalformed},
		{[]string{"Bearer abc.DEF-_~+/.x=="}, "abc.DEF-_~+/.x==", 0, "", ""},
		{[]string{"bearer abc"}, "abc", 0, "", ""}, // scheme is case-insensitive (RFC 7235 §2.1)
	}
	for _, tc := range cases {
		tok, d := access.BearerToken(tc.in)
		if tc.status == 0 {
			if d != nil || tok != tc.token {
				t.Errorf("%q: got %q %+v, want token %q", tc.in, tok, d, tc.token)
			}
			continue
		}
		if d == nil || d.Status != tc.status || d.Code != tc.code || d.Reason != tc.reason {
			t.Errorf("%q: got %+v, want %d %q %s", tc.in, d, tc.status, tc.code, tc.reason)
		}
	}
}

// RFC 6750 §3 / RFC 9728 §5.1 challenge syntax; quoted values never carry
// a quote or backslash.
func TestChallenge_RFC6750_3(t *testing.T) {
	tn := &tenants.Tenant{ID: "t1", Slug: "acme", Settings: tenants.Settings{DefaultScopes: []string{"mcp", "read"}}}
	site := tenants.PathSite("https://connect.example.com", tn)
	d := access.NoCredentials()
	if got, want := d.Challenge(site), `Bearer resource_metadata="https://connect.example.com/.well-known/oauth-protected-resource/t/acme/mcp", scope="mcp read"`; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	d = &access.Denial{Status: 401, Code: access.ErrCodeInvalidToken, Description: `bad "quote" \ here`}
	if got := d.Challenge(site); !strings.HasSuffix(got, `error="invalid_token", error_description="bad quote  here"`) {
		t.Fatalf("got %s", got)
	}
}

func TestParseBody(t *testing.T) {
	b, err := access.ParseBody([]byte(`{"jsonrpc":"2.0","id":"x1","method":"tools/call","params":{"name":"add","arguments":{"name":"decoy","nested":[{"method":"no"}]}}}`))
	if err != nil || b.Batch || len(b.Calls) != 1 {
		t.Fatalf("%+v %v", b, err)
	}
	c := b.Calls[0]
	if c.Method() != "tools/call" || !c.IsToolCall() || len(c.Names) != 1 || c.Names[0] != "add" || string(b.SingleID()) != `"x1"` {
		t.Fatalf("call %+v", c)
	}
	b, err = access.ParseBody([]byte(` [ {"jsonrpc":"2.0","id":1,"method":"tools/list"}, 5, {"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}} ] `))
	if err != nil || !b.Batch || len(b.Calls) != 2 || b.SingleID() != nil {
		t.Fatalf("batch %+v %v", b, err)
	}
	if got := access.ToolNames(b, "", ""); len(got) != 1 || got[0] != "x" {
		t.Fatalf("batch tools %v", got)
	}
	for _, bad := range []string{``, `{`, `{"a":1} {"b":2}`, `{"a":}`, `[1,2`, strings.Repeat("[", 20000) + strings.Repeat("]", 20000)} {
		if _, err := access.ParseBody([]byte(bad)); err == nil {
			t.Errorf("%.40q parsed", bad)
		}
	}
	// A JSON scalar is valid JSON; the upstream answers it.
	if b, err := access.ParseBody([]byte(`"hi"`)); err != nil || len(b.Calls) != 0 {
		t.Fatalf("scalar %+v %v", b, err)
	}
}

// Headers and body are both read: neither can hide a tools/call the other names.
func TestToolNamesAndPolicy(t *testing.T) {
	list, _ := access.ParseBody([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if got := access.ToolNames(list, "tools/call", "=?base64?c2VjcmV0?="); len(got) != 1 || got[0] != "secret" {
		t.Fatalf("header tool %v", got)
	}
	dup, _ := access.ParseBody([]byte(`{"method":"tools/list","METHOD":"tools/call","params":{"name":"a"},"Params":{"NAME":"b"}}`))
	got := access.ToolNames(dup, "tools/list", "")
	if strings.Join(got, ",") != "a,b" {
		t.Fatalf("folded/duplicate keys: %v", got)
	}
	c := &tokens.AccessClaims{Scope: "mcp read", ClientID: "c1", Subject: "u1"}
	policy := map[string]string{"a": "admin", "b": "read", "c": "write"}
	tools, d := access.CheckToolScopes(policy, dup, "tools/list", "", c)
	if strings.Join(tools, ",") != "a,b" || d == nil {
		t.Fatalf("tools %v denial %+v", tools, d)
	}
	if d.Status != 403 || d.Code != access.ErrCodeInsufficientScope || d.Scope != "admin" || d.Reason != tenants.ReasonScope ||
		d.ClientID != "c1" || d.Subject != "u1" {
		t.Fatalf("denial %+v", d)
	}
	// The header alone names a tool the body does not call: it counts.
	tools, d = access.CheckToolScopes(policy, list, "tools/call", "c", c)
	if strings.Join(tools, ",") != "c" || d == nil || d.Scope != "write" {
		t.Fatalf("header tool: %v %+v", tools, d)
	}
	// The body alone calls a tool the header does not name: it counts too.
	callA, _ := access.ParseBody([]byte(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a"}}`))
	if tools, d = access.CheckToolScopes(policy, callA, "tools/call", "b", c); strings.Join(tools, ",") != "b,a" || d == nil || d.Scope != "admin" {
		t.Fatalf("body tool behind a harmless header: %v %+v", tools, d)
	}
	if tools, d = access.CheckToolScopes(policy, nil, "tools/call", "b", c); d != nil || len(tools) != 1 {
		t.Fatalf("allowed: %v %+v", tools, d)
	}
	if _, d = access.CheckToolScopes(nil, callA, "", "", c); d != nil {
		t.Fatalf("no policy: %+v", d)
	}
}

// testClock is a settable clock for the verifier (Options.Now).
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type fixture struct {
	store  *gormstore.Store
	keys   *keys.Manager
	sealer *tenants.Sealer
	tn     *tenants.Tenant
	site   tenants.Site
}

func setup(t testing.TB) *fixture {
	t.Helper()
	s := testdb.Open(t, testdb.SQLite(t))
	sealer, _ := tenants.NewSealer([][]byte{make([]byte, 32)})
	p := &tenants.Provisioner{Store: s, Sealer: sealer, AllowDevIdP: true}
	tn, err := p.CreateTenant(context.Background(), tenants.TenantInput{Slug: "acme", UpstreamMCPURL: "https://mcp.acme.example/mcp",
		Settings: &tenants.Settings{ForwardUpstreamToken: true}})
	if err != nil {
		t.Fatal(err)
	}
	// Sealed directly, past validation: the gateway must still refuse to let
	// static headers replace identity headers or send cookies.
	if err := p.SealSettingsSecrets(tn, &tenants.Settings{UpstreamHeaders: map[string]string{"X-Api-Key": "k1", "X-Gatehouse-Subject": "x", "Cookie": "c"}}); err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, keys: keys.New(s, sealer, nil), sealer: sealer, tn: tn, site: tenants.PathSite("https://connect.example.com", tn)}
}

func (f *fixture) grant(t testing.TB, upstreamToken string) (*tenants.Grant, string) {
	t.Helper()
	now := time.Now()
	g := &tenants.Grant{TenantID: f.tn.ID, ID: tenants.RandomID(), UserID: "u1", Subject: "u1", ClientID: "c1", Scopes: tenants.Strings{"mcp"},
		Resource: f.site.Resource, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if upstreamToken != "" {
		sealed, err := f.sealer.Seal(upstreamToken, tenants.UpstreamTokenContext(f.tn.ID, g.ID))
		if err != nil {
			t.Fatal(err)
		}
		g.UpstreamTokenSealed = sealed
	}
	if err := f.store.CreateGrant(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	tok, err := tokens.IssueAccessToken(context.Background(), f.keys, f.site, tokens.AccessClaims{Subject: "u1", Audience: f.site.Resource,
		ClientID: "c1", Scope: "mcp", JTI: "j", IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), GrantID: g.ID, Email: "u1@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return g, tok
}

// Revocation over the Bus takes effect immediately, even with a long TTL;
// without a notice, the TTL bounds it.
func TestVerifierLivenessCache(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	clock := newTestClock()
	bus := &testdb.Bus{}
	v := access.NewVerifier(f.store, f.keys, &access.Options{LiveTTL: time.Hour, Now: clock.Now})
	bus.Subscribe(tenants.TopicGrantRevoked, v.ForgetGrant)
	g, tok := f.grant(t, "")
	if p, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); err != nil || d != nil || p.Grant.ID != g.ID {
		t.Fatalf("%+v %+v %v", p, d, err)
	}
	// Revoked in the store only: the hour-long cache still says live.
	if err := f.store.RevokeGrant(ctx, f.tn.ID, g.ID, "x", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, d, _ := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); d != nil {
		t.Fatal("cache not used (test premise)")
	}
	// The notice drops it.
	if err := tenants.RevokeGrant(ctx, f.store, bus, nil, f.tn.ID, g.ID, "x"); err != nil {
		t.Fatal(err)
	}
	if _, d, _ := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); d == nil || d.Reason != tenants.ReasonRevoked || d.Status != 401 || d.Code != access.ErrCodeInvalidToken {
		t.Fatalf("after the notice: %+v", d)
	}

	// Default TTL path: no bus.
	v2 := access.NewVerifier(f.store, f.keys, &access.Options{Now: clock.Now})
	g2, tok2 := f.grant(t, "")
	if _, d, _ := v2.Authenticate(ctx, f.site, []string{"Bearer " + tok2}); d != nil {
		t.Fatal(d)
	}
	_ = f.store.RevokeGrant(ctx, f.tn.ID, g2.ID, "x", time.Now())
	clock.Advance(access.DefaultLiveTTL)
	if _, d, _ := v2.Authenticate(ctx, f.site, []string{"Bearer " + tok2}); d == nil || d.Reason != tenants.ReasonRevoked {
		t.Fatalf("after TTL: %+v", d)
	}
	// A deleted grant is revoked too.
	v3 := access.NewVerifier(f.store, f.keys, nil)
	claims := tokens.AccessClaims{Subject: "u1", Audience: f.site.Resource, ClientID: "c1", Scope: "mcp", JTI: "j2",
		IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(time.Hour).Unix(), GrantID: "no-such-grant"}
	ghost, _ := tokens.IssueAccessToken(ctx, f.keys, f.site, claims)
	if _, d, _ := v3.Authenticate(ctx, f.site, []string{"Bearer " + ghost}); d == nil || d.Reason != tenants.ReasonRevoked {
		t.Fatalf("missing grant: %+v", d)
	}
	// A token whose client_id does not match its grant is refused.
	g4, _ := f.grant(t, "")
	claims.GrantID, claims.ClientID = g4.ID, "someone-else"
	mism, _ := tokens.IssueAccessToken(ctx, f.keys, f.site, claims)
	if _, d, _ := v3.Authenticate(ctx, f.site, []string{"Bearer " + mism}); d == nil || d.Reason != tenants.ReasonRevoked {
		t.Fatalf("client mismatch: %+v", d)
	}
}

// The identity headers and the assertion of docs/RULES.md §6, the optional
// upstream token and sealed static headers.
// A token the gateway accepted a moment ago is refused once the key that
// signed it is gone and the key set reloaded (a rotation's Invalidate, or
// its notice on another replica): no signature check outlives its key set.
func TestVerifierForgetsRemovedKeys(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	v := access.NewVerifier(f.store, f.keys, nil)
	_, tok := f.grant(t, "")
	if _, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); err != nil || d != nil {
		t.Fatalf("%+v %v", d, err)
	}
	rows, err := f.store.ListSigningKeys(ctx, f.tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rows {
		if err := f.store.DeleteSigningKey(ctx, f.tn.ID, k.KID); err != nil {
			t.Fatal(err)
		}
	}
	f.keys.Invalidate(f.tn.ID)
	if _, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok}); err != nil || d == nil || d.Reason != tenants.ReasonUnknownKey {
		t.Fatalf("token of a deleted key: %+v %v", d, err)
	}
}

func TestIdentityBuild(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, tok := f.grant(t, `{"access_token":"gho_abc","expiry":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`)
	v := access.NewVerifier(f.store, f.keys, nil)
	p, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tok})
	if err != nil || d != nil {
		t.Fatal(d, err)
	}
	id := &access.Identity{Keys: f.keys, Sealer: f.sealer}
	fw, err := id.Build(ctx, f.site, p, f.tn.UpstreamMCPURL)
	if err != nil || fw.UpstreamTokenErr != nil || fw.StaticHeadersErr != nil {
		t.Fatal(err, fw.UpstreamTokenErr, fw.StaticHeadersErr)
	}
	h := fw.Header
	want := map[string]string{access.HeaderTenant: "acme", access.HeaderSubject: "u1", access.HeaderEmail: "u1@example.com",
		access.HeaderClientID: "c1", access.HeaderScopes: "mcp", access.HeaderUpstreamToken: "gho_abc", "X-Api-Key": "k1"}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if len(h.Values(access.HeaderSubject)) != 1 || h.Get("Cookie") != "" {
		t.Fatalf("static headers overrode identity or set cookies: %v", h)
	}
	jws, err := jose.ParseSigned(h.Get(access.HeaderAssertion), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType]; typ != tokens.TypAssertion {
		t.Fatalf("typ %v", typ)
	}
	set, _ := f.keys.JWKS(ctx, f.tn.ID)
	payload, err := jws.Verify(set.Key(jws.Signatures[0].Header.KeyID)[0])
	if err != nil {
		t.Fatal(err)
	}
	var a access.AssertionClaims
	_ = json.Unmarshal(payload, &a)
	if a.Audience != f.tn.UpstreamMCPURL || a.Issuer != f.site.Issuer || a.ExpiresAt-a.IssuedAt != 60 || a.Subject != "u1" || a.Tenant != "acme" || a.JTI == "" {
		t.Fatalf("claims %+v", a)
	}
	// An expired upstream token is not forwarded, and says why.
	_, tok5 := f.grant(t, `{"access_token":"gho_old","expiry":"2001-01-01T00:00:00Z"}`)
	p5, _, _ := v.Authenticate(ctx, f.site, []string{"Bearer " + tok5})
	fw5, _ := id.Build(ctx, f.site, p5, f.tn.UpstreamMCPURL)
	if fw5.Header.Get(access.HeaderUpstreamToken) != "" || fw5.UpstreamTokenErr == nil {
		t.Fatal("expired upstream token forwarded")
	}
}

// Each verification reason answers the same WWW-Authenticate error and
// description and the same audit reason as before the one-error change;
// expired and wrong-audience denials name the token's client, subject (and
// audience) from the claims carried on the error — also on the cached path.
func TestAuthenticate_VerifyErrorToDenial(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	clock := newTestClock()
	v := access.NewVerifier(f.store, f.keys, &access.Options{Now: clock.Now})
	now := clock.Now()
	g, valid := f.grant(t, "")
	sign := func(edit func(*tokens.AccessClaims)) string {
		c := tokens.AccessClaims{Subject: "u1", Audience: f.site.Resource, ClientID: "c1", Scope: "mcp", JTI: "j",
			IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), GrantID: g.ID}
		edit(&c)
		tok, err := tokens.IssueAccessToken(ctx, f.keys, f.site, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	parts := strings.Split(valid, ".")
	cases := []struct {
		name, token, reason, desc string
		named                     bool
		audience                  string
	}{
		{"malformed", "a.b.c", tenants.ReasonMalformed, "the access token is malformed", false, ""},
		{"bad signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), tenants.ReasonBadSignature,
			"the access token signature is invalid or its algorithm is not allowed", false, ""},
		{"wrong audience", sign(func(c *tokens.AccessClaims) { c.Audience = "https://elsewhere.example/mcp" }), tenants.ReasonWrongAud,
			"the access token was not issued for this resource", true, "https://elsewhere.example/mcp"},
		{"expired", sign(func(c *tokens.AccessClaims) { c.ExpiresAt = now.Add(-time.Hour).Unix() }), tenants.ReasonExpired,
			"the access token expired", true, ""},
	}
	for _, tc := range cases {
		p, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + tc.token})
		if err != nil || p != nil || d == nil {
			t.Fatalf("%s: %+v %+v %v", tc.name, p, d, err)
		}
		want := `error="invalid_token", error_description="` + tc.desc + `"`
		if d.Status != 401 || d.Reason != tc.reason || !strings.HasSuffix(d.Challenge(f.site), want) {
			t.Errorf("%s: %d %q %s; want 401 %q …%s", tc.name, d.Status, d.Reason, d.Challenge(f.site), tc.reason, want)
		}
		if named := d.ClientID == "c1" && d.Subject == "u1"; named != tc.named || d.Audience != tc.audience {
			t.Errorf("%s: client %q subject %q audience %q", tc.name, d.ClientID, d.Subject, d.Audience)
		}
	}

	// The cached path: verified once, then past exp (and the skew).
	if _, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + valid}); err != nil || d != nil {
		t.Fatalf("valid: %+v %v", d, err)
	}
	clock.Advance(time.Hour + tokens.Skew + time.Second)
	_, d, err := v.Authenticate(ctx, f.site, []string{"Bearer " + valid})
	if err != nil || d == nil || d.Reason != tenants.ReasonExpired || d.Description != "the access token expired" || d.ClientID != "c1" || d.Subject != "u1" {
		t.Fatalf("cached token past exp: %+v %v", d, err)
	}
}
