package workers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/idp"
)

// UpstreamRefresher renews a user's upstream IdP token. The default is
// IdPRefresher; tests may substitute any implementation.
type UpstreamRefresher interface {
	Refresh(ctx context.Context, t *tenants.Tenant, idpType string, tok *idp.Token) (*idp.Token, error)
}

// IdPRefresher refreshes through the tenant's configured IdP (tenants/idp).
type IdPRefresher struct {
	Store      tenants.TenantStore
	Sealer     *tenants.Sealer
	HTTPClient *http.Client
	// Endpoints overrides provider endpoints (tests with a fake IdP).
	Endpoints *idp.Endpoints
}

// Refresh implements UpstreamRefresher.
func (p *IdPRefresher) Refresh(ctx context.Context, t *tenants.Tenant, idpType string, tok *idp.Token) (*idp.Token, error) {
	cfg, err := p.Store.GetIdP(ctx, t.ID, idpType)
	if err != nil {
		if errors.Is(err, tenants.ErrNotFound) {
			return nil, idp.ErrNotConfigured
		}
		return nil, err
	}
	secret, err := p.Sealer.Open(cfg.ClientSecretSealed, tenants.IdPSecretContext(t.ID, cfg.Type))
	if err != nil {
		return nil, fmt.Errorf("open IdP client secret: %w", err)
	}
	prov, err := idp.New(ctx, idp.Config{IdP: cfg, ClientSecret: secret, HTTPClient: p.HTTPClient, Endpoints: p.Endpoints})
	if err != nil {
		return nil, err
	}
	return prov.Refresh(ctx, tok)
}

// permanent reports whether a refresh failure will not heal by retrying.
func permanent(err error) bool {
	var le *idp.LoginError
	return errors.As(err, &le) || errors.Is(err, idp.ErrNoRefreshToken) || errors.Is(err, idp.ErrNotConfigured) ||
		errors.Is(err, tenants.ErrUnseal)
}

// offboarded reports whether a refresh failure means the user's access
// must end (docs/SECURITY.md §11): the IdP refused the refresh token for
// good (invalid_grant: revoked at the IdP, account disabled) — that grant
// ends; or the user no longer passes the tenant's sign-in rules (removed
// from the org, moved out of the domain) — all of the user's access ends.
func offboarded(err error) (reason string, wholeUser bool) {
	var le *idp.LoginError
	if !errors.As(err, &le) {
		return "", false
	}
	switch le.Reason {
	case idp.ReasonRefreshRejected:
		return tenants.RevokedUpstreamRefused, false
	case idp.ReasonOrgNotAllowed, idp.ReasonDomainNotAllowed, idp.ReasonEmailUnverified:
		return tenants.RevokedNoLongerAllowed, true
	}
	return "", false
}

// revokeOffboarded revokes the grant (or all of its user's access), audited
// as grant.revoked with the reason and announced on the bus so every
// gateway drops its cached liveness at once.
func (r *Runtime) revokeOffboarded(ctx context.Context, g *tenants.Grant, reason string, wholeUser bool, cause error) {
	r.metrics.upstreamRefresh.WithLabelValues("revoked").Inc()
	var bus tenants.Bus
	if r.opts.Bus != nil {
		bus = r.opts.Bus
	}
	var err error
	n := 1
	if wholeUser && g.UserID != "" {
		n, err = tenants.RevokeUserAccessThrough(ctx, r.opts.Store, bus, r.auditor, g.TenantID, g.UserID, reason, g.ID)
	} else {
		err = tenants.RevokeGrant(ctx, r.opts.Store, bus, r.auditor, g.TenantID, g.ID, reason)
	}
	if err != nil {
		r.log.Error("cannot revoke the grant of an offboarded user", "tenant", g.TenantID, "grant", g.ID, "err", err)
		return
	}
	r.log.Info("upstream IdP ended the user's access; grants revoked", "tenant", g.TenantID, "grant", g.ID, "user", g.UserID,
		"reason", reason, "revoked", n, "cause", cause)
}

