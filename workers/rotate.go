package workers

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// keySkew is added to the access-token lifetime before a retired key leaves
// the JWKS: tokens it signed are valid until then (clock skew included).
const keySkew = 5 * time.Minute

// rotateKeys advances every tenant's signing keys (DESIGN §7): the next key
// is published ahead of use, becomes active once the tenant's rotation
// period has passed, and the retired key stays published for the longest
// access-token lifetime. Each change is announced on the bus so every
// replica reloads the JWKS; a promotion is audited as key.rotated.
func (r *Runtime) rotateKeys(ctx context.Context) error {
	if r.opts.Keys == nil {
		return errors.New("key rotation needs Options.Keys")
	}
	return r.forEachTenant(ctx, func(t *tenants.Tenant) error {
		period := t.Settings.KeyRotation()
		ahead := r.opts.KeyPublishAhead
		if ahead > period/2 {
			ahead = period / 2
		}
		res, err := r.opts.Keys.Rotate(ctx, t.ID, false, period, ahead, t.Settings.AccessTTL()+keySkew)
		if err != nil {
			return err
		}
		if res.Promoted == "" && res.Created == "" && len(res.Deleted) == 0 {
			return nil
		}
		if r.opts.Bus != nil {
			if err := r.opts.Bus.Publish(ctx, tenants.TopicKeysRotated, t.ID); err != nil {
				r.log.Warn("keys rotated; notice not published (replicas reload within their cache TTL)", "tenant", t.ID, "err", err)
			}
		}
		if res.Promoted != "" {
			r.metrics.keysRotated.Inc()
			r.auditor.Record(ctx, tenants.AuditEvent{TenantID: t.ID, Action: tenants.ActKeyRotated, Actor: "system",
				Details: tenants.JSONMap{"kid": res.Promoted, "retired_kid": res.Retired, "next_kid": res.Created, "deleted_kids": res.Deleted}})
		}
		return nil
	})
}
