package workers

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/tenants"
)

// rotateKeys advances every tenant's signing keys (docs/RULES.md §7): the next key
// is published ahead of use, becomes active once the tenant's rotation
// period has passed, and the retired key stays published for the longest
// access-token lifetime. The policy (retention, bus notice, audit) is
// keys.Rotation, shared with the console and the API.
func (r *Runtime) rotateKeys(ctx context.Context) error {
	if r.opts.Keys == nil {
		return errors.New("key rotation needs Options.Keys")
	}
	return r.forEachTenant(ctx, func(t *tenants.Tenant) error {
		res, err := r.rotation.Advance(ctx, t)
		if err != nil {
			return err
		}
		if res.Promoted != "" {
			r.metrics.keysRotated.Inc()
		}
		return nil
	})
}
