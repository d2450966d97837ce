package doctor

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Reader is the part of the store the doctor reads.
type Reader interface {
	ListAuditEvents(ctx context.Context, tenantID string, f tenants.AuditFilter) ([]tenants.AuditEvent, string, error)
	ListClients(ctx context.Context, tenantID string, p tenants.Page) ([]tenants.Client, string, error)
	ListGrants(ctx context.Context, tenantID string, p tenants.Page) ([]tenants.Grant, string, error)
}

// LoadOptions bound what is read. Zero values mean defaults.
type LoadOptions struct {
	Now time.Time
	// Since is how far back events are read (default 7 days).
	Since time.Duration
	// MaxEvents caps the events read, newest first (default 5000).
	MaxEvents int
	// MaxClients and MaxGrants cap those lists (default 1000 each).
	MaxClients int
	MaxGrants  int
}

// Diagnosis reads a tenant's recent events, clients and grants and
// diagnoses them.
func Diagnosis(ctx context.Context, r Reader, t *tenants.Tenant, opts *LoadOptions) (Report, error) {
	var o LoadOptions
	if opts != nil {
		o = *opts
	}
	if o.Now.IsZero() {
		o.Now = time.Now().UTC()
	}
	if o.Since <= 0 {
		o.Since = 7 * 24 * time.Hour
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 5000
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 1000
	}
	if o.MaxGrants <= 0 {
		o.MaxGrants = 1000
	}
	in := Input{Tenant: t, Now: o.Now}
	truncated := false
	f := tenants.AuditFilter{After: o.Now.Add(-o.Since), Page: tenants.Page{Limit: 200}}
	for {
		items, next, err := r.ListAuditEvents(ctx, t.ID, f)
		if err != nil {
			return Report{}, err
		}
		in.Events = append(in.Events, items...)
		if next == "" {
			break
		}
		if len(in.Events) >= o.MaxEvents {
			truncated = true
			break
		}
		f.Cursor = next
	}
	var err error
	if in.Clients, err = readPages(ctx, o.MaxClients, func(ctx context.Context, p tenants.Page) ([]tenants.Client, string, error) {
		return r.ListClients(ctx, t.ID, p)
	}); err != nil {
		return Report{}, err
	}
	if in.Grants, err = readPages(ctx, o.MaxGrants, func(ctx context.Context, p tenants.Page) ([]tenants.Grant, string, error) {
		return r.ListGrants(ctx, t.ID, p)
	}); err != nil {
		return Report{}, err
	}
	rep := Diagnose(in)
	rep.Truncated = truncated
	rep.Window.From = o.Now.Add(-o.Since)
	if truncated && len(in.Events) > 0 {
		rep.Window.From = in.Events[len(in.Events)-1].Time // the oldest event read
	}
	return rep, nil
}

// readPages reads a list page by page until it ends or holds max items.
func readPages[T any](ctx context.Context, max int, list func(context.Context, tenants.Page) ([]T, string, error)) ([]T, error) {
	var out []T
	for items, err := range tenants.Pages(200, func(p tenants.Page) ([]T, string, error) { return list(ctx, p) }) {
		if err != nil {
			return nil, err
		}
		if out = append(out, items...); len(out) >= max {
			break
		}
	}
	return out, nil
}
