package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
)

// Spread (--tenants N): N more tenants, provisioned through the API, and
// the metadata, token-refresh and gateway scenarios run again spread over
// all of them, each reported as a ratio to its one-tenant figure from the
// same run (docs/PERFORMANCE.md).

// spreadOf maps a scenario to its spread twin.
var spreadOf = map[string]string{"metadata": "metadata-spread", "token-refresh": "token-refresh-spread", "gateway": "gateway-spread"}

// spreadSlug is the slug of the i-th spread tenant: fixed, so --keep lets a
// later run reuse them.
func spreadSlug(i int) string { return fmt.Sprintf("bench-spread-%05d", i) }

// provisionSpread makes (or, kept from an earlier run, reuses) the spread
// tenants, a few requests at a time: each with the dev IdP, consent
// skipped, the tool's upstream, its public client and one grant.
func (b *bench) provisionSpread(ctx context.Context) error {
	n := b.cfg.Tenants
	b.spread = make([]*benchTenant, n)
	b.spreadSs = make([]*session, n)
	var done atomic.Int64
	err := forEach(ctx, n, func(i int) error {
		t, s, err := b.spreadTenant(ctx, i)
		if err != nil {
			return fmt.Errorf("spread tenant %s: %w", spreadSlug(i), err)
		}
		b.spread[i], b.spreadSs[i] = t, s
		if d := done.Add(1); d%500 == 0 || int(d) == n {
			fmt.Fprintf(b.progress, "\r\x1b[Kprovisioned %d/%d spread tenants", d, n)
		}
		return nil
	})
	fmt.Fprintln(b.progress)
	return err
}

// forEach runs fn for 0…n-1, 16 at a time, until the first error.
func forEach(ctx context.Context, n int, fn func(i int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func (b *bench) spreadTenant(ctx context.Context, i int) (*benchTenant, *session, error) {
	slug := spreadSlug(i)
	var out struct {
		PathMode struct {
			Issuer   string `json:"issuer"`
			Resource string `json:"resource"`
		} `json:"path_mode"`
	}
	in := map[string]any{"slug": slug, "name": "gatehouse-bench spread", "upstream_mcp_url": b.upstream, "idp": map[string]any{"type": "dev"},
		"settings": map[string]any{"skip_consent": true}}
	code, err := b.api(ctx, http.MethodPost, "/api/v1/tenants", in, http.StatusCreated, &out)
	if code == http.StatusConflict { // kept by an earlier --keep run: point it at this run's upstream
		_, err = b.api(ctx, http.MethodPatch, "/api/v1/tenants/"+slug, map[string]any{"upstream_mcp_url": b.upstream}, http.StatusOK, &out)
	}
	if err != nil {
		return nil, nil, err
	}
	iss, err1 := url.Parse(out.PathMode.Issuer)
	res, err2 := url.Parse(out.PathMode.Resource)
	if err1 != nil || err2 != nil || iss.Path == "" || res.Path == "" {
		return nil, nil, errors.New("the tenant's path-mode issuer/resource are missing")
	}
	t := &benchTenant{slug: slug, issuer: b.cfg.URL + iss.Path, resource: out.PathMode.Resource, mcpURL: b.cfg.URL + res.Path}
	if err := b.register(ctx, t); err != nil {
		return nil, nil, err
	}
	s := &session{t: t, br: b.browser(), user: "bench-spread-user"}
	if s.at, s.rt, err = b.flow(ctx, t, s.br, s.user); err != nil {
		return nil, nil, err
	}
	return t, s, nil
}

// cleanupSpread deletes the spread tenants unless --keep.
func (b *bench) cleanupSpread(ctx context.Context) {
	if b.cfg.Keep {
		return
	}
	_ = forEach(ctx, len(b.spread), func(i int) error {
		if t := b.spread[i]; t != nil {
			_, _ = b.api(ctx, http.MethodDelete, "/api/v1/tenants/"+t.slug, nil, http.StatusNoContent, nil)
		}
		return nil
	})
}
