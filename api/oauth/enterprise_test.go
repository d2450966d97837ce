package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testidp"
)

// entEnv is a tenant that trusts one enterprise IdP, with a confidential
// pre-registered client allowed to redeem its ID-JAGs.
type entEnv struct {
	*env
	idp, other    *testidp.IdP // other: trusted by tenant "beta" only
	acme, beta    *tenants.Tenant
	site, betaSit tenants.Site
	secret        string // of client "ent-client"
	otherSecret   string // of client "not-allowed"
}

func serveIdP(t testing.TB, i *testidp.IdP) *httptest.Server {
	srv := httptest.NewUnstartedServer(i)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	i.Issuer = srv.URL
	return srv
}

// o adds to the env options (benchmarks lift the limits).
func newEntEnv(t testing.TB, dsn string, o envOpts) *entEnv {
	i, other := testidp.New(), testidp.New()
	srv := serveIdP(t, i)
	serveIdP(t, other)
	// One fetch client trusting both fakes (httptest TLS servers share a certificate).
	o.cimdTrust = srv
	e := newEnv(t, dsn, o)
	ctx := context.Background()
	st := &tenants.Settings{Scopes: []string{"mcp", "admin", "files"}}
	ee := &entEnv{env: e, idp: i, other: other, acme: e.tenant("acme", nil, st), beta: e.tenant("beta", nil, st)}
	ee.site, ee.betaSit = e.pathSite(ee.acme), e.pathSite(ee.beta)
	var err error
	ee.secret, _, err = e.prov.CreatePreregisteredClient(ctx, ee.acme, tenants.PreregisteredClientInput{ClientID: "ent-client", GrantTypes: []string{"refresh_token"}})
	if err != nil {
		t.Fatal(err)
	}
	ee.otherSecret, _, err = e.prov.CreatePreregisteredClient(ctx, ee.acme, tenants.PreregisteredClientInput{ClientID: "not-allowed", GrantTypes: []string{"refresh_token"}})
	if err != nil {
		t.Fatal(err)
	}
	return ee
}

func (ee *entEnv) trust(tn *tenants.Tenant, i *testidp.IdP, scopes ...string) {
	ee.t.Helper()
	if _, err := ee.prov.CreateEnterpriseIdP(context.Background(), tn, tenants.EnterpriseIdPInput{Issuer: i.Issuer,
		AllowedClients: []string{"ent-client", "not-allowed-elsewhere"}, Scopes: scopes}); err != nil {
		ee.t.Fatal(err)
	}
}

// redeem presents an assertion at acme's token endpoint as client id.
func (ee *entEnv) redeem(id, secret, assertion string, extra url.Values) (*http.Response, map[string]any) {
	f := url.Values{"grant_type": {tenants.GrantJWTBearer}, "assertion": {assertion}, "client_id": {id}, "client_secret": {secret}}
	for k, v := range extra {
		f[k] = v
	}
	return ee.post(ee.site.Endpoint("token"), f, nil)
}

func (ee *entEnv) issuedCount() (grants int, ok int) {
	items, _, err := ee.store.ListGrants(context.Background(), ee.acme.ID, tenants.Page{Limit: 200})
	if err != nil {
		ee.t.Fatal(err)
	}
	for _, ev := range ee.audit(ee.acme, tenants.ActTokenIssued) {
		if ev.Outcome == tenants.OutcomeSuccess {
			ok++
		}
	}
	return len(items), ok
}

