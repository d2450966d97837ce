package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/limits"
	"github.com/gatehouse/gatehouse/tenants/telemetry"
	"github.com/gatehouse/gatehouse/workers"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

// platform is everything a serve or worker process runs on.
type platform struct {
	cfg      *Config
	logger   *slog.Logger
	store    *gormstore.Store
	sealer   *tenants.Sealer
	keys     *keys.Manager
	redisOpt asynq.RedisConnOpt
	redis    redis.UniversalClient
	bus      *workers.RedisBus
	mini     *miniredis.Miniredis
	runtime  *workers.Runtime
	registry *prometheus.Registry
	tracing  bool // OTEL_* asked for traces
	stop     []func()
	textLogs bool // logs are text (a terminal), not JSON
	// cimdClient is set only by the test hooks (testhooks.go).
	cimdClient *http.Client
}

// logFormat is json or text: text on a terminal unless configured.
func logFormat(cfg *Config) string {
	if cfg.LogFormat != "" {
		return cfg.LogFormat
	}
	if isTerminal(os.Stderr) {
		return "text"
	}
	return "json"
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	// Every line logged with a request's or task's context carries its
	// trace_id and span_id (when tracing is on).
	if logFormat(cfg) == "text" {
		return slog.New(telemetry.LogHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, opts)))
}

// openStoreUnmigrated connects with the configured pool and leaves the
// schema alone (`gatehouse migrate` itself).
func openStoreUnmigrated(ctx context.Context, cfg *Config) (*gormstore.Store, error) {
	return openDB(ctx, cfg, false)
}

func openDB(ctx context.Context, cfg *Config, migrate bool) (*gormstore.Store, error) {
	dsn := cfg.DatabaseURL
	if dsn == "" {
		dsn = cfg.SQLitePath
	}
	return gormstore.Open(ctx, dsn, &gormstore.Options{SkipMigrate: !migrate, QueryTimeout: cfg.DBQueryTimeout, Tracing: telemetry.Configured(os.Getenv),
		MaxOpenConns: cfg.DBMaxOpenConns, MaxIdleConns: cfg.DBMaxIdleConns, ConnMaxLifetime: cfg.DBConnMaxLifetime})
}

// openStore connects with the configured pool. GATEHOUSE_MIGRATE=auto
// applies pending migrations; off (a Job runs `gatehouse migrate up`)
// refuses a schema older than this binary, so a replica never runs against
// tables it does not know.
func openStore(ctx context.Context, cfg *Config) (*gormstore.Store, error) {
	migrate := cfg.Migrate != "off"
	s, err := openDB(ctx, cfg, migrate)
	if err != nil || migrate {
		return s, err
	}
	pending, err := s.Pending(ctx)
	if err == nil && pending {
		err = errors.New("the database schema is older than this binary and GATEHOUSE_MIGRATE=off: run `gatehouse migrate up` first")
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func newPlatform(ctx context.Context, cfg *Config) (*platform, error) {
	p := &platform{cfg: cfg, logger: newLogger(cfg, os.Stderr), registry: prometheus.NewRegistry(), textLogs: logFormat(cfg) == "text"}
	p.registry.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if cfg.AllowPrivateFetch {
		p.logger.Warn("GATEHOUSE_ALLOW_PRIVATE_FETCH is on: upstream IdP, client metadata, webhook and doctor fetches may reach loopback and private addresses over http. Test use only.")
	}
	cimd, err := cfg.testCIMDClient()
	if err != nil {
		return nil, err
	}
	if cimd != nil {
		p.cimdClient = cimd
		p.logger.Warn("TEST HOOKS ON: client metadata documents are fetched with GATEHOUSE_TEST_CA_FILE / GATEHOUSE_TEST_HOST_MAP (a test CA and dial overrides). Never use this in production.",
			"ca_file", cfg.TestCAFile, "host_map", cfg.TestHostMap)
	}
	// Tracing first, so the database and HTTP clients pick up the provider.
	shutdownTracing, err := telemetry.Setup(ctx, os.Getenv, "gatehouse", version)
	if err != nil {
		return nil, err
	}
	p.tracing = telemetry.Configured(os.Getenv)
	p.stop = append(p.stop, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdownTracing(sctx) // flushes the last spans
	})
	keyBytes, err := cfg.secretKeys()
	if err != nil {
		return nil, err
	}
	if p.sealer, err = tenants.NewSealer(keyBytes); err != nil {
		return nil, err
	}
	if p.store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	p.stop = append(p.stop, func() { p.store.Close() })
	if sqlDB, err := p.store.RawDB(); err == nil {
		// go_sql_* pool gauges: waits show an undersized
		// GATEHOUSE_DB_MAX_OPEN_CONNS before requests time out.
		p.registry.MustRegister(collectors.NewDBStatsCollector(sqlDB, "gatehouse"))
	}
	p.keys = keys.New(p.store, p.sealer, nil)

	redisDB := 0
	if cfg.RedisURL != "" {
		target, err := parseRedisURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("GATEHOUSE_REDIS_URL: %w", err)
		}
		p.redisOpt, p.redis, redisDB = target.conn, target.client(), target.db()
	} else {
		// Embedded default: an in-process Redis. miniredis only expires keys
		// when told time has passed, so a ticker fast-forwards it.
		p.mini = miniredis.NewMiniRedis()
		if err := p.mini.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start in-process queue: %w", err)
		}
		tick := time.NewTicker(250 * time.Millisecond)
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-tick.C:
					p.mini.FastForward(250 * time.Millisecond)
				case <-done:
					return
				}
			}
		}()
		p.stop = append(p.stop, func() { tick.Stop(); close(done); p.mini.Close() })
		p.redisOpt = asynq.RedisClientOpt{Addr: p.mini.Addr()}
		p.redis = workers.RequestRedis(p.redisOpt)
	}
	p.stop = append(p.stop, func() { p.redis.Close() })
	p.bus = workers.NewRedisBus(p.redis, workers.BusChannelPrefix(cfg.redisKeyPrefix(), redisDB), p.logger)
	resolver, schedule := cfg.testHooks()
	if resolver != nil {
		p.logger.Warn("TEST HOOK ON: custom-domain TXT lookups go to GATEHOUSE_TEST_DNS_ADDR. Never use this in production.", "dns", cfg.TestDNSAddr)
	}
	if cfg.TestUpstreamRefreshEvery > 0 && schedule != nil {
		p.logger.Warn("TEST HOOK ON: upstream tokens refreshed every GATEHOUSE_TEST_UPSTREAM_REFRESH_EVERY. Never use this in production.", "every", cfg.TestUpstreamRefreshEvery)
	}
	p.runtime, err = workers.New(workers.Options{
		Store: p.store, Keys: p.keys, Sealer: p.sealer, Logger: p.logger, Redis: p.redisOpt,
		AllowPrivateFetch: cfg.AllowPrivateFetch, Registry: p.registry, Bus: p.bus, Resolver: resolver, Schedule: schedule,
	})
	if err != nil {
		return nil, err
	}
	p.stop = append(p.stop, func() { p.runtime.Close() })
	return p, nil
}

