package keys

import (
	"context"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// RetainSkew is added to a tenant's access-token lifetime before a retired
// key leaves the JWKS: every token it signed stays verifiable until it
// expires, clock skew included.
const RetainSkew = 5 * time.Minute

// RetainFor is how long a key retired now stays published for tenant t.
func RetainFor(t *tenants.Tenant) time.Duration { return t.Settings.AccessTTL() + RetainSkew }

// Rotation is the one signing-key rotation policy. The console, the
// provisioning API and the worker all rotate through it, so a retired key
// is kept for the same period, the change reaches every replica over the
// bus, and the audit event has one shape whoever rotated.
type Rotation struct {
	Keys    *Manager
	Bus     tenants.Bus     // nil: replicas reload within their cache TTL
	Auditor tenants.Auditor // nil: not audited
	Logger  *slog.Logger    // nil: slog.Default()
	// PublishAhead is how long a next key is in the JWKS before a scheduled
	// rotation may make it sign (capped at half the rotation period).
	PublishAhead time.Duration
}

// RotateNow makes the published next key active at once ("rotate now").
func (r *Rotation) RotateNow(ctx context.Context, t *tenants.Tenant) (RotateResult, error) {
	return r.rotate(ctx, t, true)
}

// Advance is the scheduled pass: publish a next key ahead of use, promote
// it when the rotation period is due, delete retired keys past retention.
func (r *Rotation) Advance(ctx context.Context, t *tenants.Tenant) (RotateResult, error) {
	return r.rotate(ctx, t, false)
}

func (r *Rotation) rotate(ctx context.Context, t *tenants.Tenant, manual bool) (RotateResult, error) {
	period := t.Settings.KeyRotation()
	ahead := r.PublishAhead
	if ahead > period/2 {
		ahead = period / 2
	}
	res, err := r.Keys.Rotate(ctx, t.ID, manual, period, ahead, RetainFor(t))
	if err != nil {
		return res, err
	}
	if res.Promoted == "" && res.Created == "" && len(res.Deleted) == 0 {
		return res, nil
	}
	// Announce even when the caller's request is gone: other replicas must
	// reload the JWKS either way.
	if r.Bus != nil {
		if err := r.Bus.Publish(context.WithoutCancel(ctx), tenants.TopicKeysRotated, t.ID); err != nil {
			r.logger().Warn("keys rotated; notice not published (replicas reload within their cache TTL)", "tenant", t.ID, "err", err)
		}
	}
	if res.Promoted != "" && r.Auditor != nil {
		ev := tenants.AuditEvent{TenantID: t.ID, Action: tenants.ActKeyRotated, Details: tenants.JSONMap{
			tenants.DetailKID: res.Promoted, tenants.DetailRetiredKID: res.Retired, tenants.DetailNextKID: res.Created,
			tenants.DetailDeletedKIDs: res.Deleted, tenants.DetailManual: manual,
		}}
		if !manual {
			ev.Actor = "system"
		}
		r.Auditor.Record(ctx, ev)
	}
	return res, nil
}

func (r *Rotation) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}
