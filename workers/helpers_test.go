package workers

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

var ctx = context.Background()

// dbgLogger is nil (discard) unless a debug file sets it.
var dbgLogger *slog.Logger

type redisBackend struct {
	name string
	open func(t testing.TB) asynq.RedisClientOpt
}

// redisBackends: the shared real Redis (an isolated DB) and miniredis with
// the clock ticker the embedded mode uses.
func redisBackends() []redisBackend {
	return []redisBackend{
		{"redis", func(t testing.TB) asynq.RedisClientOpt {
			addr, db := testdb.Redis(t)
			return asynq.RedisClientOpt{Addr: addr, DB: db}
		}},
		{"miniredis", func(t testing.TB) asynq.RedisClientOpt { return startMiniredis(t) }},
	}
}

func startMiniredis(t testing.TB) asynq.RedisClientOpt {
	t.Helper()
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				m.FastForward(250 * time.Millisecond)
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() { close(done); m.Close() })
	return asynq.RedisClientOpt{Addr: m.Addr()}
}

func newSealer(t testing.TB) *tenants.Sealer {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	s, err := tenants.NewSealer([][]byte{k})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// env is one worker runtime under test.
type env struct {
	t      testing.TB
	store  tenants.Store
	sealer *tenants.Sealer
	keys   *keys.Manager
	reg    *prometheus.Registry
	rt     *Runtime
	cancel context.CancelFunc
	done   chan error
}

// newEnv builds a Runtime; mod adjusts options before New. Nothing runs
// until start.
func newEnv(t testing.TB, store tenants.Store, redisOpt asynq.RedisConnOpt, mod func(*Options)) *env {
	t.Helper()
	e := &env{t: t, store: store, sealer: newSealer(t), reg: prometheus.NewRegistry()}
	e.keys = keys.New(store, e.sealer, nil)
	opts := Options{Store: store, Keys: e.keys, Sealer: e.sealer, Redis: redisOpt, Registry: e.reg, Logger: dbgLogger,
		AllowPrivateFetch: true, DelayedTaskCheckInterval: 200 * time.Millisecond}
	if mod != nil {
		mod(&opts)
	}
	e.sealer, e.keys = opts.Sealer, opts.Keys
	rt, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.rt = rt
	t.Cleanup(e.stop)
	return e
}

func (e *env) start() *env {
	c, cancel := context.WithCancel(ctx)
	e.cancel = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- e.rt.Run(c) }()
	return e
}

func (e *env) stop() {
	if e.cancel != nil {
		e.cancel()
		if err := <-e.done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
		e.cancel = nil
	}
	_ = e.rt.Close()
}

func newTenant(t testing.TB, s tenants.Store, slug string) *tenants.Tenant {
	t.Helper()
	now := time.Now().UTC()
	tn := &tenants.Tenant{ID: tenants.RandomID(), Slug: slug, Name: slug, UpstreamMCPURL: "http://127.0.0.1:9/mcp", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runs records completed periodic runs by type and slot.
type runs struct {
	mu  sync.Mutex
	m   map[string]map[int64]int
	err map[string]error
}

func newRuns() *runs { return &runs{m: map[string]map[int64]int{}, err: map[string]error{}} }

func (r *runs) observe(typ string, slot int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[typ] == nil {
		r.m[typ] = map[int64]int{}
	}
	r.m[typ][slot]++
	if err != nil {
		r.err[typ] = err
	}
}

func (r *runs) slots(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m[typ])
}

func redisClient(opt asynq.RedisClientOpt) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: opt.Addr, DB: opt.DB})
}

type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	// Fault tests kill Redis on purpose; go-redis would log every failed dial.
	redis.SetLogger(quietRedisLog{})
	os.Exit(m.Run())
}
