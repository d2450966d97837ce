package gormstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/tenants"
)

// CreateClient inserts a client; ErrConflict if its id exists in the tenant.
func (s *Store) CreateClient(ctx context.Context, c *tenants.Client) error {
	return translate(s.with(ctx).Create(c).Error)
}

// GetClient by id.
func (s *Store) GetClient(ctx context.Context, tenantID, clientID string) (*tenants.Client, error) {
	return first[tenants.Client](s.with(ctx), "tenant_id = ? AND id = ?", tenantID, clientID)
}

// FindClientByMetadataHash finds a DCR client with identical metadata.
func (s *Store) FindClientByMetadataHash(ctx context.Context, tenantID, hash string) (*tenants.Client, error) {
	return first[tenants.Client](s.with(ctx).Order("created_at"), "tenant_id = ? AND metadata_hash = ? AND kind = ?", tenantID, hash, tenants.ClientDCR)
}

// FindClientTenants lists the tenants that hold clientID.
func (s *Store) FindClientTenants(ctx context.Context, clientID string) ([]string, error) {
	var ids []string
	err := s.with(ctx).Model(&tenants.Client{}).Where("id = ?", clientID).Limit(10).Pluck("tenant_id", &ids).Error
	return ids, translate(err)
}

// ListClients pages by client id.
func (s *Store) ListClients(ctx context.Context, tenantID string, p tenants.Page) ([]tenants.Client, string, error) {
	return page(s.with(ctx).Model(&tenants.Client{}).Where("tenant_id = ?", tenantID), "id", false, p, func(c *tenants.Client) string { return c.ID })
}

// UpdateClient saves a client.
func (s *Store) UpdateClient(ctx context.Context, c *tenants.Client) error {
	return affected(s.with(ctx).Model(&tenants.Client{}).Where("tenant_id = ? AND id = ?", c.TenantID, c.ID).Select("*").Omit("tenant_id", "id", "created_at").Updates(c))
}

// TouchClient records use.
func (s *Store) TouchClient(ctx context.Context, tenantID, clientID string, at time.Time) error {
	return translate(s.with(ctx).Model(&tenants.Client{}).Where("tenant_id = ? AND id = ?", tenantID, clientID).Update("last_used_at", at.UTC()).Error)
}

// DeleteClient removes the client and revokes its grants.
func (s *Store) DeleteClient(ctx context.Context, tenantID, clientID string) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		now := time.Now().UTC()
		if err := tx.Model(&tenants.Grant{}).Where("tenant_id = ? AND client_id = ? AND revoked_at IS NULL", tenantID, clientID).
			Updates(map[string]any{"revoked_at": now, "revoked_reason": tenants.RevokedClientDeleted}).Error; err != nil {
			return err
		}
		for _, m := range []any{&tenants.RefreshToken{}, &tenants.AuthCode{}, &tenants.Consent{}, &tenants.PendingAuthorization{}} {
			if err := tx.Where("tenant_id = ? AND client_id = ?", tenantID, clientID).Delete(m).Error; err != nil {
				return err
			}
		}
		return affected(tx.Where("tenant_id = ? AND id = ?", tenantID, clientID).Delete(&tenants.Client{}))
	})
}

// UpsertUser finds or creates the user by (idp, subject) and refreshes its profile.
func (s *Store) UpsertUser(ctx context.Context, u *tenants.User) error {
	now := time.Now().UTC()
	if u.ID == "" {
		u.ID = tenants.RandomID()
	}
	u.CreatedAt, u.LastLoginAt = now, now
	if u.Orgs == nil {
		u.Orgs = tenants.Strings{}
	}
	// One statement: RETURNING hands back the row as stored, the existing
	// user's id included when the upsert found one.
	err := s.with(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "tenant_id"}, {Name: "idp"}, {Name: "idp_issuer"}, {Name: "idp_subject"}},
		DoUpdates: clause.AssignmentColumns([]string{"email", "name", "username", "orgs", "last_login_at"}),
	}, clause.Returning{}).Create(u).Error
	return translate(err)
}

// GetUser by id.
func (s *Store) GetUser(ctx context.Context, tenantID, id string) (*tenants.User, error) {
	return first[tenants.User](s.with(ctx), "tenant_id = ? AND id = ?", tenantID, id)
}

// ListUsers pages by id.
func (s *Store) ListUsers(ctx context.Context, tenantID string, p tenants.Page) ([]tenants.User, string, error) {
	return page(s.with(ctx).Model(&tenants.User{}).Where("tenant_id = ?", tenantID), "id", false, p, func(u *tenants.User) string { return u.ID })
}

