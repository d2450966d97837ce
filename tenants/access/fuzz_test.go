package access_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// FuzzBearerToken: the Authorization parser never panics, and what it
// accepts is exactly one non-empty b64token (RFC 6750 §2.1).
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer  x==", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Bearer a\tb", "Bearer ä", "Bearer ==="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, d := access.BearerToken([]string{h})
		if d != nil {
			if d.Status != 400 && d.Status != 401 {
				t.Fatalf("denial status %d", d.Status)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n\"\\") {
			t.Fatalf("accepted token %q from %q", tok, h)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] > 0x7e || tok[i] < 0x21 {
				t.Fatalf("accepted non-b64token byte in %q", tok)
			}
		}
	})
}

type jwtFixture struct {
	keys   *keys.Manager
	site   tenants.Site
	token  string
	claims tokens.AccessClaims
}

var (
	jwtOnce sync.Once
	jwtFix  *jwtFixture
	jwtErr  error
)

func fixtureFor(f *testing.F) *jwtFixture {
	jwtOnce.Do(func() {
		s, err := gormstore.Open(context.Background(), testdb.SQLite(f), nil)
		if err != nil {
			jwtErr = err
			return
		}
		sealer, _ := tenants.NewSealer([][]byte{make([]byte, 32)})
		tn, err := (&tenants.Provisioner{Store: s, Sealer: sealer, AllowDevIdP: true}).CreateTenant(context.Background(),
			tenants.TenantInput{Slug: "fuzz", UpstreamMCPURL: "https://mcp.example/mcp"})
		if err != nil {
			jwtErr = err
			return
		}
		fx := &jwtFixture{keys: keys.New(s, sealer, nil), site: tenants.PathSite("https://connect.example.com", tn)}
		now := time.Now()
		fx.claims = tokens.AccessClaims{Subject: "u1", Audience: fx.site.Resource, ClientID: "c1", Scope: "mcp", JTI: "j1",
			IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), GrantID: "g1"}
		fx.token, jwtErr = tokens.IssueAccessToken(context.Background(), fx.keys, fx.site, fx.claims)
		jwtFix = fx
	})
	if jwtErr != nil {
		f.Fatal(jwtErr)
	}
	return jwtFix
}

// FuzzVerifyAccessToken: verification never panics, and only the tenant's
// own signed token verifies — any accepted input carries exactly the
// claims that were signed.
func FuzzVerifyAccessToken(f *testing.F) {
	fx := fixtureFor(f)
	parts := strings.Split(fx.token, ".")
	f.Add(fx.token)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + ".")
	f.Add("eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9." + parts[1] + "." + parts[2])
	f.Add(parts[1] + "." + parts[0] + "." + parts[2])
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := tokens.VerifyAccessToken(context.Background(), fx.keys, fx.site, raw, time.Now())
		if err != nil {
			if ve := (*tokens.VerifyError)(nil); !errors.As(err, &ve) || ve.Reason == "" {
				t.Fatalf("verification error without an audit reason: %v", err)
			}
			return
		}
		if c.Subject != fx.claims.Subject || c.GrantID != fx.claims.GrantID || c.ClientID != fx.claims.ClientID ||
			c.Audience != fx.claims.Audience || c.ExpiresAt != fx.claims.ExpiresAt || c.Scope != fx.claims.Scope {
			t.Fatalf("a forged token verified: %+v", c)
		}
	})
}

// FuzzChallenge: the WWW-Authenticate value is always one Bearer challenge
// whose quoted values hold only RFC 6750 §3 characters, with the absolute
// resource_metadata URL first, whatever the description or scope.
func FuzzChallenge(f *testing.F) {
	f.Add("invalid_token", "the access token expired", "mcp")
	f.Add("insufficient_scope", `needs "admin"\`, "mcp admin")
	f.Add("", "", "")
	f.Add("invalid_token", "line\r\nX-Injected: 1", "a\x00b")
	f.Fuzz(func(t *testing.T, code, desc, scope string) {
		if code != "" && code != access.ErrCodeInvalidToken && code != access.ErrCodeInvalidRequest && code != access.ErrCodeInsufficientScope {
			code = access.ErrCodeInvalidToken // codes are constants, never input
		}
		tn := &tenants.Tenant{ID: "t1", Slug: "acme"}
		site := tenants.PathSite("https://connect.example.com", tn)
		d := &access.Denial{Status: 401, Code: code, Description: desc, Scope: scope}
		h := d.Challenge(site)
		if !strings.HasPrefix(h, `Bearer resource_metadata="`+site.PRMURL()+`", scope="`) {
			t.Fatalf("challenge does not start with the absolute PRM URL: %q", h)
		}
		for i := 0; i < len(h); i++ {
			if c := h[i]; c < 0x20 || c > 0x7e {
				t.Fatalf("challenge holds byte %#x: %q", c, h)
			}
		}
		// Walk the params: every value is a quoted-string without '"' or '\'.
		rest := strings.TrimPrefix(h, "Bearer ")
		for rest != "" {
			name, after, ok := strings.Cut(rest, `="`)
			if !ok || strings.ContainsAny(name, `" =`) {
				t.Fatalf("malformed param in %q", h)
			}
			val, tail, ok := strings.Cut(after, `"`)
			if !ok || strings.Contains(val, `\`) {
				t.Fatalf("unterminated or escaped value in %q", h)
			}
			rest = strings.TrimPrefix(tail, ", ")
			if tail != "" && !strings.HasPrefix(tail, ", ") {
				t.Fatalf("garbage after a value in %q", h)
			}
		}
	})
}

// FuzzToolNames: no JSON body hides a tools/call from the scope policy. For
// every body that encoding/json reads as a tools/call (single or in a
// batch) with a string params.name, the peek reports that name — whatever
// the duplicate members, key case or nesting.
func FuzzToolNames(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_repo"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"method":"tools/call","params":{"name":"b"}}]`,
		`{"method":"tools/list","METHOD":"tools/call","params":{"name":"x","Name":"y"}}`,
		`{"method":"tools/call","params":{"name":"x"},"params":{"name":"y"}}`,
		`{"method":"tools/call","params":{"arguments":{"name":"z"},"name":"x"}}`,
		`"scalar"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := access.ParseBody(b)
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		if err != nil {
			t.Fatalf("valid JSON refused by the peek: %q: %v", b, err)
		}
		got := map[string]bool{}
		for _, n := range access.ToolNames(body, "", "") {
			got[n] = true
		}
		msgs := []any{v}
		if arr, ok := v.([]any); ok {
			msgs = arr
		}
		for _, m := range msgs {
			obj, ok := m.(map[string]any)
			if !ok || obj["method"] != access.MethodToolsCall {
				continue
			}
			params, _ := obj["params"].(map[string]any)
			if name, ok := params["name"].(string); ok && !got[name] {
				t.Fatalf("tools/call %q hidden from the policy in %q (peek saw %v)", name, b, got)
			}
		}
	})
}
