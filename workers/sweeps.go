package workers

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// maxBatchesPerRun bounds one sweep run; what is left waits for the next
// period rather than keeping a worker busy.
const maxBatchesPerRun = 200

// batches runs fn (one bounded statement) until it removes fewer than the
// batch size, and returns the total removed.
func (r *Runtime) batches(ctx context.Context, fn func(limit int) (int64, error)) (int64, error) {
	var total int64
	for i := 0; i < maxBatchesPerRun; i++ {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := fn(r.opts.SweepBatch)
		total += n
		if err != nil || n < int64(r.opts.SweepBatch) {
			return total, err
		}
	}
	return total, nil
}

func (r *Runtime) swept(what string, n int64) {
	if n > 0 {
		r.metrics.swept.WithLabelValues(what).Add(float64(n))
		r.log.Debug("swept", "what", what, "rows", n)
	}
}

// forEachTenant runs fn for every tenant; one tenant's failure does not stop
// the others, the first error is returned (so the task is retried).
func (r *Runtime) forEachTenant(ctx context.Context, fn func(t *tenants.Tenant) error) error {
	ids, err := r.opts.Store.ListTenantIDs(ctx)
	if err != nil {
		return err
	}
	var first error
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := r.opts.Store.GetTenant(ctx, id)
		if errors.Is(err, tenants.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err == nil {
			err = fn(t)
		}
		if err != nil {
			r.log.Warn("per-tenant task failed", "tenant", id, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// sweepCodes removes expired codes (kept CodeReuseWindow past expiry so a
// replayed code still revokes its tokens, RFC 6749 §4.1.2) and expired
// pending authorizations, console sessions and used jtis.
func (r *Runtime) sweepCodes(ctx context.Context) error {
	now := r.now()
	n, err := r.batches(ctx, func(l int) (int64, error) {
		return r.opts.Store.DeleteExpiredAuthCodes(ctx, now.Add(-r.opts.CodeReuseWindow), l)
	})
	r.swept("auth_codes", n)
	if err != nil {
		return err
	}
	n, err = r.batches(ctx, func(l int) (int64, error) { return r.opts.Store.DeleteExpiredPending(ctx, now, l) })
	r.swept("pending_authorizations", n)
	if err != nil {
		return err
	}
	// Console sessions past their 12 h lifetime (ended ones are deleted at once).
	n, err = r.batches(ctx, func(l int) (int64, error) { return r.opts.Store.DeleteExpiredAccountSessions(ctx, now, l) })
	r.swept("account_sessions", n)
	if err != nil {
		return err
	}
	// Single-use identifiers (ID-JAG, client assertion, DPoP jti) past expiry.
	n, err = r.batches(ctx, func(l int) (int64, error) { return r.opts.Store.DeleteExpiredJTIs(ctx, now, l) })
	r.swept("used_jtis", n)
	return err
}

// sweepTokens removes expired refresh tokens (and those of ended grants),
// then, per tenant, rotated tokens past the tenant's grace window plus the
// reuse-detection window.
func (r *Runtime) sweepTokens(ctx context.Context) error {
	now := r.now()
	n, err := r.batches(ctx, func(l int) (int64, error) { return r.opts.Store.DeleteExpiredRefreshTokens(ctx, now, l) })
	r.swept("refresh_tokens_expired", n)
	if err != nil {
		return err
	}
	return r.forEachTenant(ctx, func(t *tenants.Tenant) error {
		cutoff := now.Add(-t.Settings.RefreshGrace() - r.opts.RefreshReuseWindow)
		n, err := r.batches(ctx, func(l int) (int64, error) {
			return r.opts.Store.DeleteRotatedRefreshTokens(ctx, t.ID, cutoff, l)
		})
		r.swept("refresh_tokens_rotated", n)
		return err
	})
}

// sweepGrants removes grants that ended (expired or revoked) more than
// GrantRetention ago, with any token or code left.
func (r *Runtime) sweepGrants(ctx context.Context) error {
	cutoff := r.now().Add(-r.opts.GrantRetention)
	n, err := r.batches(ctx, func(l int) (int64, error) { return r.opts.Store.DeleteEndedGrants(ctx, cutoff, l) })
	r.swept("grants", n)
	return err
}

// sweepClients expires registered clients idle past the tenant's
// client_idle_ttl_days, never one with a live grant, and audits each.
func (r *Runtime) sweepClients(ctx context.Context) error {
	now := r.now()
	return r.forEachTenant(ctx, func(t *tenants.Tenant) error {
		idleBefore := now.Add(-t.Settings.ClientIdleTTL())
		for i := 0; i < maxBatchesPerRun; i++ {
			cs, err := r.opts.Store.ExpireIdleClients(ctx, t.ID, idleBefore, now, r.opts.SweepBatch)
			for _, c := range cs {
				last := c.CreatedAt
				if c.LastUsedAt != nil {
					last = *c.LastUsedAt
				}
				r.auditor.Record(ctx, tenants.AuditEvent{TenantID: t.ID, Action: tenants.ActClientExpired, Actor: "system",
					ClientID: c.ID, Reason: "idle", Details: tenants.JSONMap{tenants.DetailKind: c.Kind, tenants.DetailLastUsedAt: last.UTC().Format(time.RFC3339),
						tenants.DetailIdleTTLDays: int(t.Settings.ClientIdleTTL() / (24 * time.Hour))}})
				if r.opts.Bus != nil { // replicas' client caches drop it
					_ = r.opts.Bus.Publish(ctx, tenants.TopicClientChanged, tenants.ClientChangedPayload(t.ID, c.ID))
				}
			}
			r.swept("clients", int64(len(cs)))
			if err != nil || len(cs) < r.opts.SweepBatch {
				return err
			}
		}
		return nil
	})
}

// sweepAudit prunes audit events and webhook deliveries past each tenant's
// audit retention.
func (r *Runtime) sweepAudit(ctx context.Context) error {
	now := r.now()
	return r.forEachTenant(ctx, func(t *tenants.Tenant) error {
		cutoff := now.Add(-t.Settings.AuditRetention())
		n, err := r.batches(ctx, func(l int) (int64, error) { return r.opts.Store.DeleteAuditEventsBefore(ctx, t.ID, cutoff, l) })
		r.swept("audit_events", n)
		if err != nil {
			return err
		}
		n, err = r.batches(ctx, func(l int) (int64, error) {
			return r.opts.Store.DeleteWebhookDeliveriesBefore(ctx, t.ID, cutoff, l)
		})
		r.swept("webhook_deliveries", n)
		return err
	})
}
