package accounts_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
)

// The first account of a fresh deployment becomes the operator but proves
// its address like every other: it cannot sign in until it uses the link
// (mailed, or on the terminal), or until the person at the terminal runs
// `gatehouse admin grant EMAIL`, which confirms it.
func TestFirstAccountMustVerifyItsAddress(t *testing.T) {
	for _, via := range []string{"link", "admin grant"} {
		t.Run(via, func(t *testing.T) {
			e := newEnv(t, accounts.SignupInvite)
			r, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: "op@example.com", Password: "correct horse battery"})
			if err != nil || !r.CheckEmail || r.Account != nil {
				t.Fatalf("first sign-up must answer check-your-email: %v %+v", err, r)
			}
			if _, err := e.svc.Login(ctx, "op@example.com", "correct horse battery"); !errors.Is(err, accounts.ErrUnverified) {
				t.Fatalf("unverified first account signed in: %v", err)
			}
			var op *tenants.Account
			if via == "link" {
				op, err = e.svc.VerifyEmail(ctx, e.lastLink("op@example.com", "/account/verify"))
			} else {
				op, err = e.svc.GrantOperator(ctx, "op@example.com")
			}
			if err != nil || !op.Operator() || !op.Verified() {
				t.Fatalf("after %s: %v operator=%v verified=%v", via, err, op != nil && op.Operator(), op != nil && op.Verified())
			}
			if _, err := e.svc.Login(ctx, "op@example.com", "correct horse battery"); err != nil {
				t.Fatalf("sign-in after %s: %v", via, err)
			}
			// The second is neither, and invite mode refuses it without a link.
			if _, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: "b@example.com", Password: "correct horse battery"}); !errors.Is(err, accounts.ErrSignupClosed) {
				t.Fatalf("invite mode sign-up without invitation: %v", err)
			}
		})
	}
}

// Account enumeration: a known and an unknown email get the same answer;
// only the mail differs (a sign-in/reset note to the known address).
func TestSignupSameAnswerForKnownAndUnknownEmail(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	e.operator()
	known, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: "op@example.com", Password: "another good pass"})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: "new@example.com", Password: "another good pass"})
	if err != nil {
		t.Fatal(err)
	}
	if *known != *fresh || !known.CheckEmail || known.Account != nil {
		t.Fatalf("answers differ: known=%+v fresh=%+v", known, fresh)
	}
	if m := e.mails("op@example.com"); len(m) != 2 || !strings.Contains(m[1], "already has one") { // [0] is its verification
		t.Fatalf("known address mail: %q", m)
	}
	a, _ := e.store.GetAccountByEmail(ctx, "op@example.com")
	if ok, _ := accounts.VerifyPassword(a.PasswordHash, "another good pass"); ok {
		t.Fatal("sign-up with a known email changed its password")
	}
}

func TestVerifyLinkWorksOnce(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	e.operator()
	if _, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: "Ada@Example.com", Password: "correct horse battery", Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, "ada@example.com", "correct horse battery"); !errors.Is(err, accounts.ErrUnverified) {
		t.Fatalf("unverified login: %v", err)
	}
	tok := e.lastLink("ada@example.com", "/account/verify")
	a, err := e.svc.VerifyEmail(ctx, tok)
	if err != nil || !a.Verified() || a.Name != "Ada" {
		t.Fatalf("verify: %v %+v", err, a)
	}
	if _, err := e.svc.VerifyEmail(ctx, tok); !errors.Is(err, accounts.ErrLinkInvalid) {
		t.Fatalf("second use: %v", err)
	}
	if _, err := e.svc.VerifyEmail(ctx, tok+"x"); !errors.Is(err, accounts.ErrLinkInvalid) {
		t.Fatalf("altered link: %v", err)
	}
	if _, err := e.svc.Login(ctx, "ADA@example.com", "correct horse battery"); err != nil {
		t.Fatalf("login after verify: %v", err)
	}
}

