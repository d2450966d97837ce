package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// worker runs the background workers against Redis, as its own replica.
// It serves /healthz and /metrics on GATEHOUSE_WORKER_METRICS_ADDR if set.
func worker(ctx context.Context, cfg *Config, _ []string) error {
	if cfg.RedisURL == "" {
		return fmt.Errorf("GATEHOUSE_REDIS_URL is required for a separate worker (the embedded serve runs workers in-process)")
	}
	p, err := newPlatform(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.close()
	if addr := envOr("GATEHOUSE_WORKER_METRICS_ADDR", ""); addr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
	}
	p.bus.Start(ctx)
	p.logger.Info("gatehouse worker running", "database", p.store.Dialect(), "version", version)
	return p.runtime.Run(ctx)
}
