package idp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/egress"
	"github.com/gatehouse/gatehouse/tenants/egress/egresstest"
)

// discoveryServer serves an OIDC discovery document naming the given
// endpoints for issuer (its own URL when empty), and answers token calls
// at /token with a redirect to redirectTo when set.
func discoveryServer(t *testing.T, tlsOn bool, doc func(self string) map[string]any, redirectTo string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			http.Redirect(w, r, redirectTo, http.StatusTemporaryRedirect)
		default:
			if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(doc(srv.URL))
				return
			}
			http.NotFound(w, r)
		}
	})
	if tlsOn {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

// Hole 2 (docs/SECURITY.md §2): the endpoints a discovery document names
// (token, userinfo, JWKS) pass the same outbound address policy as the
// issuer: a public issuer naming loopback or metadata endpoints gets no
// connection to them. The issuer is a public name (example.com → 8.8.8.8
// through the dialer's Lookup seam) whose connection the Connect seam
// carries to the loopback fake; nothing is ever sent to a non-loopback
// address, and any other address the policy let through would be dialed
// for real only if loopback — the trap would then see it.
func TestSecurity_02_IssuerURLSSRF_DiscoveredEndpointsPassThePolicy(t *testing.T) {
	trap := egresstest.NewTLSTrap(t)
	issuer := "https://example.com/t-" + tenants.RandomID()[:8]
	fake := discoveryServer(t, true, func(string) map[string]any {
		return map[string]any{"issuer": issuer, "authorization_endpoint": issuer + "/auth",
			"token_endpoint": trap.URL + "/token", "userinfo_endpoint": trap.URL + "/userinfo",
			"jwks_uri": "https://169.254.169.254/latest/meta-data/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}}
	}, "")
	fakeAddr := fake.Listener.Addr().String()
	pool := x509.NewCertPool()
	pool.AddCert(fake.Certificate())
	tlsCfg := fake.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tlsCfg.RootCAs = pool
	dials := &egresstest.Dials{Route: map[string]string{"8.8.8.8:443": fakeAddr}}
	hc := egress.NewClient(egress.Options{
		HTTPSOnly: true, TLSConfig: tlsCfg, // the strict policy, as idp.NewHTTPClient(false)
		Lookup: func(_ context.Context, _, host string) ([]netip.Addr, error) {
			if host == "example.com" {
				return []netip.Addr{netip.MustParseAddr("8.8.8.8")}, nil
			}
			return nil, errors.New("test: unknown host " + host)
		},
		Connect: dials.Connect,
	})
	prov, err := New(context.Background(), Config{IdP: &tenants.IdPConfig{Type: tenants.IdPOIDC, ClientID: "c", IssuerURL: issuer},
		ClientSecret: "s", RedirectURL: testRedirect, HTTPClient: hc})
	if err != nil {
		t.Fatalf("discovery of the public issuer: %v", err)
	}
	if _, _, err := prov.Exchange(context.Background(), "code", "nonce", "verifier"); !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Errorf("token endpoint on loopback: %v", err)
	}
	if _, err := prov.Refresh(context.Background(), &Token{RefreshToken: "r"}); !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Errorf("refresh at a token endpoint on loopback: %v", err)
	}
	// An id_token that passes every check but its signature makes
	// go-oidc fetch the JWKS, named at the metadata address.
	o := prov.(*oidcProvider)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": issuer, "aud": "c", "sub": "s",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()})
	tok.Header["kid"] = "k1"
	raw, _ := tok.SignedString(key)
	if _, err := o.verifier.Verify(context.Background(), raw); err == nil {
		t.Error("an id_token was verified with keys from a metadata address")
	}
	if _, err := o.p.UserInfo(clientContext(context.Background(), hc), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "at"})); !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Errorf("userinfo on loopback: %v", err)
	}
	trap.Untouched(t)
	if got := dials.Attempts(); len(got) != 0 {
		t.Errorf("connections attempted to %v", got)
	}
}

// Hole 2: the IdP client follows no redirect to another host: a token
// endpoint that redirects to the loopback trap is not followed, even with
// private fetch allowed (tests), where the policy would let the trap be
// dialed. The normal flow of the same client is tested by the mockoidc
// tests (TestUpstreamOIDCLogin in api/oauth uses idp.NewHTTPClient(true)).
func TestSecurity_02_IssuerURLSSRF_NoRedirectToAnotherHost(t *testing.T) {
	trap := egresstest.NewTrap(t)
	var issuer string
	fake := discoveryServer(t, false, func(self string) map[string]any {
		return map[string]any{"issuer": self, "authorization_endpoint": self + "/auth", "token_endpoint": self + "/token",
			"jwks_uri": self + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}}
	}, trap.URL+"/token")
	issuer = fake.URL
	prov, err := New(context.Background(), Config{IdP: &tenants.IdPConfig{Type: tenants.IdPOIDC, ClientID: "c", IssuerURL: issuer},
		ClientSecret: "s", RedirectURL: testRedirect, HTTPClient: NewHTTPClient(true)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := prov.Exchange(context.Background(), "code", "nonce", "verifier"); !errors.Is(err, egress.ErrRedirectRefused) {
		t.Errorf("token endpoint redirecting to another host: %v", err)
	}
	if _, err := prov.Refresh(context.Background(), &Token{RefreshToken: "r"}); !errors.Is(err, egress.ErrRedirectRefused) {
		t.Errorf("refresh redirecting to another host: %v", err)
	}
	trap.Untouched(t)
}
