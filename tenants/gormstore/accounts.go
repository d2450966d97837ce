package gormstore

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/tenants"
)

// CreateAccount inserts a with its email lower-cased.
func (s *Store) CreateAccount(ctx context.Context, a *tenants.Account) error {
	a.Email = strings.ToLower(a.Email)
	return translate(s.with(ctx).Create(a).Error)
}

// GetAccount by id.
func (s *Store) GetAccount(ctx context.Context, id string) (*tenants.Account, error) {
	return first[tenants.Account](s.with(ctx), "id = ?", id)
}

// GetAccountByEmail by lower-cased email.
func (s *Store) GetAccountByEmail(ctx context.Context, email string) (*tenants.Account, error) {
	return first[tenants.Account](s.with(ctx), "email = ?", strings.ToLower(email))
}

// UpdateAccount saves every field of a.
func (s *Store) UpdateAccount(ctx context.Context, a *tenants.Account) error {
	a.UpdatedAt = time.Now().UTC()
	a.Email = strings.ToLower(a.Email)
	return affected(s.with(ctx).Model(&tenants.Account{}).Where("id = ?", a.ID).Select("*").Omit("created_at").Updates(a))
}

// CountAccounts counts every account.
func (s *Store) CountAccounts(ctx context.Context) (int64, error) {
	var n int64
	err := s.with(ctx).Model(&tenants.Account{}).Count(&n).Error
	return n, translate(err)
}