// ListLiveGrantsForUser lists the user's live grants.
func (s *Store) ListLiveGrantsForUser(ctx context.Context, tenantID, userID string, at time.Time) ([]tenants.Grant, error) {
	var gs []tenants.Grant
	err := s.with(ctx).Where("tenant_id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?", tenantID, userID, at.UTC()).
		Order("id").Find(&gs).Error
	return gs, translate(err)
}

// DeleteConsentsForUser removes the user's consents and pending authorizations.
func (s *Store) DeleteConsentsForUser(ctx context.Context, tenantID, userID string) error {
	return s.with(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("tenant_id = ? AND user_id = ?", tenantID, userID).Delete(&tenants.Consent{}).Error; err != nil {
			return err
		}
		return tx.Where("tenant_id = ? AND user_id = ?", tenantID, userID).Delete(&tenants.PendingAuthorization{}).Error
	})
}

// GetConsent returns a remembered consent.
func (s *Store) GetConsent(ctx context.Context, tenantID, userID, clientID string) (*tenants.Consent, error) {
	return first[tenants.Consent](s.with(ctx), "tenant_id = ? AND user_id = ? AND client_id = ?", tenantID, userID, clientID)
}

// PutConsent stores or replaces a consent.
func (s *Store) PutConsent(ctx context.Context, c *tenants.Consent) error {
	c.CreatedAt = time.Now().UTC()
	return translate(s.with(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "tenant_id"}, {Name: "user_id"}, {Name: "client_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"scopes", "created_at"}),
	}).Create(c).Error)
}

// CreatePending inserts a pending authorization.
func (s *Store) CreatePending(ctx context.Context, p *tenants.PendingAuthorization) error {
	return translate(s.with(ctx).Create(p).Error)
}

// GetPending returns an unexpired pending authorization.
func (s *Store) GetPending(ctx context.Context, tenantID, id string) (*tenants.PendingAuthorization, error) {
	return first[tenants.PendingAuthorization](s.with(ctx), "tenant_id = ? AND id = ? AND expires_at > ?", tenantID, id, time.Now().UTC())
}

// UpdatePending saves a pending authorization.
func (s *Store) UpdatePending(ctx context.Context, p *tenants.PendingAuthorization) error {
	return affected(s.with(ctx).Model(&tenants.PendingAuthorization{}).Where("tenant_id = ? AND id = ?", p.TenantID, p.ID).Select("*").Omit("tenant_id", "id", "created_at").Updates(p))
}

// DeletePending removes a pending authorization.
func (s *Store) DeletePending(ctx context.Context, tenantID, id string) error {
	return affected(s.with(ctx).Where("tenant_id = ? AND id = ?", tenantID, id).Delete(&tenants.PendingAuthorization{}))
}

// CreateGrant inserts a grant.
func (s *Store) CreateGrant(ctx context.Context, g *tenants.Grant) error {
	return translate(s.with(ctx).Create(g).Error)
}

// GetGrant by id.
func (s *Store) GetGrant(ctx context.Context, tenantID, id string) (*tenants.Grant, error) {
	return first[tenants.Grant](s.with(ctx), "tenant_id = ? AND id = ?", tenantID, id)
}

// ListGrants pages the tenant's grants newest first.
func (s *Store) ListGrants(ctx context.Context, tenantID string, p tenants.Page) ([]tenants.Grant, string, error) {
	return grantsNewestFirst(s.with(ctx).Model(&tenants.Grant{}).Where("tenant_id = ?", tenantID), p)
}

// ListGrantsForUser pages one user's grants newest first.
func (s *Store) ListGrantsForUser(ctx context.Context, tenantID, userID string, p tenants.Page) ([]tenants.Grant, string, error) {
	return grantsNewestFirst(s.with(ctx).Model(&tenants.Grant{}).Where("tenant_id = ? AND user_id = ?", tenantID, userID), p)
}

// grantsNewestFirst pages q by (created_at, id) descending — a keyset, so
// the order holds across pages, not only within one (index
// idx_grants_tenant_created). The cursor is the last row's key.
func grantsNewestFirst(q *gorm.DB, p tenants.Page) ([]tenants.Grant, string, error) {
	p = p.Normalize()
	after, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	if after != "" {
		at, id, ok := strings.Cut(after, " ")
		t, terr := time.Parse(time.RFC3339Nano, at)
		if !ok || terr != nil {
			return nil, "", fmt.Errorf("%w: malformed cursor", ErrBadCursor)
		}
		t = t.UTC()
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", t, t, id)
	}
	var items []tenants.Grant
	if err := q.Order("created_at DESC, id DESC").Limit(p.Limit + 1).Find(&items).Error; err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(items) > p.Limit {
		items = items[:p.Limit]
		last := items[len(items)-1]
		next = encodeCursor(last.CreatedAt.UTC().Format(time.RFC3339Nano) + " " + last.ID)
	}
	return items, next, nil
}