func TestVerifyLinkExpires(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	e.operator()
	_, _ = e.svc.SignUp(ctx, accounts.SignupInput{Email: "late@example.com", Password: "correct horse battery"})
	tok := e.lastLink("late@example.com", "/account/verify")
	e.now = e.now.Add(accounts.VerifyLinkTTL + time.Second)
	if _, err := e.svc.VerifyEmail(ctx, tok); !errors.Is(err, accounts.ErrLinkInvalid) {
		t.Fatalf("expired link: %v", err)
	}
}

func TestLoginUnknownEmailAndWrongPasswordSameError(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	e.operator()
	_, errUnknown := e.svc.Login(ctx, "nobody@example.com", "correct horse battery")
	_, errWrong := e.svc.Login(ctx, "op@example.com", "wrong horse battery")
	if !errors.Is(errUnknown, accounts.ErrBadCredentials) || errUnknown != errWrong {
		t.Fatalf("unknown=%v wrong=%v", errUnknown, errWrong)
	}
	evs, _, _ := e.store.ListAuditEvents(ctx, "", tenants.AuditFilter{Action: tenants.ActAccountLogin})
	reasons := map[string]bool{}
	for _, ev := range evs {
		reasons[ev.Reason] = ev.Outcome == tenants.OutcomeFailure
	}
	if !reasons["unknown_account"] || !reasons["wrong_password"] {
		t.Fatalf("failed logins not audited: %+v", evs)
	}
}

func TestPasswordResetEndsSessionsAndLinkIsSingleUse(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	op := e.operator()
	_, s1, _ := e.svc.StartSession(ctx, op, accounts.MethodPassword)
	// Unknown addresses get the same (nil) answer and no mail.
	if err := e.svc.RequestPasswordReset(ctx, "nobody@example.com"); err != nil {
		t.Fatal(err)
	}
	if len(e.mails("nobody@example.com")) != 0 {
		t.Fatal("mail sent to an unknown address")
	}
	if err := e.svc.RequestPasswordReset(ctx, "OP@example.com"); err != nil {
		t.Fatal(err)
	}
	tok := e.lastLink("op@example.com", "/account/reset")
	// A rejected password does not burn the link.
	var ve *tenants.ValidationError
	if _, err := e.svc.ResetPassword(ctx, tok, "short"); !errors.As(err, &ve) {
		t.Fatalf("weak password: %v", err)
	}
	if _, err := e.svc.ResetPassword(ctx, tok, "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ResetPassword(ctx, tok, "yet another passphrase"); !errors.Is(err, accounts.ErrLinkInvalid) {
		t.Fatalf("second use: %v", err)
	}
	if list, _ := e.svc.Sessions(ctx, op); len(list) != 0 {
		t.Fatalf("sessions left after reset: %+v (had %s)", list, s1.ID)
	}
	if _, err := e.svc.Login(ctx, "op@example.com", "correct horse battery"); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Fatal("old password still works")
	}
	if _, err := e.svc.Login(ctx, "op@example.com", "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
}

