package workers

import (
	"context"
	"errors"
	"net"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// verifyDomains checks the DNS TXT challenge (tenants.ChallengeFor) of every
// unverified custom domain and marks the domain verified when the record is
// there. Only then does the domain serve the tenant and get a certificate
// through the on-demand TLS ask endpoint.
func (r *Runtime) verifyDomains(ctx context.Context) error {
	for items, err := range tenants.Pages(200, func(p tenants.Page) ([]tenants.Tenant, string, error) { return r.opts.Store.ListTenants(ctx, p) }) {
		if err != nil {
			return err
		}
		for i := range items {
			if t := &items[i]; t.CustomDomain != nil && !t.CustomDomainVerified {
				if err := r.verifyDomain(ctx, t); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (r *Runtime) verifyDomain(ctx context.Context, t *tenants.Tenant) error {
	ch := tenants.ChallengeFor(t.ID, *t.CustomDomain)
	resolver := r.opts.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	txts, err := resolver.LookupTXT(lctx, ch.Name)
	if err != nil || !slices.Contains(txts, ch.Value) {
		return nil // not published (yet): the next run looks again
	}
	cur, err := r.opts.Store.GetTenant(ctx, t.ID)
	if errors.Is(err, tenants.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.CustomDomain == nil || *cur.CustomDomain != *t.CustomDomain || cur.CustomDomainVerified {
		return nil // changed meanwhile
	}
	cur.CustomDomainVerified = true
	if err := r.opts.Store.UpdateTenant(ctx, cur); err != nil {
		if errors.Is(err, tenants.ErrConflict) {
			r.log.Warn("custom domain already verified by another tenant", "tenant", t.ID, "domain", *t.CustomDomain)
			return nil
		}
		return err
	}
	r.auditor.Record(ctx, tenants.AuditEvent{TenantID: t.ID, Action: "admin.custom_domain.verified", Actor: "system",
		Outcome: tenants.OutcomeSuccess, Details: tenants.JSONMap{tenants.DetailDomain: *t.CustomDomain, tenants.DetailRecord: ch.Name}})
	if r.opts.Bus != nil {
		_ = r.opts.Bus.Publish(ctx, tenants.TopicTenantChanged, t.ID)
	}
	r.log.Info("custom domain verified", "tenant", t.ID, "domain", *t.CustomDomain)
	return nil
}
