package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testidp"
)

// pkEnv: a tenant with client_credentials on and private_key_jwt clients —
// one with inline jwks, one with a jwks_uri — and a CIMD document with keys.
type pkEnv struct {
	*env
	tn         *tenants.Tenant
	site       tenants.Site
	key        *ecdsa.PrivateKey
	keys       *httptest.Server // serves /jwks and the CIMD document
	secret     string           // of "basic-machine", a client_secret_basic client
	cimdClient string
}

// o adds to the env options (benchmarks lift the limits).
func newPKEnv(t testing.TB, dsn string, o envOpts) *pkEnv {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Use: "sig"}}}
	var keysURL string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/jwks":
			_ = json.NewEncoder(w).Encode(set)
		case "/agent.json": // a CIMD document carrying keys (CIMD §6.2)
			_ = json.NewEncoder(w).Encode(map[string]any{"client_id": keysURL + "/agent.json", "client_name": "Agent",
				"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": keysURL + "/jwks"})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	keysURL = srv.URL
	o.cimdTrust = srv
	e := newEnv(t, dsn, o)
	p := &pkEnv{env: e, key: key, keys: srv, cimdClient: srv.URL + "/agent.json"}
	p.tn = e.tenant("machines", nil, &tenants.Settings{ClientCredentials: true})
	p.site = e.pathSite(p.tn)
	ctx := context.Background()
	raw, _ := json.Marshal(set)
	for _, in := range []tenants.PreregisteredClientInput{
		{ClientID: "pk-inline", TokenEndpointAuthMethod: tenants.AuthPrivateKeyJWT, JWKS: raw, GrantTypes: []string{"client_credentials"}},
		{ClientID: "pk-uri", TokenEndpointAuthMethod: tenants.AuthPrivateKeyJWT, JWKSURI: srv.URL + "/jwks", GrantTypes: []string{"client_credentials"}},
	} {
		if secret, _, err := e.prov.CreatePreregisteredClient(ctx, p.tn, in); err != nil || secret != "" {
			t.Fatalf("create %s: %v (secret %q)", in.ClientID, err, secret)
		}
	}
	var err error
	p.secret, _, err = e.prov.CreatePreregisteredClient(ctx, p.tn, tenants.PreregisteredClientInput{ClientID: "basic-machine", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// assertion is a client assertion of id (RFC 7523 §3), with changes.
func (p *pkEnv) assertion(id string, change func(map[string]any)) string {
	now := time.Now()
	c := map[string]any{"iss": id, "sub": id, "aud": p.site.Issuer, "jti": rand.Text(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	if change != nil {
		change(c)
	}
	return testidp.SignWith(p.key, jose.ES256, "k1", "JWT", c)
}

func (p *pkEnv) cc(form url.Values) (*http.Response, map[string]any) {
	form.Set("grant_type", "client_credentials")
	return p.post(p.site.Endpoint("token"), form, nil)
}

func withAssertion(a string) url.Values {
	return url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
}

// private_key_jwt (RFC 7523 §2.2) at the token, introspection and
// revocation endpoints, for inline jwks, jwks_uri and a CIMD document.
func TestPrivateKeyJWT(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		p := newPKEnv(t, dsn(t), envOpts{})
		for _, id := range []string{"pk-inline", "pk-uri"} {
			for _, aud := range []string{p.site.Issuer, p.site.Endpoint("token")} {
				f := withAssertion(p.assertion(id, func(c map[string]any) { c["aud"] = aud }))
				if id == "pk-uri" {
					f.Set("client_id", id) // optional; must match sub when sent
				}
				resp, out := p.cc(f)
				if resp.StatusCode != 200 || out["access_token"] == nil {
					t.Fatalf("%s aud %s: %d %v", id, aud, resp.StatusCode, out)
				}
				if _, claims := jwtParts(t, out["access_token"].(string)); claims["client_id"] != id {
					t.Fatalf("token client_id %v", claims["client_id"])
				}
			}
		}
		_, out := p.cc(withAssertion(p.assertion("pk-inline", nil)))
		at := out["access_token"].(string)
		// Introspection and revocation authenticate the same way.
		f := withAssertion(p.assertion("pk-inline", nil))
		f.Set("token", at)
		if r, o := p.post(p.site.Endpoint("introspect"), f, nil); r.StatusCode != 200 || o["active"] != true {
			t.Fatalf("introspect: %d %v", r.StatusCode, o)
		}
		f = withAssertion(p.assertion("pk-inline", func(c map[string]any) { c["aud"] = p.site.Endpoint("revoke") }))
		f.Set("token", at)
		if r, o := p.post(p.site.Endpoint("revoke"), f, nil); r.StatusCode != 200 {
			t.Fatalf("revoke: %d %v", r.StatusCode, o)
		}
		// A CIMD client whose document carries keys authenticates with them.
		if r, o := p.post(p.site.Endpoint("revoke"), func() url.Values {
			f := withAssertion(p.assertion(p.cimdClient, nil))
			f.Set("token", "unknown-token")
			return f
		}(), nil); r.StatusCode != 200 {
			t.Fatalf("CIMD client with keys at revoke: %d %v", r.StatusCode, o)
		}
		if c, err := p.store.GetClient(context.Background(), p.tn.ID, p.cimdClient); err != nil || c.TokenEndpointAuthMethod != tenants.AuthPrivateKeyJWT {
			t.Fatalf("CIMD row: %+v %v", c, err)
		}
		// Metadata names the method and the algorithms.
		_, m := p.doJSON("GET", p.site.ASMetadataURL(), "", nil)
		if !contains(m["token_endpoint_auth_methods_supported"], "private_key_jwt") || !contains(m["token_endpoint_auth_signing_alg_values_supported"], "ES256") ||
			contains(m["token_endpoint_auth_signing_alg_values_supported"], "HS256") {
			t.Fatalf("metadata: %v / %v", m["token_endpoint_auth_methods_supported"], m["token_endpoint_auth_signing_alg_values_supported"])
		}
	})
}

func contains(list any, v string) bool {
	l, _ := list.([]any)
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// Hostile client assertions: each is refused, nothing issued.
func TestPrivateKeyJWTHostile(t *testing.T) {
	p := newPKEnv(t, testdbSQLite(t), envOpts{})
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := x509.MarshalPKIXPublicKey(&p.key.PublicKey)
	replayed := p.assertion("pk-inline", nil)
	if r, o := p.cc(withAssertion(replayed)); r.StatusCode != 200 {
		t.Fatalf("first use: %d %v", r.StatusCode, o)
	}
	now := time.Now()
	good := map[string]any{"iss": "pk-inline", "sub": "pk-inline", "aud": p.site.Issuer, "jti": "j-x", "exp": now.Add(time.Minute).Unix()}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
	}{
		{"replayed jti", withAssertion(replayed), 401},
		{"another server's audience", withAssertion(p.assertion("pk-inline", func(c map[string]any) { c["aud"] = "https://other.example/t/x" })), 401},
		{"expired", withAssertion(p.assertion("pk-inline", func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), 401},
		{"exp too far ahead", withAssertion(p.assertion("pk-inline", func(c map[string]any) { c["exp"] = now.Add(24 * time.Hour).Unix() })), 401},
		{"jti missing", withAssertion(p.assertion("pk-inline", func(c map[string]any) { delete(c, "jti") })), 401},
		{"iss is not the client", withAssertion(p.assertion("pk-inline", func(c map[string]any) { c["iss"] = "pk-uri" })), 401},
		{"signed by another key", withAssertion(testidp.SignWith(other, jose.ES256, "k1", "JWT", good)), 401},
		{"alg none", withAssertion(unsigned(map[string]any{"alg": "none", "kid": "k1"}, good)), 401},
		{"HS256 keyed with the public key", withAssertion(hs256(pub, map[string]any{"alg": "HS256", "kid": "k1"}, good)), 401},
		{"client_id differs from sub", func() url.Values {
			f := withAssertion(p.assertion("pk-inline", nil))
			f.Set("client_id", "pk-uri")
			return f
		}(), 401},
		{"secret client sends an assertion", withAssertion(p.assertion("basic-machine", nil)), 401},
		{"key client poses as public", url.Values{"client_id": {"pk-inline"}}, 401},
		{"assertion and secret together", func() url.Values {
			f := withAssertion(p.assertion("pk-inline", nil))
			f.Set("client_secret", p.secret)
			return f
		}(), 400},
		{"wrong assertion type", url.Values{"client_assertion_type": {"urn:x"}, "client_assertion": {p.assertion("pk-inline", nil)}}, 400},
	} {
		before, _, _ := p.store.ListGrants(context.Background(), p.tn.ID, tenants.Page{Limit: 200})
		resp, out := p.cc(tc.form)
		after, _, _ := p.store.ListGrants(context.Background(), p.tn.ID, tenants.Page{Limit: 200})
		if resp.StatusCode != tc.status || out["access_token"] != nil || len(after) != len(before) {
			t.Errorf("%s: %d %v (grants %d→%d), want %d", tc.name, resp.StatusCode, out, len(before), len(after), tc.status)
		}
		if tc.status == 401 && out["error"] != "invalid_client" {
			t.Errorf("%s: error %v, want invalid_client", tc.name, out["error"])
		}
	}
}