// The jwt-bearer grant with an ID-JAG (docs/RULES.md §11): the happy path issues
// an audience-restricted token for an enterprise user, metadata advertises
// the grant only while an IdP is trusted, and the token works at the gateway.
func TestEnterpriseIDJAGGrant(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		ee := newEntEnv(t, dsn(t), envOpts{})
		meta := func() map[string]any {
			_, m := ee.doJSON("GET", ee.site.ASMetadataURL(), "", nil)
			return m
		}
		if m := meta(); m["authorization_grant_profiles_supported"] != nil || strings.Contains(mustJSON(m["grant_types_supported"]), "jwt-bearer") {
			t.Fatalf("metadata advertises ID-JAG before any IdP is trusted: %v", m)
		}
		ee.trust(ee.acme, ee.idp, "mcp", "files")
		m := meta()
		if mustJSON(m["authorization_grant_profiles_supported"]) != `["`+tenants.GrantProfileIDJAG+`"]` || !strings.Contains(mustJSON(m["grant_types_supported"]), tenants.GrantJWTBearer) {
			t.Fatalf("metadata: %v / %v", m["authorization_grant_profiles_supported"], m["grant_types_supported"])
		}
		// ID-JAG scope "mcp admin files": admin is beyond the IdP's maximum, dropped.
		jag := ee.idp.Sign(TypIDJAGForTest, ee.idp.IDJAG(ee.site.Issuer, ee.site.Resource, "ent-client", "mcp admin files"))
		resp, out := ee.redeem("ent-client", ee.secret, jag, url.Values{"code": {""}}) // the Go SDK sends an empty code
		if resp.StatusCode != 200 {
			t.Fatalf("redeem: %d %v", resp.StatusCode, out)
		}
		if out["token_type"] != "Bearer" || out["scope"] != "mcp files" || out["refresh_token"] == nil || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("token response: %v", out)
		}
		_, claims := jwtParts(t, out["access_token"].(string))
		if claims["aud"] != ee.site.Resource || claims["client_id"] != "ent-client" || claims["email"] != "alice@acme.example" {
			t.Fatalf("access token claims: %v", claims)
		}
		u, err := ee.store.GetUser(context.Background(), ee.acme.ID, claims["sub"].(string))
		if err != nil || u.IdP != tenants.IdPEnterprise || u.IdPIssuer != ee.idp.Issuer || u.IdPSubject != "00u-alice" || u.Email != "alice@acme.example" {
			t.Fatalf("user: %+v %v", u, err)
		}
		var ok *tenants.AuditEvent
		for _, ev := range ee.audit(ee.acme, tenants.ActTokenIssued) {
			if ev.Outcome == tenants.OutcomeSuccess {
				ok = &ev
			}
		}
		if ok == nil || ok.Details[tenants.DetailGrantProfile] != tenants.GrantProfileIDJAG || ok.Details[tenants.DetailEnterpriseIssuer] != ee.idp.Issuer {
			t.Fatalf("token.issued audit: %+v", ok)
		}
		// The token is good at the connector.
		if mr := ee.mcp(ee.site, http.Header{"Authorization": {"Bearer " + out["access_token"].(string)}}); mr.StatusCode != 200 {
			t.Fatalf("MCP with the enterprise token: %d", mr.StatusCode)
		}
		// The refresh token rotates like any other.
		if r, o := ee.refresh(ee.site, "ent-client", out["refresh_token"].(string), url.Values{"client_secret": {ee.secret}}); r.StatusCode != 200 {
			t.Fatalf("refresh: %d %v", r.StatusCode, o)
		}
	})
}

// TypIDJAGForTest is the ID-JAG typ the IdP writes.
const TypIDJAGForTest = "oauth-id-jag+jwt"

