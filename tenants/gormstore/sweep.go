package gormstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/tenants"
)

// Sweeps (docs/RULES.md §7). Each call is one short statement, or one short
// transaction over at most limit rows: the batch is chosen by a LIMITed
// subquery, and the delete re-checks the condition so that a row that came
// back to life in between (a client used, a grant created) is kept.

// registeredKinds are the client kinds that idle-expire; pre-registered
// clients are the tenant's own and never expire.
var registeredKinds = []string{tenants.ClientDCR, tenants.ClientCIMD}

// DeleteExpiredAuthCodes removes codes that expired before t.
func (s *Store) DeleteExpiredAuthCodes(ctx context.Context, before time.Time, limit int) (int64, error) {
	res := s.with(ctx).Exec(`DELETE FROM auth_codes WHERE (tenant_id, hash) IN
		(SELECT tenant_id, hash FROM auth_codes WHERE expires_at < ? LIMIT ?)`, before.UTC(), limit)
	return res.RowsAffected, translate(res.Error)
}

// DeleteExpiredPending removes pending authorizations that expired before t.
func (s *Store) DeleteExpiredPending(ctx context.Context, before time.Time, limit int) (int64, error) {
	res := s.with(ctx).Exec(`DELETE FROM pending_authorizations WHERE (tenant_id, id) IN
		(SELECT tenant_id, id FROM pending_authorizations WHERE expires_at < ? LIMIT ?)`, before.UTC(), limit)
	return res.RowsAffected, translate(res.Error)
}

// DeleteExpiredRefreshTokens removes refresh tokens past their absolute or
// idle expiry, and those whose grant ended.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, before time.Time, limit int) (int64, error) {
	t := before.UTC()
	res := s.with(ctx).Exec(`DELETE FROM refresh_tokens WHERE (tenant_id, hash) IN
		(SELECT r.tenant_id, r.hash FROM refresh_tokens r WHERE r.expires_at < ? OR r.idle_expires_at < ?
			OR EXISTS (SELECT 1 FROM grants g WHERE g.tenant_id = r.tenant_id AND g.id = r.grant_id
				AND (g.expires_at < ? OR g.revoked_at IS NOT NULL))
		 LIMIT ?)`, t, t, t, limit)
	return res.RowsAffected, translate(res.Error)
}

// DeleteRotatedRefreshTokens removes the tenant's tokens rotated before t.
func (s *Store) DeleteRotatedRefreshTokens(ctx context.Context, tenantID string, rotatedBefore time.Time, limit int) (int64, error) {
	res := s.with(ctx).Exec(`DELETE FROM refresh_tokens WHERE tenant_id = ? AND hash IN
		(SELECT hash FROM refresh_tokens WHERE tenant_id = ? AND rotated_at IS NOT NULL AND rotated_at < ? LIMIT ?)`,
		tenantID, tenantID, rotatedBefore.UTC(), limit)
	return res.RowsAffected, translate(res.Error)
}

// ListGrantsRevokedSince lists grants revoked at or after since (any tenant).
func (s *Store) ListGrantsRevokedSince(ctx context.Context, since time.Time, limit int) ([]tenants.GrantRef, error) {
	var refs []tenants.GrantRef
	err := s.with(ctx).Model(&tenants.Grant{}).Select("tenant_id", "id").
		Where("revoked_at IS NOT NULL AND revoked_at >= ?", since.UTC()).
		Order("revoked_at").Limit(limit).Scan(&refs).Error
	return refs, translate(err)
}

// DeleteEndedGrants removes grants that expired or were revoked before t,
// with their tokens and codes, in one transaction per batch.
func (s *Store) DeleteEndedGrants(ctx context.Context, before time.Time, limit int) (int64, error) {
	t := before.UTC()
	var n int64
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		var keys []tenants.GrantRef
		if err := tx.Model(&tenants.Grant{}).Select("tenant_id", "id").
			Where("expires_at < ? OR (revoked_at IS NOT NULL AND revoked_at < ?)", t, t).
			Limit(limit).Scan(&keys).Error; err != nil {
			return err
		}
		byTenant := map[string][]string{}
		for _, k := range keys {
			byTenant[k.TenantID] = append(byTenant[k.TenantID], k.ID)
		}
		for tid, ids := range byTenant {
			for _, m := range []any{&tenants.RefreshToken{}, &tenants.AuthCode{}} {
				if err := tx.Where("tenant_id = ? AND grant_id IN ?", tid, ids).Delete(m).Error; err != nil {
					return err
				}
			}
			res := tx.Where("tenant_id = ? AND id IN ? AND (expires_at < ? OR (revoked_at IS NOT NULL AND revoked_at < ?))", tid, ids, t, t).
				Delete(&tenants.Grant{})
			if res.Error != nil {
				return res.Error
			}
			n += res.RowsAffected
		}
		return nil
	})
	return n, translate(err)
}

// idleClientCond selects registered clients idle since idleBefore with no
// live grant and no pending authorization in flight at now. It expects the
// clients table unaliased (it is used in a DELETE, where SQLite allows no alias).
const idleClientCond = `clients.kind IN ? AND COALESCE(clients.last_used_at, clients.created_at) < ?
	AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.tenant_id = clients.tenant_id AND g.client_id = clients.id
		AND g.revoked_at IS NULL AND g.expires_at > ?)
	AND NOT EXISTS (SELECT 1 FROM pending_authorizations p WHERE p.tenant_id = clients.tenant_id AND p.client_id = clients.id
		AND p.expires_at > ?)`