// refreshUpstream renews upstream IdP tokens of live grants before they
// expire. A grant whose refresh fails for good (the IdP refused, no refresh
// token, IdP removed) is marked with UpstreamRefreshError so the gateway and
// the console can say why; a transient failure is retried next period, and
// marked only once the token has expired.
func (r *Runtime) refreshUpstream(ctx context.Context) error {
	now := r.now()
	seen := map[string]bool{}
	for i := 0; i < maxBatchesPerRun; i++ {
		gs, err := r.opts.Store.ListUpstreamRefreshDue(ctx, now.Add(r.opts.UpstreamRefreshAhead), now, r.opts.SweepBatch)
		if err != nil {
			return err
		}
		fresh := 0
		for j := range gs {
			g := &gs[j]
			key := g.TenantID + "/" + g.ID
			if seen[key] {
				continue // transient failure earlier in this run
			}
			seen[key] = true
			fresh++
			r.refreshGrant(ctx, g)
		}
		if fresh == 0 || len(gs) < r.opts.SweepBatch {
			return nil
		}
	}
	return nil
}

// upstreamRefreshLockTTL bounds how long a crashed refresher blocks the
// next one; a refresh is a single IdP round trip with a 10 s timeout.
const upstreamRefreshLockTTL = time.Minute

func (r *Runtime) refreshGrant(ctx context.Context, g *tenants.Grant) {
	fail := func(err error, mark bool) {
		r.metrics.upstreamRefresh.WithLabelValues("failed").Inc()
		r.log.Warn("upstream token refresh failed", "tenant", g.TenantID, "grant", g.ID, "idp", g.UpstreamIdP, "err", err, "marked", mark)
		if mark {
			if err := r.opts.Store.SetUpstreamRefreshError(ctx, g.TenantID, g.ID, err.Error()); err != nil {
				r.log.Error("cannot record upstream refresh failure", "grant", g.ID, "err", err)
			}
		}
	}
	// One refresher per grant at a time, across replicas: upstream refresh
	// tokens rotate, so a second refresh racing the first would present a
	// spent token, be refused as invalid_grant, and revoke a healthy grant.
	lock := "gatehouse:upstream-refresh:" + g.TenantID + ":" + g.ID
	if ok, err := r.rdb.SetNX(ctx, lock, "1", upstreamRefreshLockTTL).Result(); err == nil && !ok {
		return // another run is refreshing this grant
	} else if err == nil {
		defer r.rdb.Del(context.WithoutCancel(ctx), lock)
	}
	// Re-read the grant under the lock: a run that finished just before
	// this one took the lock has already stored a new token.
	if cur, err := r.opts.Store.GetGrant(ctx, g.TenantID, g.ID); err == nil {
		if cur.UpstreamTokenSealed != g.UpstreamTokenSealed || !cur.Live(r.now()) {
			return
		}
	}
	t, err := r.opts.Store.GetTenant(ctx, g.TenantID)
	if err != nil {
		return
	}
	tok, err := tenants.OpenUpstreamToken(r.opts.Sealer, g)
	if err != nil {
		fail(fmt.Errorf("upstream token cannot be read: %w", err), true)
		return
	}
	nt, err := r.refresh.Refresh(ctx, t, g.UpstreamIdP, tok)
	if err != nil {
		if reason, who := offboarded(err); reason != "" {
			r.revokeOffboarded(ctx, g, reason, who, err)
			return
		}
		expired := g.UpstreamTokenExpiry != nil && !g.UpstreamTokenExpiry.After(r.now())
		fail(err, permanent(err) || expired)
		return
	}
	if nt.RefreshToken == "" {
		nt.RefreshToken = tok.RefreshToken // the IdP kept the old one valid
	}
	sealed, err := tenants.SealUpstreamToken(r.opts.Sealer, g.TenantID, g.ID, nt)
	if err != nil {
		fail(err, false)
		return
	}
	var exp = &nt.Expiry
	if nt.Expiry.IsZero() {
		exp = nil
	} else {
		e := nt.Expiry.UTC()
		exp = &e
	}
	if err := r.opts.Store.SetUpstreamToken(ctx, g.TenantID, g.ID, sealed, exp); err != nil {
		r.log.Error("cannot store refreshed upstream token", "grant", g.ID, "err", err)
		return
	}
	r.metrics.upstreamRefresh.WithLabelValues("refreshed").Inc()
}
