package oauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testidp"
)

// dpopKey makes proofs (RFC 9449 §4.2) with one key.
type dpopKey struct{ k *ecdsa.PrivateKey }

func newDPoPKey() dpopKey {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return dpopKey{k}
}

func (d dpopKey) jkt() string {
	tp, _ := (&jose.JSONWebKey{Key: &d.k.PublicKey}).Thumbprint(crypto.SHA256)
	return base64.RawURLEncoding.EncodeToString(tp)
}

func (d dpopKey) proof(method, htu, token string, change func(map[string]any)) string {
	return testidp.DPoPProof(d.k, method, htu, token, change)
}

// mcp posts initialize to the connector with the given headers.
func (e *env) mcp(site tenants.Site, hdr http.Header) *http.Response {
	e.t.Helper()
	resp := e.send(http.MethodPost, site.Resource, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`),
		http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json, text/event-stream"}}, hdr)
	resp.Body.Close()
	return resp
}

// DPoP (RFC 9449): a proof at the token endpoint binds the access token
// (cnf.jkt, token_type DPoP) and a public client's refresh token; the
// connector accepts the token only with a fresh proof by that key for its
// URL, and refuses it without one, as Bearer, for another URL, or replayed.
func TestDPoP(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(t *testing.T) string) {
		e := newEnv(t, dsn(t), envOpts{})
		tn := e.tenant("dpop", nil, nil)
		other := e.pathSite(e.tenant("other", nil, nil))
		site := e.pathSite(tn)
		_, m := e.doJSON("GET", site.ASMetadataURL(), "", nil)
		if !contains(m["dpop_signing_alg_values_supported"], "ES256") || contains(m["dpop_signing_alg_values_supported"], "HS256") {
			t.Fatalf("AS metadata dpop algs: %v", m["dpop_signing_alg_values_supported"])
		}
		key := newDPoPKey()
		client := e.publicClient(site, "dpop-client")
		code, v := e.code(site, client, nil)
		tokenURL := site.Endpoint("token")
		form := url.Values{"grant_type": {"authorization_code"}, "client_id": {client}, "code": {code}, "code_verifier": {v}, "redirect_uri": {testRedirect}}
		resp, out := e.post(tokenURL, form, http.Header{"DPoP": {key.proof("POST", tokenURL, "", nil)}})
		if resp.StatusCode != 200 || out["token_type"] != "DPoP" {
			t.Fatalf("token: %d %v", resp.StatusCode, out)
		}
		at, rt := out["access_token"].(string), out["refresh_token"].(string)
		if _, claims := jwtParts(t, at); mustJSON(claims["cnf"]) != `{"jkt":"`+key.jkt()+`"}` {
			t.Fatalf("cnf %v, want jkt %s", claims["cnf"], key.jkt())
		}
		if in := e.introspect(site, e.apiKey(tn), at); in["token_type"] != "DPoP" || mustJSON(in["cnf"]) != `{"jkt":"`+key.jkt()+`"}` {
			t.Fatalf("introspection: %v", in)
		}
		// The connector.
		ok := e.mcp(site, http.Header{"Authorization": {"DPoP " + at}, "DPoP": {key.proof("POST", site.Resource, at, nil)}})
		if ok.StatusCode != 200 {
			t.Fatalf("DPoP request: %d %v", ok.StatusCode, ok.Header.Values("WWW-Authenticate"))
		}
		replayed := key.proof("POST", site.Resource, at, nil)
		e.mcp(site, http.Header{"Authorization": {"DPoP " + at}, "DPoP": {replayed}})
		for _, tc := range []struct {
			name   string
			hdr    http.Header
			scheme string // of the challenge carrying the error
			code   string
		}{
			{"as Bearer", http.Header{"Authorization": {"Bearer " + at}}, "Bearer", "invalid_token"},
			{"without its proof", http.Header{"Authorization": {"DPoP " + at}}, "DPoP", "invalid_dpop_proof"},
			{"proof for another URL", http.Header{"Authorization": {"DPoP " + at}, "DPoP": {key.proof("POST", other.Resource, at, nil)}}, "DPoP", "invalid_dpop_proof"},
			{"replayed proof", http.Header{"Authorization": {"DPoP " + at}, "DPoP": {replayed}}, "DPoP", "invalid_dpop_proof"},
			{"proof for another method", http.Header{"Authorization": {"DPoP " + at}, "DPoP": {key.proof("GET", site.Resource, at, nil)}}, "DPoP", "invalid_dpop_proof"},
			{"proof without ath", http.Header{"Authorization": {"DPoP " + at}, "DPoP": {key.proof("POST", site.Resource, "", nil)}}, "DPoP", "invalid_dpop_proof"},
			{"proof by another key", http.Header{"Authorization": {"DPoP " + at}, "DPoP": {newDPoPKey().proof("POST", site.Resource, at, nil)}}, "DPoP", "invalid_dpop_proof"},
			{"stale proof", http.Header{"Authorization": {"DPoP " + at}, "DPoP": {key.proof("POST", site.Resource, at, func(c map[string]any) { c["iat"] = time.Now().Add(-10 * time.Minute).Unix() })}}, "DPoP", "invalid_dpop_proof"},
		} {
			r := e.mcp(site, tc.hdr)
			chs := strings.Join(r.Header.Values("WWW-Authenticate"), " | ")
			if r.StatusCode != 401 || !strings.Contains(chs, tc.scheme+` `) || !strings.Contains(chs, `error="`+tc.code+`"`) || !strings.Contains(chs, `DPoP algs="`) ||
				!strings.Contains(chs, "resource_metadata=") {
				t.Errorf("%s: %d %s", tc.name, r.StatusCode, chs)
			}
		}
		denials := 0
		for _, ev := range e.audit(tn, tenants.ActMCPDenied) {
			if ev.Reason == tenants.ReasonDPoP {
				denials++
			}
		}
		if denials != 8 {
			t.Errorf("%d mcp.denied dpop events, want 8", denials)
		}
		// The public client's refresh token is bound to the key.
		if r, o := e.refresh(site, client, rt, nil); r.StatusCode != 400 || o["error"] != "invalid_grant" {
			t.Fatalf("refresh without a proof: %d %v", r.StatusCode, o)
		}
		if r, o := e.post(tokenURL, url.Values{"grant_type": {"refresh_token"}, "client_id": {client}, "refresh_token": {rt}},
			http.Header{"DPoP": {newDPoPKey().proof("POST", tokenURL, "", nil)}}); r.StatusCode != 400 || o["error"] != "invalid_grant" {
			t.Fatalf("refresh with another key: %d %v", r.StatusCode, o)
		}
		r, o := e.post(tokenURL, url.Values{"grant_type": {"refresh_token"}, "client_id": {client}, "refresh_token": {rt}},
			http.Header{"DPoP": {key.proof("POST", tokenURL, "", nil)}})
		if r.StatusCode != 200 || o["token_type"] != "DPoP" {
			t.Fatalf("refresh with the key: %d %v", r.StatusCode, o)
		}
		// Token endpoint proofs are checked too.
		for name, p := range map[string]string{
			"for another URL": key.proof("POST", other.Endpoint("token"), "", nil),
			"wrong typ": func() string {
				s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key.k}, (&jose.SignerOptions{EmbedJWK: true}).WithType("JWT"))
				obj, _ := s.Sign([]byte(`{"jti":"x","htm":"POST","htu":"` + tokenURL + `","iat":` + jsonNum(time.Now().Unix()) + `}`))
				c, _ := obj.CompactSerialize()
				return c
			}(),
		} {
			c2, v2 := e.code(site, client, nil)
			f := url.Values{"grant_type": {"authorization_code"}, "client_id": {client}, "code": {c2}, "code_verifier": {v2}, "redirect_uri": {testRedirect}}
			if r, o := e.post(tokenURL, f, http.Header{"DPoP": {p}}); r.StatusCode != 400 || o["error"] != "invalid_dpop_proof" || o["access_token"] != nil {
				t.Errorf("token proof %s: %d %v", name, r.StatusCode, o)
			}
		}
	})
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// dpop_required: the token endpoint issues bound tokens only, the PRM
// says so, and an unbound token is refused at the connector.
func TestDPoPRequired(t *testing.T) {
	e := newEnv(t, testdbSQLite(t), envOpts{})
	plain := e.tenant("plain", nil, nil)
	at, _ := e.tokens(e.pathSite(plain), e.publicClient(e.pathSite(plain), "c")) // a bearer token, issued before the switch
	if _, prm := e.doJSON("GET", e.pathSite(plain).PRMURL(), "", nil); prm["dpop_bound_access_tokens_required"] != nil {
		t.Fatalf("PRM before: %v", prm)
	}
	plain.Settings.DPoPRequired = true
	if err := e.store.UpdateTenant(context.Background(), plain); err != nil {
		t.Fatal(err)
	}
	e.deps.Sites.Invalidate()
	site := e.pathSite(plain)
	if _, prm := e.doJSON("GET", site.PRMURL(), "", nil); prm["dpop_bound_access_tokens_required"] != true || !contains(prm["dpop_signing_alg_values_supported"], "ES256") {
		t.Fatalf("PRM: %v", prm)
	}
	r := e.mcp(site, http.Header{"Authorization": {"Bearer " + at}})
	if chs := strings.Join(r.Header.Values("WWW-Authenticate"), " | "); r.StatusCode != 401 || !strings.Contains(chs, `error="invalid_token"`) || !strings.Contains(chs, "DPoP algs=") {
		t.Fatalf("unbound token: %d %s", r.StatusCode, chs)
	}
	if r := e.mcp(site, nil); !strings.Contains(strings.Join(r.Header.Values("WWW-Authenticate"), " | "), "DPoP algs=") || r.StatusCode != 401 {
		t.Fatalf("no token: %d %v", r.StatusCode, r.Header.Values("WWW-Authenticate"))
	}
	client := e.publicClient(site, "c2")
	code, v := e.code(site, client, nil)
	if r, o := e.exchange(site, client, code, v); r.StatusCode != 400 || o["error"] != "invalid_dpop_proof" {
		t.Fatalf("token without proof: %d %v", r.StatusCode, o)
	}
}