// ExpireIdleClients deletes idle registered clients that hold no live grant.
func (s *Store) ExpireIdleClients(ctx context.Context, tenantID string, idleBefore, now time.Time, limit int) ([]tenants.Client, error) {
	idle, at := idleBefore.UTC(), now.UTC()
	var cands []tenants.Client
	if err := s.with(ctx).Where("clients.tenant_id = ? AND "+idleClientCond, tenantID, registeredKinds, idle, at, at).
		Order("id").Limit(limit).Find(&cands).Error; err != nil {
		return nil, translate(err)
	}
	var out []tenants.Client
	for _, c := range cands {
		err := s.transaction(ctx, func(tx *gorm.DB) error {
			// The condition is checked again in the delete itself: a grant
			// created since the select keeps the client.
			res := tx.Where("clients.tenant_id = ? AND clients.id = ? AND "+idleClientCond, tenantID, c.ID, registeredKinds, idle, at, at).
				Delete(&tenants.Client{})
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			for _, m := range []any{&tenants.RefreshToken{}, &tenants.AuthCode{}, &tenants.Consent{}, &tenants.PendingAuthorization{}} {
				if err := tx.Where("tenant_id = ? AND client_id = ?", tenantID, c.ID).Delete(m).Error; err != nil {
					return err
				}
			}
			out = append(out, c)
			return nil
		})
		if err != nil {
			return out, translate(err)
		}
	}
	return out, nil
}

// ListUpstreamRefreshDue lists live grants whose upstream token expires before t.
func (s *Store) ListUpstreamRefreshDue(ctx context.Context, before, now time.Time, limit int) ([]tenants.Grant, error) {
	var gs []tenants.Grant
	err := s.with(ctx).Where(`upstream_token_expiry IS NOT NULL AND upstream_token_expiry < ? AND upstream_token_sealed <> ''
		AND upstream_refresh_error = '' AND revoked_at IS NULL AND expires_at > ?`, before.UTC(), now.UTC()).
		Order("upstream_token_expiry").Limit(limit).Find(&gs).Error
	return gs, translate(err)
}

// SetUpstreamToken stores a refreshed upstream token and clears the error.
func (s *Store) SetUpstreamToken(ctx context.Context, tenantID, grantID, sealed string, expiry *time.Time) error {
	var exp any
	if expiry != nil {
		exp = expiry.UTC()
	}
	return affected(s.with(ctx).Model(&tenants.Grant{}).Where("tenant_id = ? AND id = ?", tenantID, grantID).
		Updates(map[string]any{"upstream_token_sealed": sealed, "upstream_token_expiry": exp, "upstream_refresh_error": ""}))
}

// SetUpstreamRefreshError records a failed upstream refresh.
func (s *Store) SetUpstreamRefreshError(ctx context.Context, tenantID, grantID, msg string) error {
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return affected(s.with(ctx).Model(&tenants.Grant{}).Where("tenant_id = ? AND id = ?", tenantID, grantID).
		Update("upstream_refresh_error", msg))
}

// GetAuditEventsByID returns the tenant's events among ids, oldest first.
func (s *Store) GetAuditEventsByID(ctx context.Context, tenantID string, ids []string) ([]tenants.AuditEvent, error) {
	var out []tenants.AuditEvent
	for len(ids) > 0 {
		n := min(len(ids), 500)
		var part []tenants.AuditEvent
		if err := s.with(ctx).Where("tenant_id = ? AND id IN ?", tenantID, ids[:n]).Order("id").Find(&part).Error; err != nil {
			return nil, translate(err)
		}
		out = append(out, part...)
		ids = ids[n:]
	}
	return out, nil
}

// ExistingAuditEventIDs returns which of ids are stored.
func (s *Store) ExistingAuditEventIDs(ctx context.Context, ids []string) ([]string, error) {
	var out []string
	for len(ids) > 0 {
		n := min(len(ids), 500)
		var part []string
		if err := s.with(ctx).Model(&tenants.AuditEvent{}).Where("id IN ?", ids[:n]).Pluck("id", &part).Error; err != nil {
			return nil, translate(err)
		}
		out = append(out, part...)
		ids = ids[n:]
	}
	return out, nil
}

// ListStalledWebhookDeliveries lists pending deliveries created before t, by id.
func (s *Store) ListStalledWebhookDeliveries(ctx context.Context, createdBefore time.Time, afterID string, limit int) ([]tenants.WebhookDelivery, error) {
	var ds []tenants.WebhookDelivery
	err := s.with(ctx).Where("status = ? AND created_at < ? AND id > ?", tenants.WebhookPending, createdBefore.UTC(), afterID).
		Order("id").Limit(limit).Find(&ds).Error
	return ds, translate(err)
}

// DeleteWebhookDeliveriesBefore prunes the tenant's old deliveries.
func (s *Store) DeleteWebhookDeliveriesBefore(ctx context.Context, tenantID string, before time.Time, limit int) (int64, error) {
	res := s.with(ctx).Exec(`DELETE FROM webhook_deliveries WHERE tenant_id = ? AND id IN
		(SELECT id FROM webhook_deliveries WHERE tenant_id = ? AND created_at < ? LIMIT ?)`, tenantID, tenantID, before.UTC(), limit)
	return res.RowsAffected, translate(res.Error)
}
