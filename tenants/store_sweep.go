package tenants

import (
	"context"
	"time"
)

// SweepStore holds the batched deletes and expiries the periodic workers run
// (docs/RULES.md §7). Each method touches at most limit rows per call, in short
// statements or transactions, so a sweep never holds locks on hot tables for
// long; callers loop until a call returns fewer than limit.
//
// Sweeps whose rule does not depend on tenant settings run across tenants in
// one statement per batch (they only ever remove rows that are dead for every
// tenant); sweeps that depend on a tenant setting take the tenant id.
type SweepStore interface {
	// DeleteExpiredAuthCodes removes codes (any tenant) that expired before t.
	DeleteExpiredAuthCodes(ctx context.Context, before time.Time, limit int) (int64, error)
	// DeleteExpiredPending removes pending authorizations (any tenant) that expired before t.
	DeleteExpiredPending(ctx context.Context, before time.Time, limit int) (int64, error)
	// DeleteExpiredRefreshTokens removes refresh tokens (any tenant) whose
	// absolute or idle expiry is before t, or whose grant was revoked or
	// expired before t.
	DeleteExpiredRefreshTokens(ctx context.Context, before time.Time, limit int) (int64, error)
	// DeleteRotatedRefreshTokens removes the tenant's refresh tokens that were
	// rotated before rotatedBefore (the caller subtracts the tenant's grace).
	DeleteRotatedRefreshTokens(ctx context.Context, tenantID string, rotatedBefore time.Time, limit int) (int64, error)
	// DeleteEndedGrants removes grants (any tenant) that expired, or were
	// revoked, before t, together with their refresh tokens and codes.
	DeleteEndedGrants(ctx context.Context, before time.Time, limit int) (int64, error)
	// ExpireIdleClients deletes up to limit of the tenant's registered (DCR
	// and CIMD) clients last used — or, never used, created — before
	// idleBefore, except clients that hold a live grant or an unexpired
	// pending authorization at now. The check and the delete are one
	// statement per client. It returns the clients deleted.
	ExpireIdleClients(ctx context.Context, tenantID string, idleBefore, now time.Time, limit int) ([]Client, error)

	// ListUpstreamRefreshDue lists live grants (any tenant) holding a sealed
	// upstream token that expires before t and no recorded refresh error,
	// soonest first.
	ListUpstreamRefreshDue(ctx context.Context, before, now time.Time, limit int) ([]Grant, error)
	// SetUpstreamToken stores a refreshed sealed upstream token and its
	// expiry and clears the refresh error.
	SetUpstreamToken(ctx context.Context, tenantID, grantID, sealed string, expiry *time.Time) error
	// SetUpstreamRefreshError records why the upstream refresh failed.
	SetUpstreamRefreshError(ctx context.Context, tenantID, grantID, msg string) error

	// GetAuditEventsByID returns the tenant's events among ids, oldest first.
	GetAuditEventsByID(ctx context.Context, tenantID string, ids []string) ([]AuditEvent, error)
	// ExistingAuditEventIDs returns which of ids are stored (any tenant).
	ExistingAuditEventIDs(ctx context.Context, ids []string) ([]string, error)
	// ListStalledWebhookDeliveries lists pending deliveries (any tenant)
	// created before t, by id, after the id afterID ("" from the start).
	ListStalledWebhookDeliveries(ctx context.Context, createdBefore time.Time, afterID string, limit int) ([]WebhookDelivery, error)
	// DeleteWebhookDeliveriesBefore removes the tenant's deliveries created before t.
	DeleteWebhookDeliveriesBefore(ctx context.Context, tenantID string, before time.Time, limit int) (int64, error)
}

// Webhook delivery states.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookDead      = "dead" // dead-lettered after the last retry
)