// Hostile ID-JAGs (docs/RULES.md §11): each is refused with the right error and
// audit reason, and nothing is issued.
func TestEnterpriseIDJAGHostile(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		ee := newEntEnv(t, dsn(t), envOpts{})
		ee.trust(ee.acme, ee.idp, "mcp", "files")
		ee.trust(ee.beta, ee.other)
		i := ee.idp
		good := func() map[string]any { return i.IDJAG(ee.site.Issuer, ee.site.Resource, "ent-client", "mcp") }
		with := func(k string, v any) map[string]any {
			c := good()
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return c
		}
		pub, _ := x509.MarshalPKIXPublicKey(&i.Key.PublicKey)
		replayed := i.Sign(TypIDJAGForTest, good())
		if r, o := ee.redeem("ent-client", ee.secret, replayed, nil); r.StatusCode != 200 {
			t.Fatalf("first use: %d %v", r.StatusCode, o)
		}
		otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		stranger := testidp.New()
		stranger.Issuer = "https://stranger-idp.example"
		now := time.Now()
		cases := []struct {
			name, assertion, client, secret, scope string
			status                                 int
			code, reason                           string
		}{
			{name: "untrusted issuer", assertion: stranger.Sign(TypIDJAGForTest, stranger.IDJAG(ee.site.Issuer, ee.site.Resource, "ent-client", "mcp")),
				code: "invalid_grant", reason: tenants.ReasonUntrustedIssuer},
			{name: "issuer trusted by another tenant", assertion: ee.other.Sign(TypIDJAGForTest, ee.other.IDJAG(ee.site.Issuer, ee.site.Resource, "ent-client", "mcp")),
				code: "invalid_grant", reason: tenants.ReasonUntrustedIssuer},
			{name: "another tenant's audience", assertion: i.Sign(TypIDJAGForTest, with("aud", ee.betaSit.Issuer)), code: "invalid_grant", reason: tenants.ReasonWrongAud},
			{name: "the other URL mode's audience", assertion: i.Sign(TypIDJAGForTest, with("aud", "https://acme.connect.example")), code: "invalid_grant", reason: tenants.ReasonWrongAud},
			{name: "two audiences", assertion: i.Sign(TypIDJAGForTest, with("aud", []string{ee.site.Issuer, ee.betaSit.Issuer})), code: "invalid_grant", reason: tenants.ReasonWrongAud},
			{name: "another tenant's resource", assertion: i.Sign(TypIDJAGForTest, with("resource", ee.betaSit.Resource)), code: "invalid_grant", reason: tenants.ReasonWrongResource},
			{name: "replayed jti", assertion: replayed, code: "invalid_grant", reason: tenants.ReasonReplayed},
			{name: "expired", assertion: i.Sign(TypIDJAGForTest, with("exp", now.Add(-time.Minute).Unix())), code: "invalid_grant", reason: tenants.ReasonExpired},
			{name: "issued in the future", assertion: i.Sign(TypIDJAGForTest, with("iat", now.Add(5*time.Minute).Unix())), code: "invalid_grant", reason: tenants.ReasonNotYetValid},
			{name: "lifetime too long", assertion: i.Sign(TypIDJAGForTest, with("exp", now.Add(2*time.Hour).Unix())), code: "invalid_grant", reason: tenants.ReasonLifetime},
			{name: "typ missing", assertion: i.Sign("", good()), code: "invalid_grant", reason: tenants.ReasonWrongType},
			{name: "typ of an id_token", assertion: i.Sign("JWT", good()), code: "invalid_grant", reason: tenants.ReasonWrongType},
			{name: "alg none", assertion: unsigned(map[string]any{"alg": "none", "typ": TypIDJAGForTest, "kid": i.KID}, good()), code: "invalid_grant", reason: tenants.ReasonMalformed},
			{name: "HS256 keyed with the public key", assertion: hs256(pub, map[string]any{"alg": "HS256", "typ": TypIDJAGForTest, "kid": i.KID}, good()),
				code: "invalid_grant", reason: tenants.ReasonMalformed},
			{name: "signed by another key under the IdP's kid", assertion: testidp.SignWith(otherKey, jose.ES256, i.KID, TypIDJAGForTest, good()),
				code: "invalid_grant", reason: tenants.ReasonBadSignature},
			{name: "signed by an unknown kid", assertion: testidp.SignWith(otherKey, jose.ES256, "nope", TypIDJAGForTest, good()),
				code: "invalid_grant", reason: tenants.ReasonUnknownKey},
			{name: "jti missing", assertion: i.Sign(TypIDJAGForTest, with("jti", nil)), code: "invalid_grant", reason: tenants.ReasonMissingClaim},
			{name: "client_id claim of another client", assertion: i.Sign(TypIDJAGForTest, with("client_id", "not-allowed")), code: "invalid_grant", reason: tenants.ReasonClientMismatch},
			{name: "client not allowed for the IdP", assertion: i.Sign(TypIDJAGForTest, with("client_id", "not-allowed")), client: "not-allowed",
				status: 400, code: "unauthorized_client", reason: tenants.ReasonClientNotAllowed},
			{name: "scope widening", assertion: i.Sign(TypIDJAGForTest, good()), scope: "mcp files", code: "invalid_scope", reason: tenants.ReasonScopeWidened},
			{name: "no scope the IdP may grant", assertion: i.Sign(TypIDJAGForTest, with("scope", "admin")), code: "invalid_scope", reason: tenants.ReasonScopeWidened},
			{name: "not a JWT", assertion: "abc.def", code: "invalid_grant", reason: tenants.ReasonMalformed},
		}
		grants0, ok0 := ee.issuedCount()
		for _, tc := range cases {
			client, secret := "ent-client", ee.secret
			if tc.client != "" {
				client, secret = tc.client, ee.otherSecret
			}
			var extra url.Values
			if tc.scope != "" {
				extra = url.Values{"scope": {tc.scope}}
			}
			before := len(ee.audit(ee.acme, tenants.ActTokenIssued))
			resp, out := ee.redeem(client, secret, tc.assertion, extra)
			if resp.StatusCode != 400 || out["error"] != tc.code || out["access_token"] != nil {
				t.Errorf("%s: %d %v, want 400 %s", tc.name, resp.StatusCode, out, tc.code)
				continue
			}
			evs := ee.audit(ee.acme, tenants.ActTokenIssued)
			if len(evs) != before+1 || evs[0].Outcome != tenants.OutcomeFailure || evs[0].Reason != tc.reason {
				t.Errorf("%s: audit %+v, want a refusal with reason %s", tc.name, evs[0], tc.reason)
			}
		}
		if g, ok := ee.issuedCount(); g != grants0 || ok != ok0 {
			t.Fatalf("something was issued: grants %d→%d, token.issued %d→%d", grants0, g, ok0, ok)
		}
	})
}

// unsigned builds a JWS with the given header and an empty signature.
func unsigned(h, c map[string]any) string {
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb) + "."
}

// hs256 signs with HMAC keyed by key (the public key confusion attack).
func hs256(key []byte, h, c map[string]any) string {
	in := strings.TrimSuffix(unsigned(h, c), ".")
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