// UpdateGrant saves a grant.
func (s *Store) UpdateGrant(ctx context.Context, g *tenants.Grant) error {
	return affected(s.with(ctx).Model(&tenants.Grant{}).Where("tenant_id = ? AND id = ?", g.TenantID, g.ID).Select("*").Omit("tenant_id", "id", "created_at").Updates(g))
}

// TouchGrant updates last_used_at (and expires_at) of an unrevoked grant only.
func (s *Store) TouchGrant(ctx context.Context, tenantID, id string, at time.Time, expiresAt *time.Time) error {
	upd := map[string]any{"last_used_at": at.UTC()}
	if expiresAt != nil {
		upd["expires_at"] = expiresAt.UTC()
	}
	return translate(s.with(ctx).Model(&tenants.Grant{}).Where("tenant_id = ? AND id = ? AND revoked_at IS NULL", tenantID, id).Updates(upd).Error)
}

// RevokeGrant revokes a grant and deletes its refresh tokens and codes.
func (s *Store) RevokeGrant(ctx context.Context, tenantID, id, reason string, at time.Time) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		var g tenants.Grant
		if err := tx.Where("tenant_id = ? AND id = ?", tenantID, id).Take(&g).Error; err != nil {
			return translate(err)
		}
		if g.RevokedAt == nil {
			if err := tx.Model(&tenants.Grant{}).Where("tenant_id = ? AND id = ?", tenantID, id).
				Updates(map[string]any{"revoked_at": at.UTC(), "revoked_reason": reason}).Error; err != nil {
				return err
			}
		}
		if err := tx.Where("tenant_id = ? AND grant_id = ?", tenantID, id).Delete(&tenants.RefreshToken{}).Error; err != nil {
			return err
		}
		return tx.Where("tenant_id = ? AND grant_id = ?", tenantID, id).Delete(&tenants.AuthCode{}).Error
	})
}

// FindClientGrant finds a client's own live grant for resource and scopes.
func (s *Store) FindClientGrant(ctx context.Context, tenantID, clientID, resource string, scopes tenants.Strings, liveUntil time.Time) (*tenants.Grant, error) {
	return first[tenants.Grant](s.with(ctx).Order("expires_at DESC"),
		"tenant_id = ? AND client_id = ? AND subject = ? AND user_id = '' AND resource = ? AND scopes = ? AND revoked_at IS NULL AND expires_at > ?",
		tenantID, clientID, clientID, resource, scopes, liveUntil.UTC())
}

// CountLiveGrantsForClient counts live grants of a client.
func (s *Store) CountLiveGrantsForClient(ctx context.Context, tenantID, clientID string, at time.Time) (int64, error) {
	var n int64
	err := s.with(ctx).Model(&tenants.Grant{}).Where("tenant_id = ? AND client_id = ? AND revoked_at IS NULL AND expires_at > ?", tenantID, clientID, at.UTC()).Count(&n).Error
	return n, translate(err)
}

// CreateAuthCode inserts a code.
func (s *Store) CreateAuthCode(ctx context.Context, c *tenants.AuthCode) error {
	return translate(s.with(ctx).Create(c).Error)
}

// CreateRefreshToken inserts a refresh token.
func (s *Store) CreateRefreshToken(ctx context.Context, r *tenants.RefreshToken) error {
	return translate(s.with(ctx).Create(r).Error)
}

// GetRefreshToken by hash.
func (s *Store) GetRefreshToken(ctx context.Context, tenantID, hash string) (*tenants.RefreshToken, error) {
	return first[tenants.RefreshToken](s.with(ctx), "tenant_id = ? AND hash = ?", tenantID, hash)
}

// DeleteRefreshTokensForGrant removes every refresh token of a grant.
func (s *Store) DeleteRefreshTokensForGrant(ctx context.Context, tenantID, grantID string) error {
	return translate(s.with(ctx).Where("tenant_id = ? AND grant_id = ?", tenantID, grantID).Delete(&tenants.RefreshToken{}).Error)
}
