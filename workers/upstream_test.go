package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/tenants/idp/idptest"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// loginGitHub signs octocat in at the fake GitHub (a real OAuth 2.0 server
// speaking to golang.org/x/oauth2) and returns the upstream token.
func loginGitHub(t *testing.T, g *idptest.GitHub, cfg *tenants.IdPConfig) *idp.Token {
	t.Helper()
	p, err := idp.New(ctx, idp.Config{IdP: cfg, ClientSecret: g.ClientSecret, RedirectURL: "http://127.0.0.1:9/oauth/callback",
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, Endpoints: g.Endpoints()})
	must(t, err)
	state, verifier := tenants.RandomToken(), oauth2.GenerateVerifier()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(p.AuthCodeURL(state, "", verifier))
	must(t, err)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	must(t, err)
	_, tok, err := p.Exchange(ctx, loc.Query().Get("code"), "", verifier)
	must(t, err)
	if tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("fake GitHub issued no expiring token: %+v", tok)
	}
	return tok
}

type upstreamEnv struct {
	*env
	tn  *tenants.Tenant
	gh  *idptest.GitHub
	cfg *tenants.IdPConfig
}

func newUpstreamEnv(t *testing.T, s tenants.Store) *upstreamEnv {
	return newUpstreamEnvWith(t, s, startMiniredis(t), nil)
}

func newUpstreamEnvWith(t *testing.T, s tenants.Store, redisOpt asynq.RedisClientOpt, mod func(*Options)) *upstreamEnv {
	gh := idptest.NewGitHub()
	t.Cleanup(gh.Close)
	gh.SetExpiringTokens(true)
	u := &upstreamEnv{gh: gh}
	u.env = newEnv(t, s, redisOpt, mod)
	u.rt.refresh = &IdPRefresher{Store: s, Sealer: u.sealer, HTTPClient: &http.Client{Timeout: 10 * time.Second}, Endpoints: gh.Endpoints()}
	u.tn = newTenant(t, s, "up")
	sealed, err := u.sealer.Seal(gh.ClientSecret, tenants.IdPSecretContext(u.tn.ID, tenants.IdPGitHub))
	must(t, err)
	u.cfg = &tenants.IdPConfig{TenantID: u.tn.ID, Type: tenants.IdPGitHub, ClientID: gh.ClientID, ClientSecretSealed: sealed}
	must(t, s.PutIdP(ctx, u.cfg))
	return u
}

// grant stores a live grant holding tok, sealed the way the authorization
// server seals it, with the upstream expiry set to exp.
func (u *upstreamEnv) grant(t *testing.T, id string, tok *idp.Token, exp time.Time) {
	t.Helper()
	raw, _ := json.Marshal(tok)
	sealed, err := u.sealer.Seal(string(raw), tenants.UpstreamTokenContext(u.tn.ID, id))
	must(t, err)
	now := time.Now().UTC()
	must(t, u.store.CreateGrant(ctx, &tenants.Grant{TenantID: u.tn.ID, ID: id, ClientID: "c", Subject: "octocat", CreatedAt: now,
		ExpiresAt: now.Add(24 * time.Hour), UpstreamIdP: tenants.IdPGitHub, UpstreamTokenSealed: sealed, UpstreamTokenExpiry: &exp}))
}

func (u *upstreamEnv) token(t *testing.T, id string) (*tenants.Grant, *idp.Token) {
	t.Helper()
	g, err := u.store.GetGrant(ctx, u.tn.ID, id)
	must(t, err)
	raw, err := u.sealer.Open(g.UpstreamTokenSealed, tenants.UpstreamTokenContext(u.tn.ID, id))
	must(t, err)
	var tok idp.Token
	must(t, json.Unmarshal([]byte(raw), &tok))
	return g, &tok
}

