package accounts

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/tenants"
)

// GrantOperator gives the platform role to the account with email
// (`gatehouse admin grant EMAIL`) and confirms its address: the person at
// the deployment's terminal vouches for it (how the first account of a
// deployment without SMTP and with JSON logs gets in).
func (s *Service) GrantOperator(ctx context.Context, rawEmail string) (*tenants.Account, error) {
	email, ok := NormalizeEmail(rawEmail)
	if !ok {
		return nil, errors.New("not an email address")
	}
	a, err := s.Store.GetAccountByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if err := s.markVerified(ctx, a); err != nil {
		return nil, err
	}
	if a.Operator() {
		return a, nil
	}
	a.PlatformRole = tenants.PlatformOperator
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		return nil, err
	}
	s.audit(ctx, "", tenants.ActOperatorGranted, a, "", "cli", nil)
	return a, nil
}

func operatorOnly(op *tenants.Account) error {
	if op == nil || !op.Operator() {
		return ErrForbidden
	}
	return nil
}

// SetSuspended suspends (or resumes) a team: its connector answers a clear
// error and its tokens stop working at once on every replica (the tenant
// change notice drops cached tenants; the gateway checks the flag).
func (s *Service) SetSuspended(ctx context.Context, op *tenants.Account, t *tenants.Tenant, suspend bool) error {
	if err := operatorOnly(op); err != nil {
		return err
	}
	if suspend == t.Suspended() {
		return nil
	}
	if suspend {
		now := s.now()
		t.SuspendedAt = &now
	} else {
		t.SuspendedAt = nil
	}
	if err := s.Store.UpdateTenant(ctx, t); err != nil {
		return err
	}
	if s.Prov != nil && s.Prov.Bus != nil {
		_ = s.Prov.Bus.Publish(context.WithoutCancel(ctx), tenants.TopicTenantChanged, t.ID)
	}
	act := tenants.ActTeamSuspended
	if !suspend {
		act = tenants.ActTeamResumed
	}
	details := tenants.JSONMap{tenants.DetailTeam: t.Slug}
	s.audit(ctx, t.ID, act, op, "", "", details)
	s.audit(ctx, "", act, op, "", "", details)
	return nil
}

// DeleteTeam deletes a team with everything it holds: its owner, or an
// operator.
func (s *Service) DeleteTeam(ctx context.Context, actor *tenants.Account, t *tenants.Tenant) error {
	if !actor.Operator() {
		if err := s.require(ctx, t, actor, tenants.RoleOwner); err != nil {
			return err
		}
	}
	if err := s.Prov.DeleteTenant(ctx, t); err != nil {
		return err
	}
	s.audit(ctx, "", tenants.ActTeamDeleted, actor, "", "", tenants.JSONMap{tenants.DetailTeam: t.Slug})
	return nil
}
