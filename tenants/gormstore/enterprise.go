package gormstore

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// CreateEnterpriseIdP inserts e; the unique (tenant_id, issuer) index makes
// a second trust of the same issuer ErrConflict.
func (s *Store) CreateEnterpriseIdP(ctx context.Context, e *tenants.EnterpriseIdP) error {
	return translate(s.with(ctx).Create(e).Error)
}

// ListEnterpriseIdPs lists the tenant's IdPs, oldest first.
func (s *Store) ListEnterpriseIdPs(ctx context.Context, tenantID string) ([]tenants.EnterpriseIdP, error) {
	return all[tenants.EnterpriseIdP](s.with(ctx).Order("created_at, id"), "tenant_id = ?", tenantID)
}

// GetEnterpriseIdP loads one IdP of the tenant.
func (s *Store) GetEnterpriseIdP(ctx context.Context, tenantID, id string) (*tenants.EnterpriseIdP, error) {
	return first[tenants.EnterpriseIdP](s.with(ctx), "tenant_id = ? AND id = ?", tenantID, id)
}

// FindEnterpriseIdP finds the tenant's IdP by exact issuer.
func (s *Store) FindEnterpriseIdP(ctx context.Context, tenantID, issuer string) (*tenants.EnterpriseIdP, error) {
	return first[tenants.EnterpriseIdP](s.with(ctx), "tenant_id = ? AND issuer = ?", tenantID, issuer)
}

// DeleteEnterpriseIdP removes one IdP of the tenant.
func (s *Store) DeleteEnterpriseIdP(ctx context.Context, tenantID, id string) error {
	return affected(s.with(ctx).Where("tenant_id = ? AND id = ?", tenantID, id).Delete(&tenants.EnterpriseIdP{}))
}

// UseJTI inserts the key, or takes over a row whose expiry has passed (not
// yet swept), in one statement: zero rows changed means the key is in use.
func (s *Store) UseJTI(ctx context.Context, tenantID, key string, expiresAt, now time.Time) error {
	res := s.with(ctx).Exec(`INSERT INTO used_jtis (tenant_id, jti_key, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, jti_key) DO UPDATE SET expires_at = excluded.expires_at WHERE used_jtis.expires_at <= ?`,
		tenantID, key, expiresAt.UTC(), now.UTC())
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return tenants.ErrReplayed
	}
	return nil
}

// DeleteExpiredJTIs removes identifiers expired before t.
func (s *Store) DeleteExpiredJTIs(ctx context.Context, before time.Time, limit int) (int64, error) {
	res := s.with(ctx).Exec(`DELETE FROM used_jtis WHERE (tenant_id, jti_key) IN
		(SELECT tenant_id, jti_key FROM used_jtis WHERE expires_at < ? LIMIT ?)`, before.UTC(), limit)
	return res.RowsAffected, translate(res.Error)
}
