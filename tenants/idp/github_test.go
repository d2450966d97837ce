package idp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/tenants/idp/idptest"
)

const redirect = idp.TestRedirect

func newFake(t *testing.T) *idptest.GitHub {
	g := idptest.NewGitHub()
	t.Cleanup(g.Close)
	return g
}

func ghConfig(g *idptest.GitHub, mod func(*tenants.IdPConfig)) idp.Config {
	c := idp.Config{
		IdP:          &tenants.IdPConfig{TenantID: "t1", Type: tenants.IdPGitHub, ClientID: g.ClientID},
		ClientSecret: g.ClientSecret, RedirectURL: redirect,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, Endpoints: g.Endpoints(),
	}
	if mod != nil {
		mod(c.IdP)
	}
	return c
}

func newGH(t *testing.T, g *idptest.GitHub, mod func(*tenants.IdPConfig)) idp.Provider {
	t.Helper()
	p, err := idp.New(context.Background(), ghConfig(g, mod))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func login(t *testing.T, p idp.Provider) (*idp.Identity, *idp.Token, error) {
	t.Helper()
	state, verifier := tenants.RandomToken(), oauth2.GenerateVerifier()
	cb := idp.Browse(t, p.AuthCodeURL(state, "", verifier))
	if cb.Get("state") != state {
		t.Fatalf("state %q, want %q", cb.Get("state"), state)
	}
	return p.Exchange(context.Background(), cb.Get("code"), "", verifier)
}

func wantReason(t *testing.T, err error, reason string) *idp.LoginError {
	t.Helper()
	var le *idp.LoginError
	if !errors.As(err, &le) || le.Reason != reason {
		t.Fatalf("error %v, want LoginError %s", err, reason)
	}
	return le
}

func TestGitHubLoginFlow(t *testing.T) {
	g := newFake(t)
	p := newGH(t, g, nil)
	if p.Type() != "github" {
		t.Fatalf("type %q", p.Type())
	}
	verifier := oauth2.GenerateVerifier()
	au, _ := url.Parse(p.AuthCodeURL("st", "ignored-nonce", verifier))
	q := au.Query()
	if au.Path != "/login/oauth/authorize" || q.Get("client_id") != g.ClientID || q.Get("redirect_uri") != redirect ||
		q.Get("scope") != "read:user user:email" || q.Get("state") != "st" {
		t.Fatalf("authorize URL %s", au)
	}
	// RFC 7636: S256 to GitHub too.
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") != oauth2.S256ChallengeFromVerifier(verifier) {
		t.Fatalf("no PKCE: %v", q)
	}
	id, tok, err := login(t, p)
	if err != nil {
		t.Fatal(err)
	}
	// Subject is the numeric user id (logins can be renamed).
	if id.Subject != "583231" || id.Username != "octocat" || id.Name != "The Octocat" ||
		id.Email != "octocat@github.com" || !id.EmailVerified || id.Orgs != nil || id.Issuer != tenants.GitHubIssuer {
		t.Fatalf("identity %+v", id)
	}
	if !strings.HasPrefix(tok.AccessToken, "gho_") || tok.RefreshToken != "" || !tok.Expiry.IsZero() {
		t.Fatalf("token %+v", tok)
	}
	if g.Calls("/user/orgs") != 0 {
		t.Fatal("orgs read without allowed_orgs")
	}
	// OAuth-app tokens do not expire: Refresh returns them unchanged and
	// does not call GitHub.
	before := g.Calls("/login/oauth/access_token")
	nt, err := p.Refresh(context.Background(), tok)
	if err != nil || *nt != *tok {
		t.Fatalf("refresh: %+v %v", nt, err)
	}
	if g.Calls("/login/oauth/access_token") != before {
		t.Fatal("refresh called GitHub for a non-expiring token")
	}
}

func ptr(s string) *string { return &s }

