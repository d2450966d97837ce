// Package testidp is a small enterprise identity provider for tests (never
// linked into the binary): OpenID Connect sign-in (authorization code with
// PKCE, auto-login as a configured user) and RFC 8693 token exchange that
// issues Identity Assertion JWT Authorization Grants (ID-JAGs,
// draft-ietf-oauth-identity-assertion-authz-grant §4.3), as Okta or Entra
// do for MCP Enterprise-Managed Authorization. It also mints arbitrary
// ID-JAGs for hostile tests. Serve it over TLS (httptest.NewTLSServer or
// the e2e harness's TLS fake); the issuer is the URL it is served at.
// StartOIDC runs mockoidc instead, the generic OpenID Connect provider of a
// tenant's sign-in.
package testidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Token types and grant types of RFC 8693 and the ID-JAG draft.
const (
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeIDJAG     = "urn:ietf:params:oauth:token-type:id-jag"
)

// User is who signs in.
type User struct {
	Subject string
	Email   string
}

// IdP is the test identity provider. Set Issuer before serving.
type IdP struct {
	Issuer string
	// Key signs id_tokens and ID-JAGs (ES256, published at /jwks).
	Key *ecdsa.PrivateKey
	KID string
	// Clients are the IdP's own clients: id → secret ("" for public).
	Clients map[string]string
	// ClientMap maps an IdP client to its client id at the resource
	// authorization server (draft §5); absent means the same id.
	ClientMap map[string]string
	// User signs in at /authorize without a form.
	User User
	// Lifetime of issued ID-JAGs (default 5 minutes).
	Lifetime time.Duration

	mu    sync.Mutex
	codes map[string]codeEntry
	// Exchanges counts token exchanges (ID-JAGs issued).
	Exchanges int
}

type codeEntry struct {
	client, redirect, challenge string
}

// New returns an IdP with a fresh ES256 key, one public client
// ("mcp-client") and user alice.
func New() *IdP {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &IdP{Key: k, KID: "idp-key-1", Clients: map[string]string{"mcp-client": ""}, ClientMap: map[string]string{},
		User: User{Subject: "00u-alice", Email: "alice@acme.example"}, codes: map[string]codeEntry{}}
}

// JWKS is the public key set.
func (i *IdP) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &i.Key.PublicKey, KeyID: i.KID, Algorithm: "ES256", Use: "sig"}}}
}

// Sign signs claims with header fields extra (typ, alg overrides are the
// caller's: alg "none" or "HS256" build the hostile forms by hand).
func (i *IdP) Sign(typ string, claims map[string]any) string {
	return SignWith(i.Key, jose.ES256, i.KID, typ, claims)
}

// SignWith signs claims with key (any crypto.Signer go-jose accepts).
func SignWith(key crypto.Signer, alg jose.SignatureAlgorithm, kid, typ string, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	return sign(jose.SigningKey{Algorithm: alg, Key: key}, opts, claims)
}

// sign is the JWS compact serialization of claims; a test fixture, so a
// key go-jose refuses panics.
func sign(key jose.SigningKey, opts *jose.SignerOptions, claims map[string]any) string {
	sig, err := jose.NewSigner(key, opts)
	if err != nil {
		panic(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := sig.Sign(payload)
	if err != nil {
		panic(err)
	}
	s, _ := obj.CompactSerialize()
	return s
}

// IDJAG returns the claims of a valid ID-JAG for audience, resource and
// the resource server's client id; callers change them for hostile cases.
func (i *IdP) IDJAG(audience, resource, clientID, scope string) map[string]any {
	now := time.Now()
	life := i.Lifetime
	if life == 0 {
		life = 5 * time.Minute
	}
	c := map[string]any{"iss": i.Issuer, "sub": i.User.Subject, "email": i.User.Email, "aud": audience, "client_id": clientID,
		"jti": rand.Text(), "iat": now.Unix(), "exp": now.Add(life).Unix()}
	if resource != "" {
		c["resource"] = resource
	}
	if scope != "" {
		c["scope"] = scope
	}
	return c
}

// ServeHTTP serves discovery, JWKS, authorize and token.
func (i *IdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server":
		writeJSON(w, 200, map[string]any{"issuer": i.Issuer, "authorization_endpoint": i.Issuer + "/authorize",
			"token_endpoint": i.Issuer + "/token", "jwks_uri": i.Issuer + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"ES256"},
			"grant_types_supported": []string{"authorization_code", GrantTokenExchange}, "code_challenge_methods_supported": []string{"S256"}})
	case "/jwks":
		writeJSON(w, 200, i.JWKS())
	case "/authorize":
		i.authorize(w, r)
	case "/token":
		i.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (i *IdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if _, ok := i.Clients[q.Get("client_id")]; !ok || q.Get("code_challenge_method") != "S256" || !strings.Contains(q.Get("scope"), "openid") {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	i.mu.Lock()
	i.codes[code] = codeEntry{client: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
	i.mu.Unlock()
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
}

func (i *IdP) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	client, secret, ok := r.BasicAuth()
	if !ok {
		client, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	want, known := i.Clients[client]
	if !known || want != secret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		i.mu.Lock()
		c, ok := i.codes[r.PostForm.Get("code")]
		delete(i.codes, r.PostForm.Get("code"))
		i.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || c.client != client || c.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
			return
		}
		now := time.Now()
		idt := i.Sign("JWT", map[string]any{"iss": i.Issuer, "sub": i.User.Subject, "email": i.User.Email, "aud": client,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		writeJSON(w, 200, map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 3600, "id_token": idt, "scope": "openid email"})
	case GrantTokenExchange:
		i.exchange(w, r, client)
	default:
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
	}
}

// exchange is RFC 8693 with requested_token_type id-jag (draft §4.3): the
// subject token must be an id_token this IdP issued to the same client.
func (i *IdP) exchange(w http.ResponseWriter, r *http.Request, client string) {
	f := r.PostForm
	if f.Get("requested_token_type") != TokenTypeIDJAG || f.Get("subject_token_type") != TokenTypeIDToken || f.Get("audience") == "" {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	jws, err := jose.ParseSigned(f.Get("subject_token"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
		return
	}
	payload, err := jws.Verify(&i.Key.PublicKey)
	var idt map[string]any
	if err != nil || json.Unmarshal(payload, &idt) != nil || idt["aud"] != client {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
		return
	}
	ras := client
	if m, ok := i.ClientMap[client]; ok {
		ras = m
	}
	claims := i.IDJAG(f.Get("audience"), f.Get("resource"), ras, f.Get("scope"))
	claims["sub"] = idt["sub"]
	i.mu.Lock()
	i.Exchanges++
	i.mu.Unlock()
	out := map[string]any{"access_token": i.Sign("oauth-id-jag+jwt", claims), "issued_token_type": TokenTypeIDJAG, "token_type": "N_A", "expires_in": 300}
	if s := f.Get("scope"); s != "" {
		out["scope"] = s
	}
	writeJSON(w, 200, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// DPoPProof is a DPoP proof (RFC 9449 §4.2) by key for method and htu,
// with ath when token is set; change edits the claims (hostile cases).
func DPoPProof(key *ecdsa.PrivateKey, method, htu, token string, change func(map[string]any)) string {
	c := map[string]any{"jti": rand.Text(), "htm": method, "htu": htu, "iat": time.Now().Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if change != nil {
		change(c)
	}
	return sign(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), c)
}