func TestChangePasswordKeepsOnlyThisSession(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	op := e.operator()
	tok1, s1, _ := e.svc.StartSession(ctx, op, accounts.MethodPassword)
	tok2, _, _ := e.svc.StartSession(ctx, op, accounts.MethodPassword)
	if tok1 == tok2 {
		t.Fatal("two sessions share a token")
	}
	var ve *tenants.ValidationError
	if err := e.svc.ChangePassword(ctx, op, "not it", "a brand new passphrase", s1.ID); !errors.As(err, &ve) || ve.Errors[0].Field != "current_password" {
		t.Fatalf("wrong current password: %v", err)
	}
	if err := e.svc.ChangePassword(ctx, op, "correct horse battery", "a brand new passphrase", s1.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Session(ctx, tok1); err != nil {
		t.Fatal("the changing session ended")
	}
	if _, _, err := e.svc.Session(ctx, tok2); !errors.Is(err, accounts.ErrNoSession) {
		t.Fatalf("other session survived a password change: %v", err)
	}
}

func TestSessionExpiresAndEnds(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	op := e.operator()
	tok, s, _ := e.svc.StartSession(ctx, op, accounts.MethodPassword)
	if _, a, err := e.svc.Session(ctx, tok); err != nil || a.ID != op.ID {
		t.Fatalf("session: %v", err)
	}
	if err := e.svc.EndSession(ctx, op, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Session(ctx, tok); !errors.Is(err, accounts.ErrNoSession) {
		t.Fatalf("ended session still valid: %v", err)
	}
	tok, _, _ = e.svc.StartSession(ctx, op, accounts.MethodPassword)
	e.now = e.now.Add(accounts.SessionTTL + time.Second)
	if _, _, err := e.svc.Session(ctx, tok); !errors.Is(err, accounts.ErrNoSession) {
		t.Fatalf("session valid past its lifetime: %v", err)
	}
}

func TestTOTPEnableLoginReplayAndRecoveryCodes(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	op := e.operator()
	setup, err := e.svc.BeginTOTP(op)
	if err != nil || !strings.HasPrefix(setup.URI, "otpauth://totp/Gatehouse:op@example.com") {
		t.Fatalf("setup: %v %+v", err, setup)
	}
	if strings.Contains(setup.Sealed, setup.Secret) {
		t.Fatal("the setup form carries the secret in the clear")
	}
	if _, err := e.svc.EnableTOTP(ctx, op, setup.Sealed, "000000"); !errors.Is(err, accounts.ErrBadCode) {
		t.Fatalf("wrong confirm code: %v", err)
	}
	code, _ := totp.GenerateCode(setup.Secret, e.now)
	codes, err := e.svc.EnableTOTP(ctx, op, setup.Sealed, code)
	if err != nil || len(codes) != 10 {
		t.Fatalf("enable: %v %d codes", err, len(codes))
	}
	a, _ := e.store.GetAccount(ctx, op.ID)
	if !a.TOTPEnabled() || strings.Contains(a.TOTPSecretSealed, setup.Secret) {
		t.Fatal("TOTP not enabled, or its secret stored in the clear")
	}
	// The code that confirmed set-up cannot log in again (RFC 6238 §5.2).
	if err := e.svc.CheckSecondFactor(ctx, a, code); !errors.Is(err, accounts.ErrBadCode) {
		t.Fatalf("replayed code: %v", err)
	}
	e.now = e.now.Add(30 * time.Second)
	next, _ := totp.GenerateCode(setup.Secret, e.now)
	if err := e.svc.CheckSecondFactor(ctx, a, next); err != nil {
		t.Fatalf("next code: %v", err)
	}
	if err := e.svc.CheckSecondFactor(ctx, a, next); !errors.Is(err, accounts.ErrBadCode) {
		t.Fatalf("code used twice: %v", err)
	}
	if err := e.svc.CheckSecondFactor(ctx, a, codes[3]); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if err := e.svc.CheckSecondFactor(ctx, a, codes[3]); !errors.Is(err, accounts.ErrBadCode) {
		t.Fatalf("recovery code used twice: %v", err)
	}
	// A setup sealed for another account does not enable TOTP here.
	other := e.verified("other@example.com")
	if _, err := e.svc.EnableTOTP(ctx, other, setup.Sealed, next); !errors.Is(err, accounts.ErrLinkInvalid) {
		t.Fatalf("foreign setup: %v", err)
	}
}

func TestRolesInvitationsAndLastOwner(t *testing.T) {
	e := newEnv(t, accounts.SignupInvite)
	owner := e.operator()
	team, err := e.svc.CreateTeam(ctx, owner, tenants.TenantInput{Slug: "acme", Name: "Acme", UpstreamMCPURL: "https://mcp.acme.example/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.svc.Invite(ctx, owner, team, "Vic@Example.com", tenants.RoleViewer)
	if err != nil || !strings.HasPrefix(inv.Link, "https://gh.example/invite?token=") {
		t.Fatalf("invite: %v", err)
	}
	_, tok, _ := strings.Cut(inv.Link, "token=")
	if e.lastLink("vic@example.com", "/invite") != tok {
		t.Fatal("invitation not mailed")
	}
	// Invite-only deployment: the invited address may sign up with the link,
	// and starts verified and in the team.
	if _, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: "mallory@example.com", Password: "correct horse battery", InviteToken: tok}); !errors.Is(err, accounts.ErrLinkInvalid) {
		t.Fatalf("another address used the invitation: %v", err)
	}
	r, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: "vic@example.com", Password: "correct horse battery", InviteToken: tok})
	if err != nil || r.Account == nil || !r.Account.Verified() || r.Team == nil || r.Team.ID != team.ID {
		t.Fatalf("invited sign-up: %v %+v", err, r)
	}
	vic := r.Account
	if role, _ := e.svc.Role(ctx, team, vic); role != tenants.RoleViewer {
		t.Fatalf("role %q", role)
	}
	if _, err := e.svc.Invite(ctx, vic, team, "x@example.com", tenants.RoleAdmin); !errors.Is(err, accounts.ErrForbidden) {
		t.Fatalf("viewer invited: %v", err)
	}
	if err := e.svc.SetRole(ctx, vic, team, vic.ID, tenants.RoleOwner); !errors.Is(err, accounts.ErrForbidden) {
		t.Fatalf("viewer promoted itself: %v", err)
	}
	if _, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: "vic@example.com", Password: "correct horse battery", InviteToken: tok}); !errors.Is(err, accounts.ErrLinkInvalid) {
		t.Fatalf("invitation used twice: %v", err)
	}
	// The last owner can neither leave, be demoted nor removed.
	if err := e.svc.RemoveMember(ctx, owner, team, owner.ID); !errors.Is(err, accounts.ErrLastOwner) {
		t.Fatalf("last owner left: %v", err)
	}
	if err := e.svc.SetRole(ctx, owner, team, owner.ID, tenants.RoleAdmin); !errors.Is(err, accounts.ErrLastOwner) {
		t.Fatalf("last owner demoted: %v", err)
	}
	if err := e.svc.SetRole(ctx, owner, team, vic.ID, tenants.RoleOwner); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RemoveMember(ctx, owner, team, owner.ID); err != nil {
		t.Fatalf("an owner with another owner left: %v", err)
	}
	if n, _ := e.store.CountOwners(ctx, team.ID); n != 1 {
		t.Fatalf("owners %d", n)
	}
	for _, act := range []string{tenants.ActTeamCreated, tenants.ActMemberInvited, tenants.ActMemberJoined, tenants.ActMemberRoleChanged, tenants.ActMemberRemoved} {
		evs, _, _ := e.store.ListAuditEvents(ctx, team.ID, tenants.AuditFilter{Action: act})
		if len(evs) != 1 || !strings.HasPrefix(evs[0].Actor, "account:") {
			t.Errorf("team audit %s: %+v", act, evs)
		}
	}
	// The former owner is an operator: read-only in the team.
	if role, _ := e.svc.Role(ctx, team, owner); role != tenants.RoleViewer {
		t.Fatalf("operator without membership: %q", role)
	}
	if accounts.Allows(tenants.RoleViewer, tenants.RoleAdmin) || !accounts.Allows(tenants.RoleOwner, tenants.RoleAdmin) || accounts.Allows("", tenants.RoleViewer) {
		t.Fatal("role order wrong")
	}
}

