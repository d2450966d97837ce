// Package workers runs the background work (docs/RULES.md §7) on asynq: periodic
// sweeps, key rotation, upstream-token refresh, audit batching and webhook
// delivery. `gatehouse worker` runs it against Redis; the embedded `serve`
// runs it in-process on miniredis.
//
// Queues, by priority: "critical" (audit batch writes), "default" (sweeps,
// key rotation, upstream refresh), "low" (webhook deliveries). Periodic
// tasks are enqueued by every replica's scheduler under a task id derived
// from the period slot, so a slot runs once however many replicas run.
package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/egress"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/stale"
)

// Queue names.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// Options for New. Nil/zero fields mean defaults.
type Options struct {
	Store  tenants.Store
	Keys   *keys.Manager
	Sealer *tenants.Sealer
	Logger *slog.Logger
	// Redis is the asynq connection.
	Redis asynq.RedisConnOpt
	// HTTPClient for upstream IdP refresh (default idp.NewHTTPClient with
	// AllowPrivateFetch: the outbound address policy).
	HTTPClient *http.Client
	// AllowPrivateFetch relaxes the outbound address policy for IdP refresh
	// and webhooks (GATEHOUSE_ALLOW_PRIVATE_FETCH, tests only).
	AllowPrivateFetch bool
	Registry          prometheus.Registerer
	// Bus announces changes (keys rotated, grants revoked) to every replica.
	Bus *RedisBus
	// Resolver looks up custom-domain TXT challenges (default
	// net.DefaultResolver; tests point it at a DNS server on loopback).
	Resolver *net.Resolver

	// Schedule overrides task periods by task type (tests); missing types
	// keep DefaultSchedule's period.
	Schedule map[string]time.Duration
	// Concurrency of task processing (default 10).
	Concurrency int
	// SweepBatch bounds the rows one sweep statement touches (default 500).
	SweepBatch int

	// Audit batching: events are grouped (asynq group aggregation) into one
	// multi-row insert when a group reaches AuditBatchMax events, its newest
	// event is AuditBatchGrace old (min 1s), or its oldest AuditBatchMaxDelay.
	AuditBatchMax      int           // default 1000
	AuditBatchGrace    time.Duration // default 1s
	AuditBatchMaxDelay time.Duration // default 2s
	// AuditShards is the number of groups events are spread over (default
	// 16). asynq aggregates at most one set per group per check (every
	// AuditBatchGrace), so the batched path tops out near
	// AuditShards × AuditBatchMax events per grace period; past that,
	// events wait, and after AuditConfirmAfter the recorder writes them.
	AuditShards int
	// AuditConfirmAfter is how long an enqueued event may stay unwritten
	// before the recording process writes it itself (default 20s). This is
	// what makes a Redis that lost its data lose no audit event.
	AuditConfirmAfter time.Duration

	// RefreshReuseWindow keeps rotated refresh tokens this long past the
	// tenant's grace window, so that a replay of an old token is still
	// recognised as reuse and revokes the grant (default 24h; negative: 0).
	RefreshReuseWindow time.Duration
	// CodeReuseWindow keeps expired authorization codes this long, so that
	// a replayed code still revokes what it issued (default 10m).
	CodeReuseWindow time.Duration
	// GrantRetention keeps revoked and expired grants (without tokens) this
	// long for the console and the doctor (default 30 days).
	GrantRetention time.Duration
	// UpstreamRefreshAhead refreshes upstream tokens expiring within this
	// window (default 10m).
	UpstreamRefreshAhead time.Duration
	// UpstreamRefresher renews upstream tokens (default: the tenant's IdP
	// through tenants/idp).
	UpstreamRefresher UpstreamRefresher
	// KeyPublishAhead is how long a next key is in the JWKS before it signs
	// (default 24h, at most half the tenant's rotation period).
	KeyPublishAhead time.Duration

	// Webhooks: attempts before dead-letter (default 8), first retry delay,
	// doubling (default 30s, capped at 1h), per-attempt timeout (default 10s).
	WebhookMaxAttempts int
	WebhookBackoff     time.Duration
	WebhookTimeout     time.Duration

	// DelayedTaskCheckInterval is how often retries and scheduled tasks are
	// moved to pending (asynq default 5s; tests use less).
	DelayedTaskCheckInterval time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Runtime is the worker system of one process.
type Runtime struct {
	opts     Options
	log      *slog.Logger
	client   *asynq.Client
	rdb      redis.UniversalClient
	qrdb     redis.UniversalClient // request-path enqueues (may be rdb)
	insp     *asynq.Inspector
	auditor  *queuedAuditor
	rotation *keys.Rotation
	metrics  *metrics
	webhooks *http.Client
	refresh  UpstreamRefresher
	sched    []periodic
	// tcache keeps tenants briefly for per-event work (webhook fan-out);
	// a tenant-changed notice drops one at once.
	tcache *stale.Cache[*tenants.Tenant]

	// observe, when set (tests), is told of every periodic task run.
	observe func(typ string, slot int64, err error)

	mu      sync.Mutex
	running bool
	closed  bool
}

// New builds the runtime; the audit pipeline works at once (it is used by
// serve replicas that do not run workers), tasks run only under Run.
func New(opts Options) (*Runtime, error) {
	if opts.Store == nil {
		return nil, errors.New("workers: Store is required")
	}
	if opts.Redis == nil {
		return nil, errors.New("workers: Redis is required")
	}
	setDefaults(&opts)
	rdb, ok := opts.Redis.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("workers: unsupported redis connection %T", opts.Redis)
	}
	// Enqueues happen while a request waits: they get their own client
	// whose calls honour the 500 ms enqueue deadline (redisopts.go).
	var qrdb redis.UniversalClient = rdb
	if c := RequestRedis(opts.Redis); c != nil {
		qrdb = c
	}
	r := &Runtime{
		opts:   opts,
		log:    opts.Logger,
		rdb:    rdb,
		qrdb:   qrdb,
		client: asynq.NewClientFromRedisClient(qrdb),
		insp:   asynq.NewInspectorFromRedisClient(rdb),
		// Webhooks: the outbound address policy, https unless private
		// fetch is allowed, and no redirects (a 3xx is a failed delivery,
		// retried like any other).
		webhooks: egress.NewClient(egress.Options{Policy: egress.Policy{AllowPrivate: opts.AllowPrivateFetch},
			Timeout: opts.WebhookTimeout, HTTPSOnly: !opts.AllowPrivateFetch, Redirects: egress.NoRedirects}),
		refresh: opts.UpstreamRefresher,
	}
	r.tcache = stale.New[*tenants.Tenant](stale.Options{TTL: 10 * time.Second, MaxEntries: 10_000})
	if r.refresh == nil {
		r.refresh = &IdPRefresher{Store: opts.Store, Sealer: opts.Sealer, HTTPClient: opts.HTTPClient}
	}
	r.sched = schedule(opts.Schedule)
	r.metrics = newMetrics(opts.Registry, r)
	r.auditor = newQueuedAuditor(r)
	if opts.Keys != nil {
		r.rotation = &keys.Rotation{Keys: opts.Keys, Bus: opts.Bus, Auditor: r.auditor, Logger: r.log, PublishAhead: opts.KeyPublishAhead}
	}
	return r, nil
}

