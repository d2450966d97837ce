package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

func init() {
	Register("AccountsCRUDAndEmailCase", testAccounts)
	Register("AccountSessions", testAccountSessions)
	Register("AccountTokenSingleUseRace", testAccountTokenRace)
	Register("TOTPStepAndRecoveryCodesUsedOnce", testTOTPOnce)
	Register("MembershipsAndOwners", testMemberships)
	Register("InvitationSingleUseRace", testInvitationRace)
	Register("OutboxAndTenantSearch", testOutboxSearch)
}

// NewAccount creates an account with the given email.
func NewAccount(t *testing.T, s tenants.Store, email string) *tenants.Account {
	t.Helper()
	now := time.Now().UTC()
	a := &tenants.Account{ID: tenants.RandomID(), Email: email, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("create account %s: %v", email, err)
	}
	return a
}

func testAccounts(t *testing.T, s tenants.Store) {
	a := NewAccount(t, s, "Ada@Example.COM")
	if a.Email != "ada@example.com" {
		t.Fatalf("email not lower-cased: %q", a.Email)
	}
	got, err := s.GetAccountByEmail(ctx, "ADA@example.com")
	if err != nil || got.ID != a.ID {
		t.Fatalf("by email: %v %+v", err, got)
	}
	dup := &tenants.Account{ID: tenants.RandomID(), Email: "ada@EXAMPLE.com", CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if err := s.CreateAccount(ctx, dup); !errors.Is(err, tenants.ErrConflict) {
		t.Fatalf("duplicate email: %v, want ErrConflict", err)
	}
	now := time.Now().UTC()
	a.Name, a.EmailVerifiedAt, a.PlatformRole = "Ada", &now, tenants.PlatformOperator
	if err := s.UpdateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetAccount(ctx, a.ID)
	if got.Name != "Ada" || !got.Verified() || !got.Operator() {
		t.Fatalf("update lost: %+v", got)
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 1 {
		t.Fatalf("count %d %v", n, err)
	}
	if _, err := s.GetAccount(ctx, "nope"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if err := s.PutAccountIdentity(ctx, &tenants.AccountIdentity{Provider: "oidc", Subject: "sub-1", AccountID: a.ID}); err != nil {
		t.Fatal(err)
	}
	if id, err := s.GetAccountIdentity(ctx, "oidc", "sub-1"); err != nil || id.AccountID != a.ID {
		t.Fatalf("identity: %v", err)
	}
	if err := s.PutAccountIdentity(ctx, &tenants.AccountIdentity{Provider: "oidc", Subject: "sub-1", AccountID: "other"}); !errors.Is(err, tenants.ErrConflict) {
		t.Fatalf("identity taken twice: %v", err)
	}
}

func testAccountSessions(t *testing.T, s tenants.Store) {
	a := NewAccount(t, s, "s@example.com")
	b := NewAccount(t, s, "b@example.com")
	now := time.Now().UTC()
	mk := func(acc *tenants.Account, hash string, exp time.Time) *tenants.AccountSession {
		ss := &tenants.AccountSession{ID: tenants.RandomID(), TokenHash: hash, AccountID: acc.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: exp}
		if err := s.CreateAccountSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
		return ss
	}
	s1 := mk(a, "h1", now.Add(time.Hour))
	s2 := mk(a, "h2", now.Add(time.Hour))
	mk(a, "h3", now.Add(-time.Second)) // expired
	mk(b, "h4", now.Add(time.Hour))
	if _, err := s.GetAccountSessionByHash(ctx, "h3", now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("expired session found: %v", err)
	}
	if got, err := s.GetAccountSessionByHash(ctx, "h1", now); err != nil || got.ID != s1.ID {
		t.Fatalf("live session: %v", err)
	}
	list, _ := s.ListAccountSessions(ctx, a.ID, now)
	if len(list) != 2 {
		t.Fatalf("list: %d sessions, want 2 live", len(list))
	}
	if err := s.DeleteAccountSession(ctx, b.ID, s1.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("another account's session deleted: %v", err)
	}
	n, err := s.DeleteAccountSessions(ctx, a.ID, s2.ID)
	if err != nil || n != 2 {
		t.Fatalf("delete others: %d %v", n, err)
	}
	if _, err := s.GetAccountSessionByHash(ctx, "h2", now); err != nil {
		t.Fatal("kept session gone")
	}
	if _, err := s.GetAccountSessionByHash(ctx, "h4", now); err != nil {
		t.Fatal("other account's session gone")
	}
	// The sweep removes expired sessions only.
	mk(b, "h5", now.Add(-time.Minute))
	if n, err := s.DeleteExpiredAccountSessions(ctx, now, 10); err != nil || n != 1 {
		t.Fatalf("swept %d sessions (%v), want 1", n, err)
	}
	if _, err := s.GetAccountSessionByHash(ctx, "h4", now); err != nil {
		t.Fatal("the sweep removed a live session")
	}
}

func testAccountTokenRace(t *testing.T, s tenants.Store) {
	a := NewAccount(t, s, "t@example.com")
	now := time.Now().UTC()
	for _, tk := range []tenants.AccountToken{
		{Hash: "live", AccountID: a.ID, Purpose: tenants.PurposeResetPassword, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Hash: "old", AccountID: a.ID, Purpose: tenants.PurposeResetPassword, CreatedAt: now, ExpiresAt: now.Add(-time.Second)},
	} {
		if err := s.CreateAccountToken(ctx, &tk); err != nil {
			t.Fatal(err)
		}
	}
	if tk, err := s.PeekAccountToken(ctx, "live", tenants.PurposeResetPassword, now); err != nil || tk.AccountID != a.ID {
		t.Fatalf("peek live token: %v", err)
	}
	if _, err := s.PeekAccountToken(ctx, "old", tenants.PurposeResetPassword, now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("peek expired token: %v", err)
	}
	if _, err := s.UseAccountToken(ctx, "live", tenants.PurposeVerifyEmail, now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("token used for another purpose: %v", err)
	}
	if _, err := s.UseAccountToken(ctx, "old", tenants.PurposeResetPassword, now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("expired token used: %v", err)
	}
	onlyOneWins(t, "uses of one account token", 8, func(int) error {
		tk, err := s.UseAccountToken(ctx, "live", tenants.PurposeResetPassword, now)
		if err == nil && tk.AccountID != a.ID {
			return errors.New("token of another account")
		}
		return err
	}, tenants.ErrNotFound)
	if _, err := s.PeekAccountToken(ctx, "live", tenants.PurposeResetPassword, now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("peek used token: %v", err)
	}
}

func testTOTPOnce(t *testing.T, s tenants.Store) {
	a := NewAccount(t, s, "totp@example.com")
	a.RecoveryCodes = tenants.Strings{"r1", "r2"}
	if err := s.UpdateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.UseTOTPStep(ctx, a.ID, 100); !ok {
		t.Fatal("first step refused")
	}
	for _, step := range []int64{100, 99} {
		if ok, _ := s.UseTOTPStep(ctx, a.ID, step); ok {
			t.Fatalf("step %d accepted after 100", step)
		}
	}
	onlyOneWins(t, "uses of one recovery code", 6, func(int) error {
		ok, err := s.UseRecoveryCode(ctx, a.ID, "r1")
		if err == nil && !ok {
			return errLost
		}
		return err
	})
	got, _ := s.GetAccount(ctx, a.ID)
	if len(got.RecoveryCodes) != 1 || got.RecoveryCodes[0] != "r2" {
		t.Fatalf("codes left: %v", got.RecoveryCodes)
	}
}

func testMemberships(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "team-a")
	other := NewTenant(t, s, "team-b")
	a := NewAccount(t, s, "owner@example.com")
	b := NewAccount(t, s, "viewer@example.com")
	a.Name = "Owner"
	_ = s.UpdateAccount(ctx, a)
	for _, m := range []tenants.Membership{
		{TenantID: tn.ID, AccountID: a.ID, Role: tenants.RoleOwner},
		{TenantID: tn.ID, AccountID: b.ID, Role: tenants.RoleViewer},
		{TenantID: other.ID, AccountID: b.ID, Role: tenants.RoleOwner},
	} {
		if err := s.PutMembership(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.CountOwners(ctx, tn.ID); n != 1 {
		t.Fatalf("owners %d", n)
	}
	if err := s.PutMembership(ctx, &tenants.Membership{TenantID: tn.ID, AccountID: b.ID, Role: tenants.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMembership(ctx, tn.ID, b.ID)
	if err != nil || m.Role != tenants.RoleAdmin {
		t.Fatalf("role change: %v %+v", err, m)
	}
	members, _ := s.ListMembers(ctx, tn.ID)
	if len(members) != 2 || members[0].Email != "owner@example.com" || members[0].Name != "Owner" || members[0].Role != tenants.RoleOwner {
		t.Fatalf("members: %+v", members)
	}
	mine, _ := s.ListMemberships(ctx, b.ID)
	if len(mine) != 2 {
		t.Fatalf("memberships of b: %+v", mine)
	}
	if err := s.DeleteMembership(ctx, other.ID, a.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("delete a membership that does not exist: %v", err)
	}
	if err := s.DeleteTenant(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if mine, _ = s.ListMemberships(ctx, b.ID); len(mine) != 1 {
		t.Fatalf("membership of a deleted team left: %+v", mine)
	}
}

func testInvitationRace(t *testing.T, s tenants.Store) {
	tn := NewTenant(t, s, "team-inv")
	now := time.Now().UTC()
	inv := &tenants.Invitation{TenantID: tn.ID, ID: tenants.RandomID(), Email: "x@example.com", Role: tenants.RoleViewer, TokenHash: "ih", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateInvitation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	old := &tenants.Invitation{TenantID: tn.ID, ID: tenants.RandomID(), Email: "y@example.com", Role: tenants.RoleViewer, TokenHash: "ih-old", CreatedAt: now, ExpiresAt: now.Add(-time.Second)}
	if err := s.CreateInvitation(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetInvitationByHash(ctx, "ih", now); err != nil || got.ID != inv.ID {
		t.Fatalf("get live invitation: %v", err)
	}
	if _, err := s.GetInvitationByHash(ctx, "ih-old", now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("get expired invitation: %v", err)
	}
	if _, err := s.AcceptInvitation(ctx, "ih-old", now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("expired invitation accepted: %v", err)
	}
	onlyOneWins(t, "acceptances of one invitation", 8, func(int) error {
		got, err := s.AcceptInvitation(ctx, "ih", now)
		if err == nil && got.TenantID != tn.ID {
			return errors.New("invitation of another tenant")
		}
		return err
	}, tenants.ErrNotFound)
	if _, err := s.GetInvitationByHash(ctx, "ih", now); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("accepted invitation still found: %v", err)
	}
	list, _ := s.ListInvitations(ctx, tn.ID)
	if len(list) != 2 {
		t.Fatalf("invitations: %d", len(list))
	}
	if err := s.DeleteInvitation(ctx, "other", inv.ID); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("cross-team delete: %v", err)
	}
}

func testOutboxSearch(t *testing.T, s tenants.Store) {
	now := time.Now().UTC()
	for i, subj := range []string{"first", "second", "third"} {
		m := &tenants.OutboxMessage{ID: tenants.OrderedID(now.Add(time.Duration(i) * time.Second)), To: "a@example.com", Subject: subj, BodySealed: "x", CreatedAt: now}
		if err := s.CreateOutboxMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			m.SentAt = &now
			if err := s.UpdateOutboxMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	items, next, err := s.ListOutboxMessages(ctx, tenants.Page{Limit: 2})
	if err != nil || len(items) != 2 || items[0].Subject != "third" || next == "" {
		t.Fatalf("outbox page 1: %v %+v", err, items)
	}
	items, _, _ = s.ListOutboxMessages(ctx, tenants.Page{Limit: 2, Cursor: next})
	if len(items) != 1 || items[0].Subject != "first" || items[0].SentAt == nil {
		t.Fatalf("outbox page 2: %+v", items)
	}
	NewTenant(t, s, "acme-prod")
	NewTenant(t, s, "globex")
	NewTenant(t, s, "under_score")
	got, _, err := s.SearchTenants(ctx, "ACME", tenants.Page{})
	if err != nil || len(got) != 1 || got[0].Slug != "acme-prod" {
		t.Fatalf("search acme: %v %+v", err, got)
	}
	// LIKE wildcards in the query are literal.
	if got, _, _ = s.SearchTenants(ctx, "_", tenants.Page{}); len(got) != 1 || got[0].Slug != "under_score" {
		t.Fatalf("search _: %+v", got)
	}
	if got, _, _ = s.SearchTenants(ctx, "", tenants.Page{}); len(got) != 3 {
		t.Fatalf("empty search: %d", len(got))
	}
}
