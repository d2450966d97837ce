package accounts

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
)

var roleRank = map[string]int{tenants.RoleViewer: 1, tenants.RoleAdmin: 2, tenants.RoleOwner: 3}

// ValidRole reports whether r is a team role.
func ValidRole(r string) bool { return roleRank[r] > 0 }

// Allows reports whether role may do what need requires: owner ⊃ admin ⊃
// viewer (DESIGN §12: viewer reads all but secrets; admin changes settings
// and revokes; owner also manages members, keys and deletion).
func Allows(role, need string) bool { return roleRank[role] > 0 && roleRank[role] >= roleRank[need] }

// Role is the account's role in the team: its membership, or viewer for an
// operator without one (operators support every team read-only; they
// suspend and delete from the operator view). "" means no access.
func (s *Service) Role(ctx context.Context, t *tenants.Tenant, a *tenants.Account) (string, error) {
	return roleIn(ctx, s.Store, t, a)
}

func roleIn(ctx context.Context, st tenants.Store, t *tenants.Tenant, a *tenants.Account) (string, error) {
	m, err := st.GetMembership(ctx, t.ID, a.ID)
	if err == nil {
		return m.Role, nil
	}
	if !errors.Is(err, tenants.ErrNotFound) {
		return "", err
	}
	if a.Operator() {
		return tenants.RoleViewer, nil
	}
	return "", nil
}

func (s *Service) require(ctx context.Context, t *tenants.Tenant, a *tenants.Account, need string) error {
	return requireIn(ctx, s.Store, t, a, need)
}

func requireIn(ctx context.Context, st tenants.Store, t *tenants.Tenant, a *tenants.Account, need string) error {
	r, err := roleIn(ctx, st, t, a)
	if err != nil {
		return err
	}
	if !Allows(r, need) {
		return ErrForbidden
	}
	return nil
}