func setDefaults(o *Options) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = idp.NewHTTPClient(o.AllowPrivateFetch)
	}
	orDefault(&o.Concurrency, 10)
	orDefault(&o.SweepBatch, 500)
	orDefault(&o.AuditBatchMax, 1000)
	if o.AuditBatchGrace < time.Second {
		o.AuditBatchGrace = time.Second // asynq's minimum
	}
	orDefault(&o.AuditBatchMaxDelay, 2*time.Second)
	orDefault(&o.AuditShards, 16)
	orDefault(&o.AuditConfirmAfter, 20*time.Second)
	switch {
	case o.RefreshReuseWindow < 0:
		o.RefreshReuseWindow = 0
	case o.RefreshReuseWindow == 0:
		o.RefreshReuseWindow = 24 * time.Hour
	}
	orDefault(&o.CodeReuseWindow, 10*time.Minute)
	orDefault(&o.GrantRetention, 30*24*time.Hour)
	orDefault(&o.UpstreamRefreshAhead, 10*time.Minute)
	orDefault(&o.KeyPublishAhead, 24*time.Hour)
	orDefault(&o.WebhookMaxAttempts, 8)
	orDefault(&o.WebhookBackoff, 30*time.Second)
	orDefault(&o.WebhookTimeout, 10*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
}

// orDefault sets an unset (zero or negative) option to its default.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

func (r *Runtime) now() time.Time { return r.opts.Now().UTC() }

