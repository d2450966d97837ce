package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/egress/egresstest"
)

// Hole 2 (docs/SECURITY.md §2): an OIDC issuer_url naming a loopback
// address is never fetched under the outbound address policy. The issuer
// passes the save-time rules (https, no query), so only the dial-time check
// can stop it: the login answers "try again later" and the loopback trap
// sees no connection. With private fetch allowed (tests) the same login
// does reach it (the control).
func TestSecurity_02_IssuerURLSSRF_LoginNeverDialsALoopbackIssuer(t *testing.T) {
	for _, allow := range []bool{false, true} {
		trap := egresstest.NewTLSTrap(t)
		e := newEnv(t, testdbSQLite(t), envOpts{private: &allow})
		tn := e.tenant("oidc-trap", &tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: "c", ClientSecret: "s", IssuerURL: trap.URL}, nil)
		_, ch := pkce()
		resp := e.authorize(e.browser(), e.pathSite(tn), authzParams(e.preClient(tn), ch))
		page := readPage(t, resp)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "could not be reached") {
			t.Errorf("allowPrivate=%v: %d %.300s", allow, resp.StatusCode, page)
		}
		trap.DialedIf(t, allow) // the trap's TLS certificate is not trusted, but it is dialed
	}
}

// Hole 2: an issuer_url with a query picks another path on the issuer's
// server (discovery appends /.well-known/openid-configuration). A row that
// holds one (written before the rule, or by hand) is refused before use,
// whatever the address policy allows.
func TestSecurity_02_IssuerURLSSRF_QueryIssuerRefusedBeforeUse(t *testing.T) {
	trap := egresstest.NewTrap(t)
	e := newEnv(t, testdbSQLite(t), envOpts{}) // private fetch allowed: only the issuer rule can stop it
	tn := e.tenant("oidc-query", &tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: "c", ClientSecret: "s", IssuerURL: "https://idp.example"}, nil)
	cfg, err := e.store.GetIdP(context.Background(), tn.ID, tenants.IdPOIDC)
	if err != nil {
		t.Fatal(err)
	}
	client := e.preClient(tn)
	for _, bad := range []string{trap.URL + "/internal/admin?x=", trap.URL + "/#frag", strings.Replace(trap.URL, "http://", "http://user:pw@", 1)} {
		cfg.IssuerURL = bad
		if err := e.store.PutIdP(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		_, ch := pkce()
		resp := e.authorize(e.browser(), e.pathSite(tn), authzParams(client, ch))
		page := readPage(t, resp)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: %d %.300s", bad, resp.StatusCode, page)
		}
	}
	trap.Untouched(t)
}

// Hole 2: OIDC discovery never follows a redirect — not to another host,
// not at all (the document must be served by the issuer itself). Private
// fetch is allowed here so that only the redirect rule is tested.
func TestSecurity_02_IssuerURLSSRF_DiscoveryRedirectNotFollowed(t *testing.T) {
	trap := egresstest.NewTrap(t)
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, trap.URL+"/latest/meta-data/", http.StatusFound)
	}))
	defer issuer.Close()
	e := newEnv(t, testdbSQLite(t), envOpts{})
	tn := e.tenant("oidc-redirect", &tenants.IdPInput{Type: tenants.IdPOIDC, ClientID: "c", ClientSecret: "s", IssuerURL: issuer.URL}, nil)
	_, ch := pkce()
	resp := e.authorize(e.browser(), e.pathSite(tn), authzParams(e.preClient(tn), ch))
	page := readPage(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%d %.300s", resp.StatusCode, page)
	}
	trap.Untouched(t)
}

// Hole 3 (docs/SECURITY.md §3): a client ID metadata document is never
// fetched through a redirect. An open redirect on an allowed host
// (cimd_allowed_hosts) must not let a document served elsewhere — here the
// loopback trap, which would serve whatever an attacker likes — stand for a
// client under the allowed host's name. Any non-200 or non-JSON answer is
// an invalid_client error that says why; a well-formed document still
// works (private fetch allowed, as in every test here).
func TestSecurity_03_CIMDNoRedirects(t *testing.T) {
	trap := egresstest.NewTLSTrap(t)
	var docs *httptest.Server
	docs = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := docs.URL + r.URL.Path
		switch r.URL.Path {
		case "/open-redirect":
			http.Redirect(w, r, trap.URL+"/evil.json", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, docs.URL+"/ok.json", http.StatusMovedPermanently) // even on the same host
		case "/html.json":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`{"client_id":"` + id + `","redirect_uris":["` + testRedirect + `"]}`))
		case "/accepted.json":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"client_id":"` + id + `","redirect_uris":["` + testRedirect + `"]}`))
		default:
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write([]byte(`{"client_id":"` + id + `","client_name":"Fine","redirect_uris":["` + testRedirect + `"],"token_endpoint_auth_method":"none"}`))
		}
	}))
	defer docs.Close()
	e := newEnv(t, testdbSQLite(t), envOpts{cimdTrust: docs})
	site := e.pathSite(e.tenant("cimd-redirect", nil, &tenants.Settings{CIMDAllowedHosts: []string{"127.0.0.1"}}))
	for path, want := range map[string]string{
		"/open-redirect": "HTTP 302 (a redirect); redirects are not followed",
		"/moved":         "HTTP 301 (a redirect); redirects are not followed",
		"/html.json":     `Content-Type &#34;text/html&#34;, not application/json`,
		"/accepted.json": "HTTP 202, not 200",
	} {
		_, ch := pkce()
		resp := e.authorize(e.browser(), site, authzParams(docs.URL+path, ch))
		page := readPage(t, resp)
		if resp.StatusCode < 400 || resp.Header.Get("Location") != "" || !strings.Contains(page, "invalid_client") || !strings.Contains(page, want) {
			i := strings.Index(page, "<main")
			t.Errorf("%s: %d, want an invalid_client page saying %q: %.900s", path, resp.StatusCode, want, page[max(i, 0):])
		}
	}
	trap.Untouched(t)
	if code, _ := e.code(site, docs.URL+"/ok.json", nil); code == "" {
		t.Error("a document served with 200 application/json was not accepted")
	}
}
