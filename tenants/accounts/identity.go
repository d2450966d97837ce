package accounts

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/tenants"
)

// Identity is what a platform IdP login (GitHub, Google, OIDC) proved.
type Identity struct {
	Provider      string // github | google | oidc
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
}

// ErrIdPEmail: the provider did not vouch for an email address.
var ErrIdPEmail = errors.New("your identity provider did not confirm an email address; confirm one there, or sign up with email and password")

// LoginWithIdentity finds (or, where sign-up allows, creates) the account of
// a platform IdP login. A known (provider, subject) is that account; else an
// account with the same email is linked only when the provider verified the
// email, so nobody takes over an account with an unverified address.
func (s *Service) LoginWithIdentity(ctx context.Context, id Identity) (*tenants.Account, error) {
	link, err := s.Store.GetAccountIdentity(ctx, id.Provider, id.Subject)
	if err == nil {
		return s.Store.GetAccount(ctx, link.AccountID)
	}
	if !errors.Is(err, tenants.ErrNotFound) {
		return nil, err
	}
	email, ok := NormalizeEmail(id.Email)
	if !ok || !id.EmailVerified {
		return nil, ErrIdPEmail
	}
	a, err := s.Store.GetAccountByEmail(ctx, email)
	if err != nil && !errors.Is(err, tenants.ErrNotFound) {
		return nil, err
	}
	now := s.now()
	if a == nil {
		n, err := s.Store.CountAccounts(ctx)
		if err != nil {
			return nil, err
		}
		if n > 0 && s.Signup != SignupOpen && s.Signup != "" {
			return nil, ErrSignupClosed
		}
		a = &tenants.Account{ID: tenants.RandomID(), Email: email, Name: id.Name, EmailVerifiedAt: &now, CreatedAt: now, UpdatedAt: now}
		if n == 0 {
			a.PlatformRole = tenants.PlatformOperator
		}
		if err := s.Store.CreateAccount(ctx, a); err != nil {
			return nil, err
		}
		s.audit(ctx, "", tenants.ActAccountCreated, a, "", "", tenants.JSONMap{tenants.DetailProvider: id.Provider, tenants.DetailOperator: n == 0})
	} else if err := s.markVerified(ctx, a); err != nil {
		return nil, err
	}
	if err := s.Store.PutAccountIdentity(ctx, &tenants.AccountIdentity{Provider: id.Provider, Subject: id.Subject, AccountID: a.ID, CreatedAt: now}); err != nil {
		return nil, err
	}
	return a, nil
}