// docs/RULES.md §7: upstream IdP tokens are refreshed before they expire; the new
// token replaces the sealed one; a refresh the IdP refuses marks the grant.
func TestUpstreamRefreshUpdatesSealedToken(t *testing.T) {
	for _, sb := range testdb.Backends() {
		t.Run(sb.Name, func(t *testing.T) {
			t.Parallel()
			u := newUpstreamEnv(t, testdb.Open(t, sb.DSN(t)))
			first := loginGitHub(t, u.gh, u.cfg)
			soon := time.Now().UTC().Add(3 * time.Minute) // within the 10 min window
			u.grant(t, "due", first, soon)
			notDue := loginGitHub(t, u.gh, u.cfg)
			u.grant(t, "not-due", notDue, time.Now().UTC().Add(time.Hour))
			before, _ := u.store.GetGrant(ctx, u.tn.ID, "not-due")

			must(t, u.rt.refreshUpstream(ctx))

			g, tok := u.token(t, "due")
			if tok.AccessToken == first.AccessToken || tok.RefreshToken == first.RefreshToken || tok.RefreshToken == "" {
				t.Fatal("sealed upstream token not replaced by the refreshed one")
			}
			if g.UpstreamTokenExpiry == nil || !g.UpstreamTokenExpiry.After(soon.Add(time.Hour)) || g.UpstreamRefreshError != "" {
				t.Fatalf("grant after refresh: expiry %v error %q", g.UpstreamTokenExpiry, g.UpstreamRefreshError)
			}
			// The refreshed access token works at the IdP.
			req, _ := http.NewRequest(http.MethodGet, u.gh.Endpoints().APIURL+"/user", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("refreshed upstream token refused by the IdP: HTTP %d", resp.StatusCode)
			}
			if after, _ := u.store.GetGrant(ctx, u.tn.ID, "not-due"); after.UpstreamTokenSealed != before.UpstreamTokenSealed {
				t.Fatal("token not yet due was refreshed")
			}

			// The first refresh token was rotated away by the IdP: a grant
			// still holding it is refused for good, and revoked
			// (docs/SECURITY.md §11).
			u.grant(t, "stale", first, time.Now().UTC().Add(time.Minute))
			must(t, u.rt.refreshUpstream(ctx))
			g, _ = u.token(t, "stale")
			if g.RevokedAt == nil || g.RevokedReason != tenants.RevokedUpstreamRefused {
				t.Fatalf("refused upstream refresh must revoke the grant: %v %q", g.RevokedAt, g.RevokedReason)
			}
			// A revoked grant is not retried every period.
			due, err := u.store.ListUpstreamRefreshDue(ctx, time.Now().Add(time.Hour), time.Now(), 10)
			must(t, err)
			for _, d := range due {
				if d.ID == "stale" {
					t.Fatal("marked grant still listed as due")
				}
			}
		})
	}
}

// A transient failure (IdP unreachable) is retried next period while the
// token is still valid, and recorded once it has expired.
func TestUpstreamRefreshTransientFailure(t *testing.T) {
	u := newUpstreamEnv(t, testdb.Open(t, testdb.Backends()[0].DSN(t)))
	tok := loginGitHub(t, u.gh, u.cfg)
	u.grant(t, "valid", tok, time.Now().UTC().Add(2*time.Minute))
	u.grant(t, "expired", tok, time.Now().UTC().Add(-time.Minute))
	u.gh.Close() // the IdP is down
	must(t, u.rt.refreshUpstream(ctx))
	if g, _ := u.token(t, "valid"); g.UpstreamRefreshError != "" {
		t.Fatalf("transient failure on a still-valid token must not mark the grant: %q", g.UpstreamRefreshError)
	}
	if g, _ := u.token(t, "expired"); g.UpstreamRefreshError == "" {
		t.Fatal("failure on an expired token must mark the grant")
	}
}

// The refresher is an interface: a fake failing with idp.ErrNoRefreshToken
// marks the grant (no refresh token will ever come).
type refresherFunc func(ctx context.Context, t *tenants.Tenant, typ string, tok *idp.Token) (*idp.Token, error)

