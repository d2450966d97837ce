package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/api/admin"
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
	srv := p.adminServer(true)
	go srv.Serve(ln)
	defer srv.Close()
	p.bus.Start(ctx)
	p.logger.Info("gatehouse worker running", "database", p.store.Dialect(), "admin_addr", ln.Addr().String(), "version", version)
	return p.runtime.Run(ctx)
}

// adminServer serves the operations endpoints (api/admin). The worker
// cannot work without Redis (queueRequired); serve can, degraded.
func (p *platform) adminServer(queueRequired bool) *http.Server {
	h := admin.Handler(admin.Options{
		Registry: p.registry, DatabasePing: p.store.Ping, QueuePing: p.runtime.Ping, QueueRequired: queueRequired,
		Logger: p.logger, Version: version,
	})
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
}