func (p *platform) close() {
	for i := len(p.stop) - 1; i >= 0; i-- {
		p.stop[i]()
	}
}

// deps builds the HTTP dependencies.
func (p *platform) deps(adminHash string) *httpx.Deps {
	sites := httpx.NewSites(p.store, p.cfg.PublicURL, p.cfg.TenantDomain)
	// Limits: Redis in production, so every replica shares them; in memory
	// in the embedded default (one process).
	var lim limits.Limiter = limits.NewMemory(nil)
	if p.cfg.RedisURL != "" {
		lim = limits.NewRedis(p.redis, p.cfg.redisKeyPrefix()+"gatehouse:rl:", p.logger)
	}
	d := &httpx.Deps{
		Limits: lim, MCPQuota: httpx.MCPQuota{PerTenant: p.cfg.MCPRequestsPerMinute, PerUser: p.cfg.MCPRequestsPerMinutePerUser},
		APILimit: limits.PerMinute(p.cfg.APIRequestsPerMinute),
		Store:    p.store, Sealer: p.sealer, Keys: p.keys, Rotation: p.runtime.KeyRotation(), Auditor: p.runtime.Auditor(), Logger: p.logger,
		Sites: sites, Bus: p.bus, PlatformIdPs: p.cfg.platformIdPs(),
		PublicURL: p.cfg.PublicURL, TenantDomain: p.cfg.TenantDomain, AllowDevIdP: p.cfg.devIdP(),
		AllowPrivateFetch: p.cfg.AllowPrivateFetch, AdminTokenHash: adminHash,
		RefusePrivateUpstreams: p.cfg.refusePrivateUpstreams(), CIMDClient: p.cimdClient,
		HTTPClient: idp.NewHTTPClient(p.cfg.AllowPrivateFetch), QueuePing: p.runtime.Ping, Version: version,
	}
	if p.tracing && d.HTTPClient != nil {
		// Upstream IdP calls join the trace (W3C traceparent).
		traced := *d.HTTPClient
		traced.Transport = telemetry.Transport(traced.Transport)
		d.HTTPClient = &traced
	}
	wiring.Build(d, &wiring.Options{Accounts: p.cfg.accountsPolicy(p.textLogs)})
	return d
}

// accountsPolicy applies the deployment's sign-up policy and mail to the
// account service (serve and the CLI alike). Without GATEHOUSE_SMTP_URL,
// mail waits in the operator view; with text logs (a person at a terminal)
// the link of unsent mail is also logged on one marked line.
func (c *Config) accountsPolicy(textLogs bool) func(*accounts.Service) {
	return func(svc *accounts.Service) {
		svc.Signup, svc.LogLinks = c.signup(), textLogs
		if c.SMTPURL != "" {
			m, _ := accounts.ParseSMTPURL(c.SMTPURL) // validated with the configuration
			svc.Mailer = m
		}
	}
}

// adminToken returns the admin token hash. GATEHOUSE_ADMIN_TOKEN, when set,
// is the token. Otherwise one is generated on first start and only its hash
// is kept; the token itself is printed to terminal (nil when stdout is not
// a terminal) and never to the log, where JSON lines are shipped and kept.
func (p *platform) adminToken(ctx context.Context, terminal io.Writer) (string, error) {
	if p.cfg.AdminToken != "" {
		return tenants.HashSecret(p.cfg.AdminToken), nil
	}
	h, err := p.store.GetSystemValue(ctx, adminTokenKey)
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, tenants.ErrNotFound) {
		return "", err
	}
	token := newAdminToken()
	stored, err := p.store.PutSystemValueIfAbsent(ctx, adminTokenKey, tenants.HashSecret(token))
	if err != nil {
		return "", err
	}
	if !stored { // another replica generated one first
		return p.store.GetSystemValue(ctx, adminTokenKey)
	}
	if terminal != nil {
		fmt.Fprintf(terminal, "\n  Gatehouse admin token (shown once; only its hash is stored):\n\n    %s\n\n", token)
	} else {
		p.logger.Warn("an admin token was generated and only its hash stored; it is printed only to a terminal. " +
			"Set GATEHOUSE_ADMIN_TOKEN, or run `gatehouse admin-token rotate` in a terminal (or with --out FILE) to get one.")
	}
	return tenants.HashSecret(token), nil
}
