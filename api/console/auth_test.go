package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

func signup(b *browser, email, password string) *resp {
	return b.submit("/signup", "/signup", url.Values{"email": {email}, "password": {password}, "name": {"Ada Lovelace"}})
}

// signupFlow runs on SQLite and Postgres: sign up, confirm the email by the
// link, sign in, create a team; the team's owner is the account.
func signupFlow(t *testing.T, e *env) {
	e.account("first@example.com", "") // not a fresh deployment
	b := e.browser()
	r := signup(b, "ada@example.com", testPassword)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, "Check your email") {
		t.Fatalf("no check-your-email page:\n%.1500s", r.Body)
	}
	// Not signed in, and sign-in waits for the confirmation.
	wantStatus(t, b.get("/console"), http.StatusSeeOther)
	r = b.submit("/console/login", "/console/login", url.Values{"email": {"ada@example.com"}, "password": {testPassword}})
	wantStatus(t, r, http.StatusUnauthorized)
	if !strings.Contains(r.Body, "confirm your email") && !strings.Contains(r.Body, "Confirm your email") {
		t.Fatalf("unverified sign-in message:\n%.1500s", r.Body)
	}
	tok := e.lastLink("ada@example.com", "/account/verify")
	// GET only shows a button (mail scanners do not use the link up).
	b.page("/account/verify?token=" + tok)
	r = b.submit("/account/verify?token="+tok, "/account/verify", url.Values{"token": {tok}})
	wantStatus(t, r, http.StatusSeeOther)
	if !strings.HasPrefix(r.Header.Get("Location"), "/console/login?") {
		t.Fatalf("after verify: %q", r.Header.Get("Location"))
	}
	r = b.submit("/account/verify?token="+tok, "/account/verify", url.Values{"token": {tok}})
	wantStatus(t, r, http.StatusBadRequest)
	b.login("ada@example.com")
	r = b.page("/console")
	r = b.submit("/console/teams/new", "/console/teams/new", url.Values{"name": {"Acme Corp"}, "slug": {"acme"},
		"upstream_mcp_url": {"https://mcp.acme.example/mcp"}, "idp_type": {"dev"}})
	wantRedirect(t, r, "/console/t/acme")
	ten, err := e.store.GetTenantBySlug(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := e.store.GetAccountByEmail(context.Background(), "ada@example.com")
	if m, err := e.store.GetMembership(context.Background(), ten.ID, a.ID); err != nil || m.Role != tenants.RoleOwner {
		t.Fatalf("creator is not owner: %v %+v", err, m)
	}
	if n := e.apiKeyCount(ten); n != 0 {
		t.Fatalf("a team starts with %d API keys; console access needs none", n)
	}
	r = b.page("/console/t/acme")
	if !strings.Contains(r.Body, e.srv.URL+"/t/acme/mcp") || !strings.Contains(r.Body, "Your team is ready") {
		t.Fatalf("overview after create:\n%.2000s", r.Body)
	}
}

func TestSignupVerifyCreateTeamSQLite(t *testing.T) {
	signupFlow(t, newEnv(t, envOpts{}))
}

func TestSignupVerifyCreateTeamPostgres(t *testing.T) {
	signupFlow(t, newEnv(t, envOpts{dsn: testdb.Postgres(t)}))
}

var emailRE = regexp.MustCompile(`[a-z0-9.+-]+@example\.com`)

// Account enumeration: sign-up and password reset answer the same status
// and page for a known and an unknown address.
func TestSameAnswerForKnownAndUnknownEmails(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.account("known@example.com", "")
	norm := func(r *resp) string {
		s := emailRE.ReplaceAllString(r.Body, "EMAIL")
		return regexp.MustCompile(`value="[^"]+"`).ReplaceAllString(s, `value=""`)
	}
	for _, tc := range []struct{ page, action string }{{"/signup", "/signup"}, {"/account/forgot", "/account/forgot"}} {
		known := e.browser().submit(tc.page, tc.action, url.Values{"email": {"known@example.com"}, "password": {"another good pass"}})
		unknown := e.browser().submit(tc.page, tc.action, url.Values{"email": {"unknown@example.com"}, "password": {"another good pass"}})
		if known.StatusCode != unknown.StatusCode || norm(known) != norm(unknown) {
			t.Errorf("%s: known %d and unknown %d answers differ", tc.action, known.StatusCode, unknown.StatusCode)
		}
	}
	known := e.browser().submit("/console/login", "/console/login", url.Values{"email": {"known@example.com"}, "password": {"wrong password!"}})
	unknown := e.browser().submit("/console/login", "/console/login", url.Values{"email": {"unknown@example.com"}, "password": {"wrong password!"}})
	if known.StatusCode != http.StatusUnauthorized || known.StatusCode != unknown.StatusCode || norm(known) != norm(unknown) {
		t.Errorf("sign-in: known %d and unknown %d answers differ", known.StatusCode, unknown.StatusCode)
	}
}

func TestSignupRejectsWeakPasswordAndWritesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.account("first@example.com", "")
	r := signup(e.browser(), "weak@example.com", "password123")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "most common passwords") || !strings.Contains(r.Body, `value="weak@example.com"`) {
		t.Fatalf("re-rendered form:\n%.2000s", r.Body)
	}
	if _, err := e.store.GetAccountByEmail(context.Background(), "weak@example.com"); err == nil {
		t.Fatal("account created with a rejected password")
	}
}

func TestSignupRateLimitedPerIP(t *testing.T) {
	e := newEnv(t, envOpts{signupLimit: 2})
	e.account("first@example.com", "")
	b := e.browser()
	for i := range 2 {
		wantStatus(t, signup(b, "u"+string(rune('a'+i))+"@example.com", testPassword), http.StatusOK)
	}
	wantStatus(t, signup(b, "uz@example.com", testPassword), http.StatusTooManyRequests)
	if _, err := e.store.GetAccountByEmail(context.Background(), "uz@example.com"); err == nil {
		t.Fatal("rate-limited sign-up created an account")
	}
	e.clock.now = e.clock.now.Add(2 * time.Hour)
	wantStatus(t, signup(b, "uz@example.com", testPassword), http.StatusOK)
}

// Each sign-up mails the address: three an hour per address, whoever asks
// and whether or not it has an account (the same answer for both).
func TestSignupRateLimitedPerEmail(t *testing.T) {
	e := newEnv(t, envOpts{signupLimit: 50})
	e.account("first@example.com", "")
	e.account("known@example.com", "")
	for _, email := range []string{"victim@example.com", "known@example.com"} {
		for range 3 {
			wantStatus(t, signup(e.browser(), email, testPassword), http.StatusOK)
		}
		r := signup(e.browser(), strings.ToUpper(email), testPassword)
		wantStatus(t, r, http.StatusTooManyRequests)
		if !strings.Contains(r.Body, "for this email address") || r.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: %v\n%.1500s", email, r.Header, r.Body)
		}
	}
	wantStatus(t, signup(e.browser(), "other@example.com", testPassword), http.StatusOK)
	e.clock.now = e.clock.now.Add(2 * time.Hour)
	wantStatus(t, signup(e.browser(), "victim@example.com", testPassword), http.StatusOK)
}

func TestInviteOnlySignupRefusedWithoutInvitation(t *testing.T) {
	e := newEnv(t, envOpts{signup: accounts.SignupInvite})
	e.account("first@example.com", "")
	r := signup(e.browser(), "x@example.com", testPassword)
	wantStatus(t, r, http.StatusForbidden)
	if !strings.Contains(r.Body, "by invitation") {
		t.Fatalf("%.1500s", r.Body)
	}
}

// The first account of a fresh deployment is its operator, but it confirms
// its address by the link like every account before it can sign in.
func TestFirstAccountBecomesOperator(t *testing.T) {
	e := newEnv(t, envOpts{signup: accounts.SignupClosed})
	b := e.browser()
	r := signup(b, "root@example.com", testPassword)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, "Check your email") {
		t.Fatalf("first sign-up did not ask to confirm the address:\n%.1500s", r.Body)
	}
	wantStatus(t, b.get("/console/operator"), http.StatusSeeOther) // not signed in
	r = b.submit("/console/login", "/console/login", url.Values{"email": {"root@example.com"}, "password": {testPassword}})
	wantStatus(t, r, http.StatusUnauthorized)
	wantStatus(t, b.submit("/account/verify?token=x", "/account/verify", url.Values{"token": {e.lastLink("root@example.com", "/account/verify")}}), http.StatusSeeOther)
	b.login("root@example.com")
	wantStatus(t, b.get("/console/operator"), http.StatusOK)
}

func TestLoginLogoutEndsTheServerSession(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, owner := e.tenant("acme", "Acme")
	b := e.browser()
	r := b.get("/console/t/acme")
	wantStatus(t, r, http.StatusSeeOther)
	if !strings.HasPrefix(r.Header.Get("Location"), "/console/login") {
		t.Fatalf("redirect %q", r.Header.Get("Location"))
	}
	r = b.submit("/console/login", "/console/login", url.Values{"email": {owner}, "password": {testPassword}, "next": {"/console/t/acme/audit"}})
	wantRedirect(t, r, "/console/t/acme/audit")
	var sc *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.MaxAge > int((12*time.Hour)/time.Second) || sc.Secure {
		t.Fatalf("session cookie: %+v", sc)
	}
	a, _ := e.store.GetAccountByEmail(context.Background(), owner)
	list, _ := e.store.ListAccountSessions(context.Background(), a.ID, time.Now())
	if len(list) != 1 || list[0].TokenHash != tenants.HashSecret(sc.Value) {
		t.Fatal("the cookie is not a stored session (by hash)")
	}
	wantStatus(t, b.get("/console/t/acme"), http.StatusOK)
	val := b.sessionCookieOf()
	wantStatus(t, b.submit("/console/t/acme", "/console/logout", nil), http.StatusSeeOther)
	wantStatus(t, b.get("/console/t/acme"), http.StatusSeeOther)
	// The old cookie value, replayed, is dead on the server.
	wantStatus(t, e.replaySession(val, "/console/t/acme"), http.StatusSeeOther)
}

