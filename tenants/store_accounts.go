package tenants

import (
	"context"
	"time"
)

// AccountStore holds accounts, their sessions, link tokens, IdP identities,
// team memberships, invitations and the mail outbox (DESIGN §12).
type AccountStore interface {
	// CreateAccount inserts a; ErrConflict if the email is taken.
	CreateAccount(ctx context.Context, a *Account) error
	GetAccount(ctx context.Context, id string) (*Account, error)
	// GetAccountByEmail matches the lower-cased email.
	GetAccountByEmail(ctx context.Context, email string) (*Account, error)
	UpdateAccount(ctx context.Context, a *Account) error
	// CountAccounts is how a fresh deployment knows its first account.
	CountAccounts(ctx context.Context) (int64, error)
	// UseTOTPStep records that a TOTP code of step was used; false when
	// step is not after the last one used (a replayed code).
	UseTOTPStep(ctx context.Context, accountID string, step int64) (bool, error)
	// UseRecoveryCode removes hash from the account's recovery codes;
	// false when it was not there.
	UseRecoveryCode(ctx context.Context, accountID, hash string) (bool, error)

	PutAccountIdentity(ctx context.Context, id *AccountIdentity) error
	GetAccountIdentity(ctx context.Context, provider, subject string) (*AccountIdentity, error)

	CreateAccountSession(ctx context.Context, s *AccountSession) error
	// GetAccountSessionByHash returns a session that has not expired at now.
	GetAccountSessionByHash(ctx context.Context, tokenHash string, now time.Time) (*AccountSession, error)
	ListAccountSessions(ctx context.Context, accountID string, now time.Time) ([]AccountSession, error)
	TouchAccountSession(ctx context.Context, id string, at time.Time) error
	DeleteAccountSession(ctx context.Context, accountID, id string) error
	// DeleteExpiredAccountSessions removes at most limit sessions that
	// expired before t (the sweep); returns the count.
	DeleteExpiredAccountSessions(ctx context.Context, before time.Time, limit int) (int64, error)
	// DeleteAccountSessions ends every session of the account except keep
	// ("" ends all); returns how many ended.
	DeleteAccountSessions(ctx context.Context, accountID, keep string) (int64, error)

	CreateAccountToken(ctx context.Context, t *AccountToken) error
	// PeekAccountToken returns a live, unused token without using it.
	PeekAccountToken(ctx context.Context, hash, purpose string, now time.Time) (*AccountToken, error)
	// UseAccountToken marks the token used and returns it, once: a second
	// use, an expired token or another purpose is ErrNotFound.
	UseAccountToken(ctx context.Context, hash, purpose string, now time.Time) (*AccountToken, error)

	// PutMembership creates or changes the account's role in the team.
	PutMembership(ctx context.Context, m *Membership) error
	GetMembership(ctx context.Context, tenantID, accountID string) (*Membership, error)
	DeleteMembership(ctx context.Context, tenantID, accountID string) error
	ListMembers(ctx context.Context, tenantID string) ([]MemberView, error)
	// ListMemberships lists the account's teams.
	ListMemberships(ctx context.Context, accountID string) ([]Membership, error)
	// CountOwners counts the team's owners; inside InTx it holds them
	// (a row lock where the database has one) until the transaction ends.
	CountOwners(ctx context.Context, tenantID string) (int64, error)

	CreateInvitation(ctx context.Context, inv *Invitation) error
	ListInvitations(ctx context.Context, tenantID string) ([]Invitation, error)
	DeleteInvitation(ctx context.Context, tenantID, id string) error
	// GetInvitationByHash returns a live, unaccepted invitation.
	GetInvitationByHash(ctx context.Context, tokenHash string, now time.Time) (*Invitation, error)
	// AcceptInvitation marks the invitation accepted and returns it, once:
	// a second use or an expired invitation is ErrNotFound.
	AcceptInvitation(ctx context.Context, tokenHash string, now time.Time) (*Invitation, error)

	CreateOutboxMessage(ctx context.Context, m *OutboxMessage) error
	UpdateOutboxMessage(ctx context.Context, m *OutboxMessage) error
	// ListOutboxMessages pages newest first.
	ListOutboxMessages(ctx context.Context, p Page) ([]OutboxMessage, string, error)

	// SearchTenants pages tenants whose slug or name contains q (case-insensitive).
	SearchTenants(ctx context.Context, q string, p Page) ([]Tenant, string, error)
}
