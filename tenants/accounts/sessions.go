package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Session methods.
const (
	MethodPassword     = "password"
	MethodPasswordTOTP = "password+totp"
	MethodIdPPrefix    = "idp:"
)

// touchEvery bounds how often a session's last_seen_at is written.
const touchEvery = time.Minute

// StartSession creates a new server-side session and returns the cookie
// value. Every sign-in makes a new random value: a session id planted
// before sign-in never becomes a session (no fixation).
func (s *Service) StartSession(ctx context.Context, a *tenants.Account, method string) (string, *tenants.AccountSession, error) {
	tok := tenants.RandomToken()
	now := s.now()
	ri := tenants.RequestInfoFrom(ctx)
	ua := ri.UserAgent
	if len(ua) > 512 {
		ua = ua[:512]
	}
	as := &tenants.AccountSession{ID: tenants.RandomID(), TokenHash: tenants.HashSecret(tok), AccountID: a.ID, IP: ri.IP, UserAgent: ua,
		Method: method, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.Store.CreateAccountSession(ctx, as); err != nil {
		return "", nil, err
	}
	s.audit(ctx, "", tenants.ActAccountLogin, a, tenants.OutcomeSuccess, "", tenants.JSONMap{tenants.DetailMethod: method})
	return tok, as, nil
}

// ErrNoSession means the cookie names no live session.
var ErrNoSession = errors.New("no session")

// Session resolves a cookie value to its live session and account.
func (s *Service) Session(ctx context.Context, token string) (*tenants.AccountSession, *tenants.Account, error) {
	if token == "" {
		return nil, nil, ErrNoSession
	}
	now := s.now()
	as, err := s.Store.GetAccountSessionByHash(ctx, tenants.HashSecret(token), now)
	if errors.Is(err, tenants.ErrNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	a, err := s.Store.GetAccount(ctx, as.AccountID)
	if errors.Is(err, tenants.ErrNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	if now.Sub(as.LastSeenAt) > touchEvery {
		_ = s.Store.TouchAccountSession(ctx, as.ID, now)
	}
	return as, a, nil
}

// EndSession ends one session of the account (logout, or revoke from the
// session list).
func (s *Service) EndSession(ctx context.Context, a *tenants.Account, id string) error {
	err := s.Store.DeleteAccountSession(ctx, a.ID, id)
	if err == nil {
		s.audit(ctx, "", tenants.ActAccountLogout, a, "", "", nil)
	}
	return err
}

// EndOtherSessions ends every session of the account but keep.
func (s *Service) EndOtherSessions(ctx context.Context, a *tenants.Account, keep string) (int64, error) {
	n, err := s.Store.DeleteAccountSessions(ctx, a.ID, keep)
	if err == nil {
		s.audit(ctx, "", tenants.ActAccountSessionsEnded, a, "", "", tenants.JSONMap{tenants.DetailSessionsEnded: n})
	}
	return n, err
}

// Sessions lists the account's live sessions.
func (s *Service) Sessions(ctx context.Context, a *tenants.Account) ([]tenants.AccountSession, error) {
	return s.Store.ListAccountSessions(ctx, a.ID, s.now())
}