func (f refresherFunc) Refresh(ctx context.Context, t *tenants.Tenant, typ string, tok *idp.Token) (*idp.Token, error) {
	return f(ctx, t, typ, tok)
}

func TestUpstreamRefreshWithoutRefreshTokenMarksGrant(t *testing.T) {
	u := newUpstreamEnv(t, testdb.Open(t, testdb.Backends()[0].DSN(t)))
	calls := 0
	u.rt.refresh = refresherFunc(func(ctx context.Context, tn *tenants.Tenant, typ string, tok *idp.Token) (*idp.Token, error) {
		calls++
		if tn.ID != u.tn.ID || typ != tenants.IdPGitHub || tok.AccessToken != "at" {
			t.Errorf("refresher got tenant %s type %s token %+v", tn.ID, typ, tok)
		}
		return nil, idp.ErrNoRefreshToken
	})
	u.grant(t, "g", &idp.Token{AccessToken: "at", Expiry: time.Now().Add(time.Minute)}, time.Now().UTC().Add(time.Minute))
	must(t, u.rt.refreshUpstream(ctx))
	g, _ := u.token(t, "g")
	if calls != 1 || !strings.Contains(g.UpstreamRefreshError, idp.ErrNoRefreshToken.Error()) {
		t.Fatalf("calls %d, error %q", calls, g.UpstreamRefreshError)
	}
}

