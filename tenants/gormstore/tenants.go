package gormstore

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/tenants"
)

// CreateTenant inserts t.
func (s *Store) CreateTenant(ctx context.Context, t *tenants.Tenant) error {
	return translate(s.with(ctx).Create(t).Error)
}

// GetTenant by id.
func (s *Store) GetTenant(ctx context.Context, id string) (*tenants.Tenant, error) {
	return first[tenants.Tenant](s.with(ctx), "id = ?", id)
}

// GetTenantBySlug by slug.
func (s *Store) GetTenantBySlug(ctx context.Context, slug string) (*tenants.Tenant, error) {
	return first[tenants.Tenant](s.with(ctx), "slug = ?", slug)
}

// GetTenantByDomain finds a verified custom domain.
func (s *Store) GetTenantByDomain(ctx context.Context, domain string) (*tenants.Tenant, error) {
	return first[tenants.Tenant](s.with(ctx), "custom_domain = ? AND custom_domain_verified = ?", domain, true)
}

// ListTenants pages by slug.
func (s *Store) ListTenants(ctx context.Context, p tenants.Page) ([]tenants.Tenant, string, error) {
	return page(s.with(ctx).Model(&tenants.Tenant{}), "slug", false, p, func(t *tenants.Tenant) string { return t.Slug })
}

// UpdateTenant saves every field of t.
func (s *Store) UpdateTenant(ctx context.Context, t *tenants.Tenant) error {
	t.UpdatedAt = time.Now().UTC()
	return affected(s.with(ctx).Model(&tenants.Tenant{}).Where("id = ?", t.ID).Select("*").Omit("created_at").Updates(t))
}

// tenantTables are deleted with their tenant (foreign keys cascade too; the
// explicit deletes make it so on a database without them).
var tenantTables = []string{
	"refresh_tokens", "auth_codes", "grants", "pending_authorizations", "consents", "users",
	"clients", "signing_keys", "api_keys", "idp_configs", "webhook_deliveries", "audit_events",
	"enterprise_idps", "used_jtis",
	"memberships", "invitations",
}

// DeleteTenant removes the tenant and all its rows in one transaction.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		for _, tbl := range tenantTables {
			if err := tx.Exec("DELETE FROM "+tbl+" WHERE tenant_id = ?", id).Error; err != nil {
				return err
			}
		}
		return affected(tx.Where("id = ?", id).Delete(&tenants.Tenant{}))
	})
}

// PutIdP upserts one IdP of the tenant.
func (s *Store) PutIdP(ctx context.Context, cfg *tenants.IdPConfig) error {
	now := time.Now().UTC()
	if cfg.CreatedAt.IsZero() {
		cfg.CreatedAt = now
	}
	cfg.UpdatedAt = now
	return translate(s.with(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "tenant_id"}, {Name: "type"}},
		DoUpdates: clause.AssignmentColumns([]string{"client_id", "client_secret_sealed", "issuer_url", "scopes", "allowed_domains", "allowed_orgs", "auto_login", "updated_at"}),
	}).Create(cfg).Error)
}

// ReplaceIdPs makes cfgs the whole list.
func (s *Store) ReplaceIdPs(ctx context.Context, tenantID string, cfgs []tenants.IdPConfig) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("tenant_id = ?", tenantID).Delete(&tenants.IdPConfig{}).Error; err != nil {
			return err
		}
		now := time.Now().UTC()
		for i := range cfgs {
			cfgs[i].TenantID = tenantID
			if cfgs[i].CreatedAt.IsZero() {
				cfgs[i].CreatedAt = now
			}
			cfgs[i].UpdatedAt = now
			if err := tx.Create(&cfgs[i]).Error; err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

// ListIdPs returns the tenant's IdPs by type.
func (s *Store) ListIdPs(ctx context.Context, tenantID string) ([]tenants.IdPConfig, error) {
	return all[tenants.IdPConfig](s.with(ctx).Order("type"), "tenant_id = ?", tenantID)
}

// GetIdP returns one IdP by type.
func (s *Store) GetIdP(ctx context.Context, tenantID, typ string) (*tenants.IdPConfig, error) {
	return first[tenants.IdPConfig](s.with(ctx), "tenant_id = ? AND type = ?", tenantID, typ)
}

// CreateAPIKey stores a key (hash only).
func (s *Store) CreateAPIKey(ctx context.Context, k *tenants.APIKey) error {
	return translate(s.with(ctx).Create(k).Error)
}

// ListAPIKeys lists the tenant's keys.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string) ([]tenants.APIKey, error) {
	return all[tenants.APIKey](s.with(ctx).Order("created_at, id"), "tenant_id = ?", tenantID)
}