// Session fixation: a session id planted before sign-in never becomes the
// session, and each sign-in gets a new id (the old one ends).
func TestSessionFixation(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, owner := e.tenant("acme", "Acme")
	b := e.browser()
	u, _ := url.Parse(e.srv.URL)
	planted := tenants.RandomToken()
	b.jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: planted, Path: "/"}})
	b.login(owner)
	first := b.sessionCookieOf()
	if first == planted || first == "" {
		t.Fatal("sign-in kept the planted session id")
	}
	wantStatus(t, e.replaySession(planted, "/console/t/acme"), http.StatusSeeOther)
	// Signed in, the sign-in form redirects; post it with the pre-session
	// token of another form (the last on the page, after the nav's logout).
	all := csrfRE.FindAllStringSubmatch(b.get("/account/forgot").Body, -1)
	r := b.post("/console/login", url.Values{"csrf": {all[len(all)-1][1]}, "email": {owner}, "password": {testPassword}})
	wantStatus(t, r, http.StatusSeeOther)
	second := b.sessionCookieOf()
	if second == first {
		t.Fatal("signing in again kept the session id")
	}
	wantStatus(t, e.replaySession(first, "/console/t/acme"), http.StatusSeeOther)
}

func TestLoginNextIsNeverAnOpenRedirect(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, owner := e.tenant("acme", "Acme")
	for _, next := range []string{"//evil.example/console", "https://evil.example/", "/console\\@evil.example", "javascript:alert(1)"} {
		b := e.browser()
		r := b.submit("/console/login", "/console/login", url.Values{"email": {owner}, "password": {testPassword}, "next": {next}})
		wantRedirect(t, r, "/console")
	}
}

func TestSessionExpiresAfter12Hours(t *testing.T) {
	e, _, b := acmeOwner(t)
	wantStatus(t, b.get("/console/t/acme"), http.StatusOK)
	val := b.sessionCookieOf()
	e.clock.now = e.clock.now.Add(12*time.Hour + time.Second)
	// The cookie's Max-Age would drop it too; the server must not rely on that.
	wantStatus(t, e.replaySession(val, "/console/t/acme"), http.StatusSeeOther)
}