// UseTOTPStep moves totp_last_step forward atomically: of two logins with
// the same code, one wins.
func (s *Store) UseTOTPStep(ctx context.Context, accountID string, step int64) (bool, error) {
	res := s.with(ctx).Model(&tenants.Account{}).Where("id = ? AND totp_last_step < ?", accountID, step).Update("totp_last_step", step)
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// UseRecoveryCode removes one recovery code hash; a compare-and-swap on the
// whole list, so a code cannot be used twice by two concurrent logins.
func (s *Store) UseRecoveryCode(ctx context.Context, accountID, hash string) (bool, error) {
	for range 5 {
		a, err := s.GetAccount(ctx, accountID)
		if err != nil {
			return false, err
		}
		rest := make(tenants.Strings, 0, len(a.RecoveryCodes))
		found := false
		for _, h := range a.RecoveryCodes {
			if h == hash && !found {
				found = true
				continue
			}
			rest = append(rest, h)
		}
		if !found {
			return false, nil
		}
		old, _ := a.RecoveryCodes.Value()
		res := s.with(ctx).Model(&tenants.Account{}).Where("id = ? AND recovery_codes = ?", accountID, old).Update("recovery_codes", rest)
		if res.Error != nil {
			return false, translate(res.Error)
		}
		if res.RowsAffected == 1 {
			return true, nil
		}
	}
	return false, nil
}

// PutAccountIdentity links a platform IdP subject to an account.
func (s *Store) PutAccountIdentity(ctx context.Context, id *tenants.AccountIdentity) error {
	if id.CreatedAt.IsZero() {
		id.CreatedAt = time.Now().UTC()
	}
	return translate(s.with(ctx).Create(id).Error)
}

// GetAccountIdentity finds the link of a provider subject.
func (s *Store) GetAccountIdentity(ctx context.Context, provider, subject string) (*tenants.AccountIdentity, error) {
	return first[tenants.AccountIdentity](s.with(ctx), "provider = ? AND subject = ?", provider, subject)
}

// CreateAccountSession inserts a session.
func (s *Store) CreateAccountSession(ctx context.Context, as *tenants.AccountSession) error {
	return translate(s.with(ctx).Create(as).Error)
}

// GetAccountSessionByHash finds a live session by its token hash.
func (s *Store) GetAccountSessionByHash(ctx context.Context, tokenHash string, now time.Time) (*tenants.AccountSession, error) {
	return first[tenants.AccountSession](s.with(ctx), "token_hash = ? AND expires_at > ?", tokenHash, now.UTC())
}

// ListAccountSessions lists the account's live sessions, newest first.
func (s *Store) ListAccountSessions(ctx context.Context, accountID string, now time.Time) ([]tenants.AccountSession, error) {
	return all[tenants.AccountSession](s.with(ctx).Order("created_at DESC"), "account_id = ? AND expires_at > ?", accountID, now.UTC())
}

// TouchAccountSession records use.
func (s *Store) TouchAccountSession(ctx context.Context, id string, at time.Time) error {
	return translate(s.with(ctx).Model(&tenants.AccountSession{}).Where("id = ?", id).Update("last_seen_at", at.UTC()).Error)
}

// DeleteAccountSession ends one session of the account.
func (s *Store) DeleteAccountSession(ctx context.Context, accountID, id string) error {
	return affected(s.with(ctx).Where("account_id = ? AND id = ?", accountID, id).Delete(&tenants.AccountSession{}))
}

// DeleteAccountSessions ends the account's sessions except keep.
func (s *Store) DeleteAccountSessions(ctx context.Context, accountID, keep string) (int64, error) {
	q := s.with(ctx).Where("account_id = ?", accountID)
	if keep != "" {
		q = q.Where("id <> ?", keep)
	}
	res := q.Delete(&tenants.AccountSession{})
	return res.RowsAffected, translate(res.Error)
}

// DeleteExpiredAccountSessions removes sessions past their lifetime.
func (s *Store) DeleteExpiredAccountSessions(ctx context.Context, before time.Time, limit int) (int64, error) {
	res := s.with(ctx).Exec(`DELETE FROM account_sessions WHERE id IN
		(SELECT id FROM account_sessions WHERE expires_at < ? LIMIT ?)`, before.UTC(), limit)
	return res.RowsAffected, translate(res.Error)
}

// CreateAccountToken stores a link token (hash only).
func (s *Store) CreateAccountToken(ctx context.Context, t *tenants.AccountToken) error {
	return translate(s.with(ctx).Create(t).Error)
}

// PeekAccountToken finds a live, unused token.
func (s *Store) PeekAccountToken(ctx context.Context, hash, purpose string, now time.Time) (*tenants.AccountToken, error) {
	return first[tenants.AccountToken](s.with(ctx), "hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", hash, purpose, now.UTC())
}

// UseAccountToken marks the token used with one conditional update, so two
// concurrent uses cannot both succeed.
func (s *Store) UseAccountToken(ctx context.Context, hash, purpose string, now time.Time) (*tenants.AccountToken, error) {
	now = now.UTC()
	res := s.with(ctx).Model(&tenants.AccountToken{}).
		Where("hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", hash, purpose, now).Update("used_at", now)
	if err := affected(res); err != nil {
		return nil, err
	}
	return first[tenants.AccountToken](s.with(ctx), "hash = ?", hash)
}

// PutMembership upserts the account's role in the team.
func (s *Store) PutMembership(ctx context.Context, m *tenants.Membership) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	return translate(s.with(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "tenant_id"}, {Name: "account_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"role"}),
	}).Create(m).Error)
}

// GetMembership of one account in one team.
func (s *Store) GetMembership(ctx context.Context, tenantID, accountID string) (*tenants.Membership, error) {
	return first[tenants.Membership](s.with(ctx), "tenant_id = ? AND account_id = ?", tenantID, accountID)
}

// DeleteMembership removes the account from the team.
func (s *Store) DeleteMembership(ctx context.Context, tenantID, accountID string) error {
	return affected(s.with(ctx).Where("tenant_id = ? AND account_id = ?", tenantID, accountID).Delete(&tenants.Membership{}))
}

// ListMembers lists the team's members with their email and name.
func (s *Store) ListMembers(ctx context.Context, tenantID string) ([]tenants.MemberView, error) {
	var out []tenants.MemberView
	err := s.with(ctx).Table("memberships").
		Select("memberships.tenant_id, memberships.account_id, memberships.role, memberships.created_at, accounts.email, accounts.name").
		Joins("JOIN accounts ON accounts.id = memberships.account_id").
		Where("memberships.tenant_id = ?", tenantID).Order("accounts.email").Scan(&out).Error
	return out, translate(err)
}

// ListMemberships lists the account's teams.
func (s *Store) ListMemberships(ctx context.Context, accountID string) ([]tenants.Membership, error) {
	return all[tenants.Membership](s.with(ctx).Order("created_at"), "account_id = ?", accountID)
}