// DeleteAPIKey deletes one key of the tenant.
func (s *Store) DeleteAPIKey(ctx context.Context, tenantID, id string) error {
	return affected(s.with(ctx).Where("tenant_id = ? AND id = ?", tenantID, id).Delete(&tenants.APIKey{}))
}

// GetAPIKeyByHash finds a key by its hash.
func (s *Store) GetAPIKeyByHash(ctx context.Context, hash string) (*tenants.APIKey, error) {
	return first[tenants.APIKey](s.with(ctx), "hash = ?", hash)
}

// TouchAPIKey records use.
func (s *Store) TouchAPIKey(ctx context.Context, tenantID, id string, at time.Time) error {
	return translate(s.with(ctx).Model(&tenants.APIKey{}).Where("tenant_id = ? AND id = ?", tenantID, id).Update("last_used_at", at.UTC()).Error)
}

// GetSystemValue reads a platform value.
func (s *Store) GetSystemValue(ctx context.Context, key string) (string, error) {
	v, err := first[tenants.SystemValue](s.with(ctx), `"key" = ?`, key)
	if err != nil {
		return "", err
	}
	return v.Value, nil
}

// PutSystemValueIfAbsent stores value unless key exists.
func (s *Store) PutSystemValueIfAbsent(ctx context.Context, key, value string) (bool, error) {
	res := s.with(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&tenants.SystemValue{Key: key, Value: value, CreatedAt: time.Now().UTC()})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// PutSystemValue stores or replaces value.
func (s *Store) PutSystemValue(ctx context.Context, key, value string) error {
	return translate(s.with(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "key"}},
		DoUpdates: clause.AssignmentColumns([]string{"value"}),
	}).Create(&tenants.SystemValue{Key: key, Value: value, CreatedAt: time.Now().UTC()}).Error)
}

// ListSigningKeys returns the tenant's keys newest first.
func (s *Store) ListSigningKeys(ctx context.Context, tenantID string) ([]tenants.SigningKey, error) {
	return all[tenants.SigningKey](s.with(ctx).Order("created_at DESC, kid"), "tenant_id = ?", tenantID)
}

// CreateSigningKey inserts a key.
func (s *Store) CreateSigningKey(ctx context.Context, k *tenants.SigningKey) error {
	return translate(s.with(ctx).Create(k).Error)
}

// UpdateSigningKey saves a key's state.
func (s *Store) UpdateSigningKey(ctx context.Context, k *tenants.SigningKey) error {
	return affected(s.with(ctx).Model(&tenants.SigningKey{}).Where("tenant_id = ? AND kid = ?", k.TenantID, k.KID).
		Select("state", "activated_at", "retired_at", "delete_after").Updates(k))
}

// DeleteSigningKey removes a key.
func (s *Store) DeleteSigningKey(ctx context.Context, tenantID, kid string) error {
	return affected(s.with(ctx).Where("tenant_id = ? AND kid = ?", tenantID, kid).Delete(&tenants.SigningKey{}))
}

// ListTenantIDs returns every tenant id.
func (s *Store) ListTenantIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.with(ctx).Model(&tenants.Tenant{}).Order("id").Pluck("id", &ids).Error
	return ids, translate(err)
}