// docs/SECURITY.md §11: offboarding ends access. The upstream IdP refusing a
// refresh for good (invalid_grant / bad_refresh_token) revokes that grant;
// a user removed from the tenant's allowed GitHub org loses all their
// grants at the next refresh. Both are audited as grant.revoked with the
// reason and announced on the bus (gateways drop cached liveness).
func TestSecurity_11_UpstreamRefusalRevokesGrant(t *testing.T) {
	s := testdb.Open(t, testdb.Backends()[0].DSN(t))
	redisOpt := startMiniredis(t)
	prefix := "gh-test-" + tenants.RandomID() + ":"
	bus := NewRedisBus(redisClient(redisOpt), prefix, nil)
	watch := NewRedisBus(redisClient(redisOpt), prefix, nil)
	var mu sync.Mutex
	notices := map[string]bool{}
	watch.Subscribe(tenants.TopicGrantRevoked, func(p string) { mu.Lock(); notices[p] = true; mu.Unlock() })
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch.Start(bctx)
	defer watch.Stop()
	u := newUpstreamEnvWith(t, s, redisOpt, func(o *Options) { o.Bus = bus })
	u.start()
	c := redisClient(redisOpt)
	defer c.Close()
	testdb.Eventually(t, "bus subscription", 10*time.Second, func() bool {
		n, err := c.PubSubNumSub(ctx, prefix+tenants.TopicGrantRevoked).Result()
		return err == nil && n[prefix+tenants.TopicGrantRevoked] > 0
	})

	// 1. invalid_grant: the refresh token is dead at the IdP.
	tok := loginGitHub(t, u.gh, u.cfg)
	u.grant(t, "dead", &idp.Token{AccessToken: tok.AccessToken, RefreshToken: "ghr_revoked_at_github", Expiry: time.Now().Add(time.Minute)},
		time.Now().UTC().Add(time.Minute))
	// 2. org removal: mona (in org acme) has two grants; the tenant allows acme only.
	u.gh.SetUser(&idptest.GitHubUser{ID: 7, Login: "mona", Emails: []idptest.GitHubEmail{{Email: "mona@acme.example", Primary: true, Verified: true}},
		Orgs: []idptest.GitHubOrg{{Login: "acme"}}})
	u.cfg.AllowedOrgs = tenants.Strings{"acme"}
	must(t, s.PutIdP(ctx, u.cfg))
	mona := &tenants.User{TenantID: u.tn.ID, IdP: tenants.IdPGitHub, IdPIssuer: tenants.GitHubIssuer, IdPSubject: "7", Orgs: tenants.Strings{"acme"}}
	must(t, s.UpsertUser(ctx, mona))
	mt := loginGitHub(t, u.gh, u.cfg)
	// Out of the org before her grants exist, and mona-due becomes due in
	// the same write that names its user: a scheduled pass running in
	// between must find neither a due grant of a user still in the org
	// (its refresh would move the expiry past the window) nor a due grant
	// without its user (only that grant would be revoked).
	u.gh.SetOrgs(7, nil)
	u.grant(t, "mona-due", mt, time.Now().UTC().Add(time.Hour))
	u.grant(t, "mona-other", mt, time.Now().UTC().Add(time.Hour)) // not due, still revoked
	for _, id := range []string{"mona-due", "mona-other"} {
		g, err := s.GetGrant(ctx, u.tn.ID, id)
		must(t, err)
		g.UserID = mona.ID
		if id == "mona-due" {
			due := time.Now().UTC().Add(time.Minute)
			g.UpstreamTokenExpiry = &due
		}
		must(t, s.UpdateGrant(ctx, g))
	}
	must(t, s.PutConsent(ctx, &tenants.Consent{TenantID: u.tn.ID, UserID: mona.ID, ClientID: "c", Scopes: tenants.Strings{"mcp"}}))

	// The runtime's own schedule may run the same pass concurrently: the
	// per-grant lock makes one of them refresh each grant, so wait for the
	// outcome rather than assume this call did it.
	must(t, u.rt.refreshUpstream(ctx))

	for id, reason := range map[string]string{"dead": tenants.RevokedUpstreamRefused, "mona-due": tenants.RevokedNoLongerAllowed, "mona-other": tenants.RevokedNoLongerAllowed} {
		var g *tenants.Grant
		testdb.Eventually(t, "grant "+id+" revoked", 30*time.Second, func() bool {
			var err error
			g, err = s.GetGrant(ctx, u.tn.ID, id)
			if err == nil && g.RevokedAt != nil {
				return true
			}
			// A pass cut short on a loaded machine (a query deadline) is
			// retried by the next one: run it again rather than wait a period.
			_ = u.rt.refreshUpstream(ctx)
			return false
		})
		if g.RevokedReason != reason {
			t.Fatalf("grant %s: revoked %v reason %q, want %q", id, g.RevokedAt, g.RevokedReason, reason)
		}
		payload := u.tn.ID + " " + id
		testdb.Eventually(t, "grant.revoked notice for "+id, 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return notices[payload] })
		testdb.Eventually(t, "grant.revoked audit event for "+id, 20*time.Second, func() bool {
			evs, _, err := s.ListAuditEvents(ctx, u.tn.ID, tenants.AuditFilter{Action: tenants.ActGrantRevoked})
			if err != nil {
				return false
			}
			for _, e := range evs {
				if e.Details["grant_id"] == id && e.Reason == reason {
					return true
				}
			}
			return false
		})
	}
	if _, err := s.GetConsent(ctx, u.tn.ID, mona.ID, "c"); err == nil {
		t.Fatal("the offboarded user's consent survived")
	}
}

// Two refresh passes racing on one grant (a slow run overlapping the next
// slot, a retried task) must not present a rotated-away refresh token and
// revoke a healthy grant: one refreshes, the other leaves the grant alone.
func TestUpstreamRefreshConcurrentRunsDoNotRevoke(t *testing.T) {
	u := newUpstreamEnv(t, testdb.Open(t, testdb.Backends()[0].DSN(t)))
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("g%d", i)
		u.grant(t, id, loginGitHub(t, u.gh, u.cfg), time.Now().UTC().Add(time.Minute))
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _ = u.rt.refreshUpstream(ctx) }()
	}
	wg.Wait()
	for i := 0; i < 5; i++ {
		g, _ := u.token(t, fmt.Sprintf("g%d", i))
		if g.RevokedAt != nil || g.UpstreamRefreshError != "" {
			t.Fatalf("grant %s after racing refreshes: revoked %v (%s), error %q", g.ID, g.RevokedAt, g.RevokedReason, g.UpstreamRefreshError)
		}
	}
}