// CountOwners counts the team's owners. On Postgres it also locks their rows
// (SELECT … FOR UPDATE) until the surrounding transaction ends, so two
// last-owner checks (tenants/accounts) cannot both pass on the same owners;
// a transaction that waited re-reads the rows and no longer counts an owner
// the other demoted or removed. SQLite's InTx holds the write lock already.
func (s *Store) CountOwners(ctx context.Context, tenantID string) (int64, error) {
	q := s.with(ctx).Model(&tenants.Membership{}).Where("tenant_id = ? AND role = ?", tenantID, tenants.RoleOwner)
	if s.dialect == "postgres" {
		var ids []string
		err := q.Clauses(clause.Locking{Strength: "UPDATE"}).Pluck("account_id", &ids).Error
		return int64(len(ids)), translate(err)
	}
	var n int64
	err := q.Count(&n).Error
	return n, translate(err)
}

// CreateInvitation stores an invitation (token hash only).
func (s *Store) CreateInvitation(ctx context.Context, inv *tenants.Invitation) error {
	return translate(s.with(ctx).Create(inv).Error)
}

// ListInvitations lists the team's invitations, newest first.
func (s *Store) ListInvitations(ctx context.Context, tenantID string) ([]tenants.Invitation, error) {
	return all[tenants.Invitation](s.with(ctx).Order("created_at DESC"), "tenant_id = ?", tenantID)
}

// DeleteInvitation withdraws an invitation.
func (s *Store) DeleteInvitation(ctx context.Context, tenantID, id string) error {
	return affected(s.with(ctx).Where("tenant_id = ? AND id = ?", tenantID, id).Delete(&tenants.Invitation{}))
}

// GetInvitationByHash finds a live, unaccepted invitation.
func (s *Store) GetInvitationByHash(ctx context.Context, tokenHash string, now time.Time) (*tenants.Invitation, error) {
	return first[tenants.Invitation](s.with(ctx), "token_hash = ? AND accepted_at IS NULL AND expires_at > ?", tokenHash, now.UTC())
}

// AcceptInvitation marks the invitation accepted with one conditional update.
func (s *Store) AcceptInvitation(ctx context.Context, tokenHash string, now time.Time) (*tenants.Invitation, error) {
	now = now.UTC()
	res := s.with(ctx).Model(&tenants.Invitation{}).
		Where("token_hash = ? AND accepted_at IS NULL AND expires_at > ?", tokenHash, now).Update("accepted_at", now)
	if err := affected(res); err != nil {
		return nil, err
	}
	return first[tenants.Invitation](s.with(ctx), "token_hash = ?", tokenHash)
}

// CreateOutboxMessage stores a message (body sealed by the caller).
func (s *Store) CreateOutboxMessage(ctx context.Context, m *tenants.OutboxMessage) error {
	return translate(s.with(ctx).Create(m).Error)
}

// UpdateOutboxMessage records delivery.
func (s *Store) UpdateOutboxMessage(ctx context.Context, m *tenants.OutboxMessage) error {
	return affected(s.with(ctx).Model(&tenants.OutboxMessage{}).Where("id = ?", m.ID).
		Select("sent_at", "last_error").Updates(m))
}

// ListOutboxMessages pages newest first.
func (s *Store) ListOutboxMessages(ctx context.Context, p tenants.Page) ([]tenants.OutboxMessage, string, error) {
	return page(s.with(ctx).Model(&tenants.OutboxMessage{}), "id", true, p, func(m *tenants.OutboxMessage) string { return m.ID })
}

// SearchTenants pages tenants by slug whose slug or name contains q.
func (s *Store) SearchTenants(ctx context.Context, q string, p tenants.Page) ([]tenants.Tenant, string, error) {
	db := s.with(ctx).Model(&tenants.Tenant{})
	if q = strings.TrimSpace(strings.ToLower(q)); q != "" {
		like := "%" + likeEscape(q) + "%"
		db = db.Where("(LOWER(slug) LIKE ? ESCAPE '\\' OR LOWER(name) LIKE ? ESCAPE '\\')", like, like)
	}
	return page(db, "slug", false, p, func(t *tenants.Tenant) string { return t.Slug })
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
