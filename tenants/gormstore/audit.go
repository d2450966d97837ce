package gormstore

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/tenants"
)

// InsertAuditEvents writes events in one multi-row insert; duplicates (a
// retried batch) are skipped.
func (s *Store) InsertAuditEvents(ctx context.Context, evs []tenants.AuditEvent) error {
	if len(evs) == 0 {
		return nil
	}
	for i := range evs {
		evs[i].Time = evs[i].Time.UTC()
	}
	return translate(s.with(ctx).Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(evs, 200).Error)
}

// ListAuditEvents pages newest first by id (ids are time-ordered).
func (s *Store) ListAuditEvents(ctx context.Context, tenantID string, f tenants.AuditFilter) ([]tenants.AuditEvent, string, error) {
	q := s.with(ctx).Model(&tenants.AuditEvent{}).Where("tenant_id = ?", tenantID)
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.ClientID != "" {
		q = q.Where("client_id = ?", f.ClientID)
	}
	if f.Subject != "" {
		q = q.Where("subject = ?", f.Subject)
	}
	if !f.After.IsZero() {
		q = q.Where("time >= ?", f.After.UTC())
	}
	if !f.Before.IsZero() {
		q = q.Where("time < ?", f.Before.UTC())
	}
	return page(q, "id", true, f.Page, func(e *tenants.AuditEvent) string { return e.ID })
}

// DeleteAuditEventsBefore prunes at most limit events older than t.
func (s *Store) DeleteAuditEventsBefore(ctx context.Context, tenantID string, t time.Time, limit int) (int64, error) {
	sub := s.with(ctx).Model(&tenants.AuditEvent{}).Select("id").Where("tenant_id = ? AND time < ?", tenantID, t.UTC()).Limit(limit)
	res := s.with(ctx).Where("tenant_id = ? AND id IN (?)", tenantID, sub).Delete(&tenants.AuditEvent{})
	return res.RowsAffected, translate(res.Error)
}

// CountAuditEvents counts a tenant's events.
func (s *Store) CountAuditEvents(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := s.with(ctx).Model(&tenants.AuditEvent{}).Where("tenant_id = ?", tenantID).Count(&n).Error
	return n, translate(err)
}

// CreateWebhookDelivery inserts a delivery.
func (s *Store) CreateWebhookDelivery(ctx context.Context, d *tenants.WebhookDelivery) error {
	return translate(s.with(ctx).Create(d).Error)
}

// UpdateWebhookDelivery saves a delivery's progress.
func (s *Store) UpdateWebhookDelivery(ctx context.Context, d *tenants.WebhookDelivery) error {
	return affected(s.with(ctx).Model(&tenants.WebhookDelivery{}).Where("tenant_id = ? AND id = ?", d.TenantID, d.ID).
		Select("status", "attempts", "last_error", "last_status", "delivered_at").Updates(d))
}

// GetWebhookDelivery by id.
func (s *Store) GetWebhookDelivery(ctx context.Context, tenantID, id string) (*tenants.WebhookDelivery, error) {
	return first[tenants.WebhookDelivery](s.with(ctx), "tenant_id = ? AND id = ?", tenantID, id)
}

// ListWebhookDeliveries pages newest first.
func (s *Store) ListWebhookDeliveries(ctx context.Context, tenantID string, p tenants.Page) ([]tenants.WebhookDelivery, string, error) {
	q := s.with(ctx).Model(&tenants.WebhookDelivery{}).Where("tenant_id = ?", tenantID)
	return page(q, "id", true, p, func(d *tenants.WebhookDelivery) string { return d.ID })
}