func TestGitHubVerifiedEmailChoice(t *testing.T) {
	g := newFake(t)
	user := func(emails ...idptest.GitHubEmail) {
		g.SetUser(&idptest.GitHubUser{ID: 42, Login: "ann", Emails: emails})
	}
	cases := []struct {
		name    string
		domains []string
		emails  []idptest.GitHubEmail
		want    string
		reason  string
	}{
		{name: "verified primary wins", emails: []idptest.GitHubEmail{
			{Email: "other@b.com", Verified: true}, {Email: "main@a.com", Primary: true, Verified: true, Visibility: ptr("public")}},
			want: "main@a.com"},
		{name: "unverified primary is skipped", emails: []idptest.GitHubEmail{
			{Email: "main@a.com", Primary: true}, {Email: "other@b.com", Verified: true}},
			want: "other@b.com"},
		{name: "no verified email, no restriction: no email", emails: []idptest.GitHubEmail{
			{Email: "main@a.com", Primary: true}},
			want: ""},
		{name: "allowed domain preferred over primary", domains: []string{"Corp.com"}, emails: []idptest.GitHubEmail{
			{Email: "me@gmail.com", Primary: true, Verified: true}, {Email: "me@corp.com", Verified: true}},
			want: "me@corp.com"},
		{name: "unverified in allowed domain refused", domains: []string{"corp.com"}, emails: []idptest.GitHubEmail{
			{Email: "me@corp.com", Primary: true}},
			reason: idp.ReasonEmailUnverified},
		{name: "verified elsewhere only refused", domains: []string{"corp.com"}, emails: []idptest.GitHubEmail{
			{Email: "me@gmail.com", Primary: true, Verified: true}, {Email: "me@corp.com"}},
			reason: idp.ReasonDomainNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			user(c.emails...)
			p := newGH(t, g, func(cfg *tenants.IdPConfig) { cfg.AllowedDomains = c.domains })
			id, _, err := login(t, p)
			if c.reason != "" {
				wantReason(t, err, c.reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Email != c.want || id.EmailVerified != (c.want != "") {
				t.Fatalf("email %q verified=%v, want %q", id.Email, id.EmailVerified, c.want)
			}
		})
	}
}

func TestGitHubOrgAllowList(t *testing.T) {
	g := newFake(t)
	member := &idptest.GitHubUser{ID: 7, Login: "dev", Emails: []idptest.GitHubEmail{{Email: "dev@x.io", Primary: true, Verified: true}},
		Orgs: []idptest.GitHubOrg{{Login: "a", Public: true}, {Login: "b"}, {Login: "c"}, {Login: "Acme"}}}
	withOrgs := func(cfg *tenants.IdPConfig) {
		cfg.AllowedOrgs = []string{"acme"}
		cfg.Scopes = []string{"read:user"} // read:org and user:email are still requested
	}
	p := newGH(t, g, withOrgs)
	scope := idp.MustQuery(t, p.AuthCodeURL("s", "", "v")).Get("scope")
	if scope != "read:user user:email read:org" {
		t.Fatalf("scope %q: read:org must be requested (private memberships are hidden without it)", scope)
	}
	// Membership is private and on the 4th page: found through paging.
	g.SetUser(member)
	g.SetPerPage(1)
	id, _, err := login(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(id.Orgs, ",") != "a,b,c,Acme" {
		t.Fatalf("orgs %v", id.Orgs)
	}
	// Not a member: refused.
	g.SetUser(&idptest.GitHubUser{ID: 8, Login: "outsider", Emails: member.Emails, Orgs: []idptest.GitHubOrg{{Login: "other", Public: true}}})
	_, _, err = login(t, p)
	wantReason(t, err, idp.ReasonOrgNotAllowed)
}

// GitHub answers token errors with HTTP 200 and an error field; each must
// surface as a LoginError without the code in its text.
func TestGitHubTokenExchangeErrors(t *testing.T) {
	g := newFake(t)
	p := newGH(t, g, nil)

	verifier := oauth2.GenerateVerifier()
	cb := idp.Browse(t, p.AuthCodeURL("s", "", verifier))
	code := cb.Get("code")
	_, _, err := p.Exchange(context.Background(), code, "", oauth2.GenerateVerifier())
	le := wantReason(t, err, idp.ReasonUpstreamError)
	if !strings.Contains(le.Error(), "bad_verification_code") || strings.Contains(le.Error(), code) {
		t.Fatalf("wrong verifier: %q", le.Error())
	}
	// The code was burnt by that attempt.
	_, _, err = p.Exchange(context.Background(), code, "", verifier)
	wantReason(t, err, idp.ReasonUpstreamError)

	bad := ghConfig(g, nil)
	bad.ClientSecret = "wrong"
	pb, err := idp.New(context.Background(), bad)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = login(t, pb)
	le = wantReason(t, err, idp.ReasonUpstreamError)
	if !strings.Contains(le.Error(), "incorrect_client_credentials") {
		t.Fatalf("bad secret: %q", le.Error())
	}
}

// GitHub App user tokens expire (8 h) and come with a rotating refresh token.
func TestGitHubAppTokenRefresh(t *testing.T) {
	g := newFake(t)
	g.SetExpiringTokens(true)
	p := newGH(t, g, nil)
	_, tok, err := login(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v", tok)
	}
	// A wrong IdP client secret is the operator's mistake, not a dead
	// refresh token: a transient error, and the token still works after.
	bad := ghConfig(g, nil)
	bad.ClientSecret = "rotated-elsewhere"
	pb, err := idp.New(context.Background(), bad)
	if err != nil {
		t.Fatal(err)
	}
	var le *idp.LoginError
	if _, err := pb.Refresh(context.Background(), tok); err == nil || errors.As(err, &le) || strings.Contains(err.Error(), tok.RefreshToken) {
		t.Fatalf("refresh with a wrong client secret: %v", err)
	}
	nt, err := p.Refresh(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if nt.AccessToken == tok.AccessToken || nt.RefreshToken == tok.RefreshToken || nt.RefreshToken == "" || nt.Expiry.IsZero() {
		t.Fatalf("refreshed %+v from %+v", nt, tok)
	}
	// The old refresh token was rotated away: permanent failure, not retried.
	_, err = p.Refresh(context.Background(), tok)
	le = wantReason(t, err, idp.ReasonRefreshRejected)
	if strings.Contains(le.Error(), tok.RefreshToken) {
		t.Fatal("error carries the refresh token")
	}
	// An expiring token without a refresh token cannot be renewed.
	if _, err := p.Refresh(context.Background(), &idp.Token{AccessToken: "x", Expiry: time.Now().Add(time.Hour)}); !errors.Is(err, idp.ErrNoRefreshToken) {
		t.Fatalf("got %v", err)
	}
}

// The fake speaks both of GitHub's token answer formats.
func TestFakeGitHubTokenFormats(t *testing.T) {
	g := newFake(t)
	for _, accept := range []string{"", "application/json"} {
		verifier := oauth2.GenerateVerifier()
		p := newGH(t, g, nil)
		code := idp.Browse(t, p.AuthCodeURL("s", "", verifier)).Get("code")
		form := url.Values{"client_id": {g.ClientID}, "client_secret": {g.ClientSecret}, "code": {code}, "code_verifier": {verifier}}
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/login/oauth/access_token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if accept == "" {
			v, err := url.ParseQuery(string(body))
			if err != nil || !strings.HasPrefix(v.Get("access_token"), "gho_") || v.Get("token_type") != "bearer" {
				t.Fatalf("form answer %q", body)
			}
		} else {
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil || !strings.HasPrefix(v["access_token"].(string), "gho_") {
				t.Fatalf("json answer %q", body)
			}
		}
	}
}

// A denied authorization comes back to the callback as error=access_denied
// with the state (handled by the authorization server's callback).
func TestFakeGitHubAccessDenied(t *testing.T) {
	g := newFake(t)
	p := newGH(t, g, nil)
	g.SetDeny(true)
	cb := idp.Browse(t, p.AuthCodeURL("st", "", oauth2.GenerateVerifier()))
	if cb.Get("error") != "access_denied" || cb.Get("state") != "st" || cb.Has("code") {
		t.Fatalf("callback %v", cb)
	}
}

// docs/SECURITY.md §11: someone removed from the GitHub org loses access at
// the next refresh of their (GitHub App) token: membership is read again
// with the renewed token, and the refusal is permanent.
func TestSecurity_11_GitHubOrgRecheckedAtRefresh(t *testing.T) {
	g := newFake(t)
	g.SetExpiringTokens(true)
	g.SetUser(&idptest.GitHubUser{ID: 7, Login: "mona", Name: "Mona",
		Emails: []idptest.GitHubEmail{{Email: "mona@acme.example", Primary: true, Verified: true}},
		Orgs:   []idptest.GitHubOrg{{Login: "acme"}}})
	p := newGH(t, g, func(c *tenants.IdPConfig) { c.AllowedOrgs = []string{"acme"} })
	id, tok, err := login(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Orgs) != 1 || id.Orgs[0] != "acme" {
		t.Fatalf("orgs at login: %v", id.Orgs)
	}
	tok, err = p.Refresh(context.Background(), tok)
	if err != nil {
		t.Fatalf("refresh of a member: %v", err)
	}
	before := g.Calls("/user/orgs")
	g.SetOrgs(7, nil) // the org removed mona
	_, err = p.Refresh(context.Background(), tok)
	wantReason(t, err, idp.ReasonOrgNotAllowed)
	if g.Calls("/user/orgs") != before+1 {
		t.Fatal("membership was not read again at refresh")
	}
}
