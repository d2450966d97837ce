package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/api/admin"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
)

// worker runs the background workers against Redis, as its own replica,
// with the operations listener on GATEHOUSE_ADMIN_ADDR (or the older
// GATEHOUSE_WORKER_METRICS_ADDR) for probes and scrapes.
func worker(ctx context.Context, cfg *Config, _ []string) error {
	if cfg.RedisURL == "" {
		return fmt.Errorf("GATEHOUSE_REDIS_URL is required for a separate worker (the embedded serve runs workers in-process)")
	}
	addr := cfg.AdminAddr
	if cfg.WorkerMetricsAddr != "" {
		addr = cfg.WorkerMetricsAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (GATEHOUSE_ADMIN_ADDR): %w", addr, err)
	}
	defer ln.Close()
	p, err := newPlatform(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.close()
	srv := p.adminServer(true, nil)
	go srv.Serve(ln)
	defer srv.Close()
	// Every cache another replica's change invalidates, in one place.
	wiring.Subscribe(p.bus, wiring.Receivers{Keys: p.keys, Workers: p.runtime})
	p.bus.Start(ctx)
	p.resealOnKeyChange(ctx)
	p.logger.Info("gatehouse worker running", "database", p.store.Dialect(), "admin_addr", ln.Addr().String(), "version", version)
	return p.runtime.Run(ctx)
}

// adminServer serves the operations endpoints (api/admin). The worker
// cannot work without Redis (queueRequired); serve can, degraded.
func (p *platform) adminServer(queueRequired bool, routes map[string]http.Handler) *http.Server {
	h := admin.Handler(admin.Options{
		Registry: p.registry, DatabasePing: p.store.Ping, QueuePing: p.runtime.Ping, QueueRequired: queueRequired,
		Logger: p.logger, Version: version, DropTenantLabel: !p.cfg.MetricsTenantLabel, Routes: routes,
	})
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
}

// pruneTenantSeries deletes the metric series of deleted tenants every 10
// minutes (a lost notice) and whenever the returned func is called (serve
// subscribes it to tenant-changed notices: a delete on any replica), until
// ctx ends.
func (p *platform) pruneTenantSeries(ctx context.Context, ts *admin.TenantSeries) func(tenantID string) {
	exists := func(ctx context.Context, slug string) (bool, error) {
		_, err := p.store.GetTenantBySlug(ctx, slug)
		if errors.Is(err, tenants.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	kick := make(chan struct{}, 1)
	go func() {
		tick := time.NewTicker(10 * time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case <-kick:
			}
			if n, err := ts.Prune(ctx, p.registry, exists); err != nil {
				p.logger.Warn("metrics: pruning deleted tenants' series failed", "err", err)
			} else if n > 0 {
				p.logger.Info("metrics: removed deleted tenants' series", "series", n)
			}
		}
	}()
	return func(string) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
}
