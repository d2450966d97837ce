package oauth

import (
	"context"
	"encoding/json"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

var registered = []string{"http://127.0.0.1/cb", "https://app.example/oauth/cb", "cursor://anysphere.cursor/cb"}

type fuzzAS struct {
	s    *Server
	site tenants.Site
}

var (
	fuzzOnce sync.Once
	fuzzFix  *fuzzAS
	fuzzErr  error
)

func fuzzServer(f *testing.F) *fuzzAS {
	fuzzOnce.Do(func() {
		ctx := context.Background()
		st, err := gormstore.Open(ctx, testdb.SQLite(f), nil)
		if err != nil {
			fuzzErr = err
			return
		}
		sealer, _ := tenants.NewSealer([][]byte{make([]byte, 32)})
		tn, err := (&tenants.Provisioner{Store: st, Sealer: sealer, AllowDevIdP: true}).CreateTenant(ctx,
			tenants.TenantInput{Slug: "fuzz", UpstreamMCPURL: "https://mcp.example/mcp", IdP: &tenants.IdPInput{Type: tenants.IdPDev}})
		if err != nil {
			fuzzErr = err
			return
		}
		if fuzzErr = st.CreateClient(ctx, &tenants.Client{TenantID: tn.ID, ID: "c1", Kind: tenants.ClientDCR, Name: "c",
			RedirectURIs: registered, GrantTypes: tenants.Strings{grantCode, grantRT}, ResponseTypes: tenants.Strings{respCode},
			TokenEndpointAuthMethod: AuthNone, CreatedAt: time.Now()}); fuzzErr != nil {
			return
		}
		fuzzFix = &fuzzAS{s: &Server{Store: st, Sealer: sealer, Keys: keys.New(st, sealer, nil), AllowDevIdP: true},
			site: tenants.PathSite("https://connect.example.com", tn)}
	})
	if fuzzErr != nil {
		f.Fatal(fuzzErr)
	}
	return fuzzFix
}

// FuzzAuthorizeQuery: any authorization request query (parsed as the
// handler parses it) is either refused or accepted; it never panics, an
// error is only sent to a redirect URI the client registered (no open
// redirect, RFC 6749 §4.1.2.1), and an accepted request holds a registered
// redirect URI, an S256 challenge and this tenant's resource.
func FuzzAuthorizeQuery(f *testing.F) {
	fx := fuzzServer(f)
	ch := "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	for _, q := range []string{
		"response_type=code&client_id=c1&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcb&code_challenge=" + ch + "&code_challenge_method=S256&state=s",
		"response_type=code&client_id=c1&redirect_uri=https%3A%2F%2Fapp.example%2Foauth%2Fcb&code_challenge=" + ch + "&code_challenge_method=plain",
		"response_type=token&client_id=c1&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
		"client_id=c1&client_id=c2&redirect_uri=x",
		"response_type=code&client_id=c1&code_challenge=" + ch + "&code_challenge_method=S256&resource=https%3A%2F%2Fother.example%2Fmcp",
		"response_type=code&client_id=https%3A%2F%2F127.0.0.1%2Fclient.json",
		"scope=a%20b&resource=&state=%00",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		var rep []string
		for _, p := range []string{"client_id", "redirect_uri", "response_type", "state", "code_challenge", "code_challenge_method", "resource", "scope"} {
			if len(form[p]) > 1 {
				rep = append(rep, p)
			}
		}
		_, hasRes := form["resource"]
		_, hasScope := form["scope"]
		req := AuthorizeRequest{ClientID: form.Get("client_id"), RedirectURI: form.Get("redirect_uri"), ResponseType: form.Get("response_type"),
			State: form.Get("state"), CodeChallenge: form.Get("code_challenge"), CodeChallengeMethod: form.Get("code_challenge_method"),
			Resource: form.Get("resource"), ResourcePresent: hasRes, Scope: form.Get("scope"), ScopePresent: hasScope, Repeated: rep}
		p, e := fx.s.Authorize(context.Background(), fx.site, req, "session-hash")
		if e != nil {
			if e.Redirectable() && !matchesRegistered(e.RedirectURI) {
				t.Fatalf("error redirected to unregistered %q", e.RedirectURI)
			}
			return
		}
		if !matchesRegistered(p.RedirectURI) {
			t.Fatalf("accepted unregistered redirect URI %q", p.RedirectURI)
		}
		if p.CodeChallenge == "" || req.CodeChallengeMethod != "S256" {
			t.Fatalf("accepted without S256 PKCE: %+v", req)
		}
		if !fx.site.MatchesResource(p.Resource) {
			t.Fatalf("accepted resource %q for %q", p.Resource, fx.site.Resource)
		}
	})
}

func matchesRegistered(u string) bool {
	for _, r := range registered {
		if tenants.RedirectURIMatches(r, u) {
			return true
		}
	}
	return false
}

// FuzzDCRMetadata: registration metadata (RFC 7591 §2) never panics the
// normaliser; an accepted client has only valid redirect URIs and only the
// authorization_code/refresh_token grants (docs/RULES.md §5).
func FuzzDCRMetadata(f *testing.F) {
	fx := fuzzServer(f)
	for _, s := range []string{
		`{"redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"token_endpoint_auth_method":"client_secret_post","client_name":"Claude"}`,
		`{"redirect_uris":["http://127.0.0.1:33418/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"]}`,
		`{"redirect_uris":["javascript:alert(1)"]}`,
		`{"redirect_uris":["https://a.example/cb"],"grant_types":["client_credentials"]}`,
		`{"redirect_uris":[],"scope":"mcp admin"}`,
		`{"redirect_uris":["cursor://anysphere.cursor-retrieval/oauth/user-github/callback"],"application_type":"native"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req RegistrationRequest
		if json.Unmarshal(b, &req) != nil {
			return
		}
		c, e := fx.s.normalizeRegistration(fx.site, req)
		if e != nil {
			return
		}
		checkClient(t, c)
	})
}

// FuzzCIMDMetadata: a client ID metadata document never panics the
// converter; an accepted client is public, with valid redirect URIs and
// only the code/refresh grants.
func FuzzCIMDMetadata(f *testing.F) {
	fx := fuzzServer(f)
	for _, s := range []string{
		`{"client_id":"https://app.example/client.json","client_name":"App","redirect_uris":["https://app.example/cb"]}`,
		`{"client_id":"https://app.example/client.json","redirect_uris":["http://localhost:7777/cb"],"token_endpoint_auth_method":"private_key_jwt"}`,
		`{"client_id":"https://app.example/client.json","redirect_uris":["data:text/html,x"],"grant_types":["implicit"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d CIMDDocument
		if json.Unmarshal(b, &d) != nil {
			return
		}
		c, e := clientFromCIMD(fx.site, &d)
		if e != nil {
			return
		}
		if c.TokenEndpointAuthMethod != AuthNone || c.SecretHash != "" {
			t.Fatalf("a CIMD client must be public: %+v", c)
		}
		checkClient(t, c)
	})
}

func checkClient(t *testing.T, c *tenants.Client) {
	t.Helper()
	for _, r := range c.RedirectURIs {
		if msg := tenants.ValidateRedirectURI(r); msg != "" {
			t.Fatalf("accepted redirect URI %q: %s", r, msg)
		}
	}
	for _, g := range c.GrantTypes {
		if g != grantCode && g != grantRT {
			t.Fatalf("accepted grant type %q", g)
		}
	}
}