// Auditor records audit events through the queue (falling back to a
// synchronous write when Redis is unreachable).
func (r *Runtime) Auditor() tenants.Auditor { return r.auditor }

// ForgetTenant drops a changed or deleted tenant from the runtime's tenant
// cache (the composition root subscribes it to tenants.TopicTenantChanged).
func (r *Runtime) ForgetTenant(tenantID string) { r.tcache.Forget(tenantID) }

// KeyRotation is the signing-key rotation policy, built once here (it needs
// the auditor) and shared with the HTTP surfaces.
func (r *Runtime) KeyRotation() *keys.Rotation { return r.rotation }

// Ping checks the queue is reachable (readiness).
func (r *Runtime) Ping(ctx context.Context) error {
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("queue unreachable: %w", err)
	}
	return nil
}

// Inspector exposes queues, retries and archived (dead-lettered) tasks.
func (r *Runtime) Inspector() *asynq.Inspector { return r.insp }

// Run processes tasks and schedules periodic ones until ctx ends.
func (r *Runtime) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running || r.closed {
		r.mu.Unlock()
		return errors.New("workers: runtime already running or closed")
	}
	r.running = true
	r.mu.Unlock()

	srv := asynq.NewServerFromRedisClient(r.rdb, asynq.Config{
		Concurrency:              r.opts.Concurrency,
		BaseContext:              func() context.Context { return context.WithoutCancel(ctx) },
		Queues:                   map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1},
		RetryDelayFunc:           r.retryDelay,
		ErrorHandler:             asynq.ErrorHandlerFunc(r.taskFailed),
		Logger:                   asynqLogger{r.log},
		LogLevel:                 asynq.WarnLevel,
		ShutdownTimeout:          10 * time.Second,
		GroupAggregator:          asynq.GroupAggregatorFunc(aggregateAudit),
		GroupGracePeriod:         r.opts.AuditBatchGrace,
		GroupMaxDelay:            r.opts.AuditBatchMaxDelay,
		GroupMaxSize:             r.opts.AuditBatchMax,
		DelayedTaskCheckInterval: r.opts.DelayedTaskCheckInterval,
		HealthCheckFunc: func(err error) {
			if err != nil {
				r.log.Warn("queue health check failed", "err", err)
			}
		},
	})
	mux := asynq.NewServeMux()
	mux.Use(traceTask, r.metrics.middleware)
	mux.HandleFunc(TypeAuditBatch, r.handleAuditBatch)
	mux.HandleFunc(TypeAuditEvent, r.handleAuditBatch) // a lone event that was never aggregated
	mux.HandleFunc(TypeWebhook, r.handleWebhook)
	for _, p := range r.sched {
		mux.HandleFunc(p.typ, r.periodicHandler(p))
	}
	if err := srv.Start(mux); err != nil {
		return err
	}
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); r.runScheduler(ctx) }()
	<-ctx.Done()
	<-schedDone
	srv.Shutdown()
	return nil
}

// Close writes what the auditor still holds unconfirmed and releases the
// queue clients.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.auditor.stop()
	// The asynq client and inspector share rdb (asynq refuses to close a
	// shared connection), so closing rdb releases them all.
	if r.qrdb != r.rdb {
		_ = r.qrdb.Close()
	}
	if err := r.rdb.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return err
	}
	return nil
}

// retryDelay: audit batches retry fast (the rows matter and the cause is
// usually a short database hiccup), webhooks back off exponentially from
// WebhookBackoff, the rest use asynq's default.
func (r *Runtime) retryDelay(n int, err error, t *asynq.Task) time.Duration {
	switch t.Type() {
	case TypeAuditBatch, TypeAuditEvent:
		return capped(time.Second, n, time.Minute)
	case TypeWebhook:
		return capped(r.opts.WebhookBackoff, n, time.Hour)
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

// capped is base·2^n with ±10% jitter, at most max.
func capped(base time.Duration, n int, max time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d + time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
}

func (r *Runtime) taskFailed(ctx context.Context, t *asynq.Task, err error) {
	retried, _ := asynq.GetRetryCount(ctx)
	max, _ := asynq.GetMaxRetry(ctx)
	level := slog.LevelWarn
	if retried >= max {
		level = slog.LevelError // archived: visible to the Inspector
	}
	r.log.Log(ctx, level, "task failed", "type", t.Type(), "retried", retried, "max_retry", max, "err", err)
}

// asynqLogger routes asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq", "fatal", true)
}