// Console sign-in by API key or admin token is gone (DESIGN §12).
func TestAPIKeysAndAdminTokenCannotSignIn(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, _ := e.tenant("acme", "Acme")
	key, _, err := e.prov.CreateAPIKey(context.Background(), ten, tenants.APIKeyInput{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{key, testAdminToken} {
		b := e.browser()
		wantStatus(t, b.submit("/console/login", "/console/login", url.Values{"token": {secret}}), http.StatusUnauthorized)
		wantStatus(t, b.submit("/console/login", "/console/login", url.Values{"email": {"owner-acme@example.com"}, "password": {secret}}), http.StatusUnauthorized)
		wantStatus(t, b.get("/console/t/acme"), http.StatusSeeOther)
	}
}

func TestPasswordResetByLinkEndsEverySession(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, owner := e.tenant("acme", "Acme")
	old := e.signedIn(owner)
	b := e.browser()
	wantStatus(t, b.submit("/account/forgot", "/account/forgot", url.Values{"email": {owner}}), http.StatusOK)
	tok := e.lastLink(owner, "/account/reset")
	wantStatus(t, b.get("/account/reset?token="+tok), http.StatusOK)
	r := b.submit("/account/reset?token="+tok, "/account/reset", url.Values{"token": {tok}, "password": {"short"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	r = b.submit("/account/reset?token="+tok, "/account/reset", url.Values{"token": {tok}, "password": {"a whole new passphrase"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, b.get("/account/reset?token="+tok), http.StatusBadRequest)
	wantStatus(t, old.get("/console/t/acme"), http.StatusSeeOther)
	r = b.submit("/console/login", "/console/login", url.Values{"email": {owner}, "password": {"a whole new passphrase"}})
	wantStatus(t, r, http.StatusSeeOther)
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, owner := e.tenant("acme", "Acme")
	b1, b2 := e.browser(), e.browser()
	b1.login(owner)
	b2.login(owner)
	r := b1.submit("/account", "/account/password", url.Values{"current_password": {"nope nope nope"}, "password": {"a whole new passphrase"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	r = b1.submit("/account", "/account/password", url.Values{"current_password": {testPassword}, "password": {"a whole new passphrase"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, b1.get("/console/t/acme"), http.StatusOK)
	wantStatus(t, b2.get("/console/t/acme"), http.StatusSeeOther)
	page := b1.get("/account")
	if strings.Count(page.Body, "/end\"") != 1 {
		t.Fatalf("session list should hold only this session:\n%.3000s", page.Body)
	}
}

var totpSecretRE = regexp.MustCompile(`data-copy="([A-Z2-7]{16,})"`)

func TestTOTPEnableAndSignInWithIt(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, owner := e.tenant("acme", "Acme")
	b := e.signedIn(owner)
	page := b.page("/account/totp")
	m := totpSecretRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no secret shown:\n%.3000s", page.Body)
	}
	code, _ := totp.GenerateCode(m[1], e.clock.now)
	setup := regexp.MustCompile(`name="setup" value="([^"]+)"`).FindStringSubmatch(page.Body)[1]
	r := b.post("/account/totp/enable", url.Values{"csrf": {csrfRE.FindStringSubmatch(page.Body)[1]}, "setup": {setup}, "code": {code}})
	wantStatus(t, r, http.StatusSeeOther)
	acct := b.get("/account")
	codes := regexp.MustCompile(`<code>([0-9a-f]{5}-[0-9a-f]{5})</code>`).FindAllStringSubmatch(acct.Body, -1)
	if len(codes) != 10 {
		t.Fatalf("recovery codes shown: %d", len(codes))
	}
	if n := len(regexp.MustCompile(`<code>[0-9a-f]{5}-[0-9a-f]{5}</code>`).FindAllString(b.get("/account").Body, -1)); n != 0 {
		t.Fatal("recovery codes shown twice")
	}
	// Sign in again: the password alone is not enough.
	c := e.browser()
	r = c.submit("/console/login", "/console/login", url.Values{"email": {owner}, "password": {testPassword}})
	wantRedirect(t, r, "/console/login/totp")
	wantStatus(t, c.get("/console/t/acme"), http.StatusSeeOther)
	r = c.submit("/console/login/totp", "/console/login/totp", url.Values{"code": {code}}) // the enabling code: used once already
	wantStatus(t, r, http.StatusUnauthorized)
	e.clock.now = e.clock.now.Add(30 * time.Second)
	next, _ := totp.GenerateCode(m[1], e.clock.now)
	r = c.submit("/console/login/totp", "/console/login/totp", url.Values{"code": {next}})
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, c.get("/console/t/acme"), http.StatusOK)
	// A recovery code works once.
	d := e.browser()
	d.submit("/console/login", "/console/login", url.Values{"email": {owner}, "password": {testPassword}})
	wantStatus(t, d.submit("/console/login/totp", "/console/login/totp", url.Values{"code": {codes[0][1]}}), http.StatusSeeOther)
	f := e.browser()
	f.submit("/console/login", "/console/login", url.Values{"email": {owner}, "password": {testPassword}})
	wantStatus(t, f.submit("/console/login/totp", "/console/login/totp", url.Values{"code": {codes[0][1]}}), http.StatusUnauthorized)
}

// Sign-in is rate-limited per IP and per address: guessing one account's
// password stops at the address's limit; another address still gets an answer.
func TestLoginRateLimitedPerEmail(t *testing.T) {
	e := newEnv(t, envOpts{loginLimit: 4}) // per IP 4, per address 2, per 10 minutes
	e.account("a@example.com", "")
	b := e.browser()
	for range 2 {
		wantStatus(t, b.submit("/console/login", "/console/login", url.Values{"email": {"a@example.com"}, "password": {"wrong guess 1"}}), http.StatusUnauthorized)
	}
	wantStatus(t, b.submit("/console/login", "/console/login", url.Values{"email": {"a@example.com"}, "password": {testPassword}}), http.StatusTooManyRequests)
	wantStatus(t, b.submit("/console/login", "/console/login", url.Values{"email": {"b@example.com"}, "password": {"wrong guess 1"}}), http.StatusUnauthorized)
	wantStatus(t, b.submit("/console/login", "/console/login", url.Values{"email": {"c@example.com"}, "password": {"wrong guess 1"}}), http.StatusTooManyRequests)
	e.clock.now = e.clock.now.Add(11 * time.Minute)
	wantStatus(t, b.submit("/console/login", "/console/login", url.Values{"email": {"a@example.com"}, "password": {testPassword}}), http.StatusSeeOther)
}