// CreateTeam creates a tenant with the account as its owner.
func (s *Service) CreateTeam(ctx context.Context, a *tenants.Account, in tenants.TenantInput) (*tenants.Tenant, error) {
	if !a.Verified() {
		return nil, ErrUnverified
	}
	t, err := s.Prov.CreateTenant(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.Store.PutMembership(ctx, &tenants.Membership{TenantID: t.ID, AccountID: a.ID, Role: tenants.RoleOwner, CreatedAt: s.now()}); err != nil {
		// Nothing half-written: a team nobody owns is removed.
		_ = s.Store.DeleteTenant(context.WithoutCancel(ctx), t.ID)
		return nil, err
	}
	s.audit(ctx, t.ID, tenants.ActTeamCreated, a, "", "", tenants.JSONMap{tenants.DetailTeam: t.Slug})
	return t, nil
}

// Invitation is a new invitation and the link to pass on.
type Invitation struct {
	*tenants.Invitation
	Link string
}

// Invite asks email to join the team with role; owners only. The link is
// mailed (or left for operators) and returned for the inviter to pass on.
func (s *Service) Invite(ctx context.Context, actor *tenants.Account, t *tenants.Tenant, rawEmail, role string) (*Invitation, error) {
	if err := s.require(ctx, t, actor, tenants.RoleOwner); err != nil {
		return nil, err
	}
	v := &tenants.ValidationError{}
	email, ok := NormalizeEmail(rawEmail)
	if !ok {
		v.Add("email", "is not an email address")
	}
	if !ValidRole(role) {
		v.Add("role", "must be owner, admin or viewer")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	tok := tenants.RandomToken()
	now := s.now()
	inv := &tenants.Invitation{TenantID: t.ID, ID: tenants.RandomID(), Email: email, Role: role, TokenHash: tenants.HashSecret(tok),
		InvitedBy: actor.ID, CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
	if err := s.Store.CreateInvitation(ctx, inv); err != nil {
		return nil, err
	}
	link := s.link("/invite", tok)
	who := actor.Email
	if actor.Name != "" {
		who = actor.Name + " (" + actor.Email + ")"
	}
	s.send(ctx, email, "You are invited to the team "+t.Name+" on Gatehouse",
		who+" invited you to join the team "+t.Name+" as "+role+".\n\nOpen this link to accept (it works once, for 7 days):\n\n"+link+"\n", link, "invitation")
	s.audit(ctx, t.ID, tenants.ActMemberInvited, actor, "", "", tenants.JSONMap{tenants.DetailInvitedEmail: email, tenants.DetailRole: role})
	return &Invitation{Invitation: inv, Link: link}, nil
}

// InvitationFor returns the live invitation of a link (to show whom it is
// for before the person signs in or up).
func (s *Service) InvitationFor(ctx context.Context, token string) (*tenants.Invitation, *tenants.Tenant, error) {
	inv, err := s.Store.GetInvitationByHash(ctx, tenants.HashSecret(token), s.now())
	if err != nil {
		return nil, nil, linkErr(err)
	}
	t, err := s.Store.GetTenant(ctx, inv.TenantID)
	if err != nil {
		return nil, nil, err
	}
	return inv, t, nil
}

// AcceptInvitation makes the signed-in account a member. The invitation
// names an email; only the account with that email may use it.
func (s *Service) AcceptInvitation(ctx context.Context, a *tenants.Account, token string) (*tenants.Tenant, error) {
	inv, _, err := s.InvitationFor(ctx, token)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(inv.Email, a.Email) {
		return nil, &WrongAccountError{Email: inv.Email}
	}
	return s.join(ctx, a, token)
}

// WrongAccountError: the invitation names another email address.
type WrongAccountError struct{ Email string }

func (e *WrongAccountError) Error() string {
	return "this invitation is for " + e.Email + "; sign in with that address to accept it"
}

func (s *Service) join(ctx context.Context, a *tenants.Account, token string) (*tenants.Tenant, error) {
	inv, err := s.Store.AcceptInvitation(ctx, tenants.HashSecret(token), s.now())
	if err != nil {
		return nil, linkErr(err)
	}
	t, err := s.Store.GetTenant(ctx, inv.TenantID)
	if err != nil {
		return nil, err
	}
	// An existing member keeps the stronger of the two roles.
	if m, err := s.Store.GetMembership(ctx, t.ID, a.ID); err == nil && roleRank[m.Role] >= roleRank[inv.Role] {
		return t, nil
	}
	if err := s.Store.PutMembership(ctx, &tenants.Membership{TenantID: t.ID, AccountID: a.ID, Role: inv.Role, CreatedAt: s.now()}); err != nil {
		return nil, err
	}
	if err := s.markVerified(ctx, a); err != nil { // the link reached this mailbox
		return nil, err
	}
	s.audit(ctx, t.ID, tenants.ActMemberJoined, a, "", "", tenants.JSONMap{tenants.DetailRole: inv.Role})
	return t, nil
}

// SetRole changes a member's role; owners only; the last owner stays owner.
func (s *Service) SetRole(ctx context.Context, actor *tenants.Account, t *tenants.Tenant, accountID, role string) error {
	if !ValidRole(role) {
		return &tenants.ValidationError{Errors: []tenants.FieldError{{Field: "role", Detail: "must be owner, admin or viewer"}}}
	}
	err := s.changeMember(ctx, actor, t, accountID, true, func(st tenants.Store, m *tenants.Membership) (bool, error) {
		m.Role = role
		return role != tenants.RoleOwner, st.PutMembership(ctx, m)
	})
	if err == nil {
		s.audit(ctx, t.ID, tenants.ActMemberRoleChanged, actor, "", "", tenants.JSONMap{tenants.DetailMember: accountID, tenants.DetailRole: role})
	}
	return err
}

// RemoveMember removes a member (owners), or the actor itself (leaving);
// the last owner can neither leave nor be removed.
func (s *Service) RemoveMember(ctx context.Context, actor *tenants.Account, t *tenants.Tenant, accountID string) error {
	err := s.changeMember(ctx, actor, t, accountID, accountID != actor.ID, func(st tenants.Store, _ *tenants.Membership) (bool, error) {
		return true, st.DeleteMembership(ctx, t.ID, accountID)
	})
	if err == nil {
		s.audit(ctx, t.ID, tenants.ActMemberRemoved, actor, "", "", tenants.JSONMap{tenants.DetailMember: accountID})
	}
	return err
}

// changeMember applies change to a membership in one transaction that first
// locks the team's owners (Store.CountOwners), then checks the actor's role
// (when ownerOnly) and the last-owner rule: two owners demoting or removing
// each other at once are serialised, and the second finds the first's change
// (it is no longer an owner, or its target is the last one). change reports
// whether the member stops being an owner. The audit event is written after
// the transaction (the auditor has its own connection).
func (s *Service) changeMember(ctx context.Context, actor *tenants.Account, t *tenants.Tenant, accountID string, ownerOnly bool,
	change func(tenants.Store, *tenants.Membership) (bool, error)) error {
	return s.Store.InTx(ctx, func(st tenants.Store) error {
		owners, err := st.CountOwners(ctx, t.ID)
		if err != nil {
			return err
		}
		if ownerOnly {
			if err := requireIn(ctx, st, t, actor, tenants.RoleOwner); err != nil {
				return err
			}
		}
		m, err := st.GetMembership(ctx, t.ID, accountID)
		if err != nil {
			return err
		}
		wasOwner := m.Role == tenants.RoleOwner
		stops, err := change(st, m)
		if err != nil {
			return err
		}
		if wasOwner && stops && owners <= 1 {
			return ErrLastOwner // the transaction rolls the change back
		}
		return nil
	})
}

// Teams lists the account's teams with its role in each.
func (s *Service) Teams(ctx context.Context, a *tenants.Account) ([]TeamRole, error) {
	ms, err := s.Store.ListMemberships(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	out := make([]TeamRole, 0, len(ms))
	for _, m := range ms {
		t, err := s.Store.GetTenant(ctx, m.TenantID)
		if errors.Is(err, tenants.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, TeamRole{Tenant: t, Role: m.Role})
	}
	return out, nil
}

// TeamRole is one team of an account.
type TeamRole struct {
	Tenant *tenants.Tenant
	Role   string
}
