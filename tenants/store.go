package tenants

import (
	"context"
	"errors"
	"iter"
	"time"
)

// Store is the platform's storage. One gorm implementation serves SQLite and
// Postgres (tenants/gormstore); tenants/conformance runs the same suite
// against both. Every method that touches tenant data takes the tenant id and
// scopes its query by it.
//
// The interface is split by area, one file each, so each area is easy to see.
type Store interface {
	TenantStore
	APIKeyStore
	SystemStore
	KeyStore
	AuditStore
	OAuthStore
	SweepStore
	EnterpriseStore
	AccountStore

	// InTx runs fn in one transaction; fn's Store writes commit or roll back together.
	InTx(ctx context.Context, fn func(Store) error) error
	// Ping checks the database is reachable (readiness).
	Ping(ctx context.Context) error
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	Close() error
}

// Page is a cursor page request. Cursor is opaque to callers.
type Page struct {
	Limit  int
	Cursor string
}

// Pages yields a cursor-paged list page by page, first to last, in pages
// of size items; an error ends it (yielded with no items).
func Pages[T any](size int, list func(Page) ([]T, string, error)) iter.Seq2[[]T, error] {
	return func(yield func([]T, error) bool) {
		p := Page{Limit: size}
		for {
			items, next, err := list(p)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(items, nil) || next == "" {
				return
			}
			p.Cursor = next
		}
	}
}

// Normalize clamps the limit to [1,200], default 50.
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = 50
	}
	if p.Limit > 200 {
		p.Limit = 200
	}
	return p
}

// TenantStore holds tenants and their IdP settings.
type TenantStore interface {
	// CreateTenant inserts t; ErrConflict if the slug or custom domain is taken.
	CreateTenant(ctx context.Context, t *Tenant) error
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	GetTenantBySlug(ctx context.Context, slug string) (*Tenant, error)
	// GetTenantByDomain finds a tenant by its verified custom domain.
	GetTenantByDomain(ctx context.Context, domain string) (*Tenant, error)
	// ListTenants pages by slug; next is "" on the last page.
	ListTenants(ctx context.Context, p Page) (items []Tenant, next string, err error)
	// UpdateTenant saves t; ErrConflict on a taken custom domain.
	UpdateTenant(ctx context.Context, t *Tenant) error
	// DeleteTenant removes the tenant and every row that carries its id.
	DeleteTenant(ctx context.Context, id string) error

	// PutIdP creates or replaces the tenant's IdP of cfg.Type.
	PutIdP(ctx context.Context, cfg *IdPConfig) error
	// ReplaceIdPs makes cfgs the tenant's whole IdP list.
	ReplaceIdPs(ctx context.Context, tenantID string, cfgs []IdPConfig) error
	ListIdPs(ctx context.Context, tenantID string) ([]IdPConfig, error)
	GetIdP(ctx context.Context, tenantID, typ string) (*IdPConfig, error)
}

// APIKeyStore holds tenant API keys (hashes only).
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k *APIKey) error
	ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error)
	DeleteAPIKey(ctx context.Context, tenantID, id string) error
	// GetAPIKeyByHash is the one unscoped lookup: it is how a key finds its tenant.
	GetAPIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	TouchAPIKey(ctx context.Context, tenantID, id string, at time.Time) error
}

// SystemStore holds platform-wide values (admin token hash, …).
type SystemStore interface {
	GetSystemValue(ctx context.Context, key string) (string, error)
	// PutSystemValueIfAbsent stores value unless key exists; reports whether it stored.
	PutSystemValueIfAbsent(ctx context.Context, key, value string) (bool, error)
	PutSystemValue(ctx context.Context, key, value string) error
}

// KeyStore holds tenants' signing keys.
type KeyStore interface {
	// ListSigningKeys returns the tenant's keys that are not yet deleted, newest first.
	ListSigningKeys(ctx context.Context, tenantID string) ([]SigningKey, error)
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	UpdateSigningKey(ctx context.Context, k *SigningKey) error
	DeleteSigningKey(ctx context.Context, tenantID, kid string) error
	// ListTenantIDs returns every tenant id (for periodic per-tenant work).
	ListTenantIDs(ctx context.Context) ([]string, error)
}

// AuditFilter selects audit events of one tenant.
type AuditFilter struct {
	Action   string
	ClientID string
	Subject  string
	After    time.Time // inclusive lower bound on Time
	Before   time.Time // exclusive upper bound on Time
	Page
}

// AuditStore holds audit events and webhook deliveries.
type AuditStore interface {
	// InsertAuditEvents writes events in one multi-row insert; an id already
	// present is skipped (idempotent retries).
	InsertAuditEvents(ctx context.Context, evs []AuditEvent) error
	// ListAuditEvents pages newest first.
	ListAuditEvents(ctx context.Context, tenantID string, f AuditFilter) (items []AuditEvent, next string, err error)
	// DeleteAuditEventsBefore removes at most limit events older than t; returns the count.
	DeleteAuditEventsBefore(ctx context.Context, tenantID string, t time.Time, limit int) (int64, error)
	CountAuditEvents(ctx context.Context, tenantID string) (int64, error)

	CreateWebhookDelivery(ctx context.Context, d *WebhookDelivery) error
	UpdateWebhookDelivery(ctx context.Context, d *WebhookDelivery) error
	GetWebhookDelivery(ctx context.Context, tenantID, id string) (*WebhookDelivery, error)
	ListWebhookDeliveries(ctx context.Context, tenantID string, p Page) (items []WebhookDelivery, next string, err error)
}

// ErrBadCursor means a paging cursor was not issued by the store.
var ErrBadCursor = errors.New("bad cursor")