func TestUnverifiedAccountCannotCreateTeam(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	e.operator()
	_, _ = e.svc.SignUp(ctx, accounts.SignupInput{Email: "u@example.com", Password: "correct horse battery"})
	a, _ := e.store.GetAccountByEmail(ctx, "u@example.com")
	if _, err := e.svc.CreateTeam(ctx, a, tenants.TenantInput{Slug: "unv", UpstreamMCPURL: "https://x.example/mcp"}); !errors.Is(err, accounts.ErrUnverified) {
		t.Fatalf("unverified account created a team: %v", err)
	}
}

func TestOperatorSuspendsAndDeletesTeams(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	op := e.operator()
	owner := e.verified("owner@example.com")
	team, err := e.svc.CreateTeam(ctx, owner, tenants.TenantInput{Slug: "acme", UpstreamMCPURL: "https://mcp.acme.example/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetSuspended(ctx, owner, team, true); !errors.Is(err, accounts.ErrForbidden) {
		t.Fatalf("an owner suspended its team: %v", err)
	}
	if err := e.svc.SetSuspended(ctx, op, team, true); err != nil {
		t.Fatal(err)
	}
	got, _ := e.store.GetTenant(ctx, team.ID)
	if !got.Suspended() {
		t.Fatal("not suspended")
	}
	evs, _, _ := e.store.ListAuditEvents(ctx, "", tenants.AuditFilter{Action: tenants.ActTeamSuspended})
	if len(evs) != 1 || evs[0].Actor != "account:op@example.com" {
		t.Fatalf("platform audit: %+v", evs)
	}
	if err := e.svc.DeleteTeam(ctx, op, got); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.GetTenant(ctx, team.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatal("team not deleted")
	}
	if _, err := e.svc.GrantOperator(ctx, "OWNER@example.com"); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.store.GetAccount(ctx, owner.ID); !a.Operator() {
		t.Fatal("grant did not stick")
	}
}

func TestIdentityLoginLinksOnlyVerifiedEmails(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	op := e.operator()
	if _, err := e.svc.LoginWithIdentity(ctx, accounts.Identity{Provider: "oidc", Subject: "s1", Email: "op@example.com"}); !errors.Is(err, accounts.ErrIdPEmail) {
		t.Fatalf("unverified IdP email linked: %v", err)
	}
	a, err := e.svc.LoginWithIdentity(ctx, accounts.Identity{Provider: "oidc", Subject: "s1", Email: "op@example.com", EmailVerified: true})
	if err != nil || a.ID != op.ID {
		t.Fatalf("link by verified email: %v", err)
	}
	// Later logins find the link by subject, whatever the email says now.
	if a, err = e.svc.LoginWithIdentity(ctx, accounts.Identity{Provider: "oidc", Subject: "s1", Email: "changed@example.com"}); err != nil || a.ID != op.ID {
		t.Fatalf("by subject: %v", err)
	}
	n, err := e.svc.LoginWithIdentity(ctx, accounts.Identity{Provider: "oidc", Subject: "s2", Email: "new@example.com", EmailVerified: true, Name: "New"})
	if err != nil || !n.Verified() || n.Operator() || n.Name != "New" {
		t.Fatalf("new account from IdP: %v %+v", err, n)
	}
	e.svc.Signup = accounts.SignupClosed
	if _, err := e.svc.LoginWithIdentity(ctx, accounts.Identity{Provider: "oidc", Subject: "s3", Email: "x@example.com", EmailVerified: true}); !errors.Is(err, accounts.ErrSignupClosed) {
		t.Fatalf("closed sign-up: %v", err)
	}
}

// Without SMTP the JSON log names the message but never carries its link;
// with LogLinks (text logs at a terminal) one marked line carries it.
func TestUnsentMailLogging(t *testing.T) {
	e := newEnv(t, accounts.SignupOpen)
	e.operator()
	_ = e.svc.RequestPasswordReset(ctx, "op@example.com")
	tok := e.lastLink("op@example.com", "/account/reset")
	if strings.Contains(e.logs.String(), tok) {
		t.Fatal("JSON log carries a link token")
	}
	if !strings.Contains(e.logs.String(), "MAIL NOT SENT") {
		t.Fatalf("unsent mail not logged: %s", e.logs.String())
	}
	e.svc.LogLinks = true
	_ = e.svc.RequestPasswordReset(ctx, "op@example.com")
	tok = e.lastLink("op@example.com", "/account/reset")
	var marked int
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, tok) {
			if !strings.Contains(line, "MAIL NOT SENT") {
				t.Fatalf("link on an unmarked line: %s", line)
			}
			marked++
		}
	}
	if marked != 1 {
		t.Fatalf("link logged %d times", marked)
	}
}
