// Package testkit builds test environments the way the composition root
// builds a process: real stores (SQLite or Postgres, tenants/testdb), the
// domain services from internal/wiring.Build and the bus subscriptions from
// internal/wiring.Subscribe, plus the shared fakes (an in-memory bus, an
// auditor that fails the test when a secret reaches an audit event).
// Imported only by tests.
package testkit

import (
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/limits"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// Backends runs fn on SQLite and on Postgres; dsn makes a fresh database.
func Backends(t *testing.T, fn func(t *testing.T, dsn func(t *testing.T) string)) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, func(t *testing.T) string { return b.DSN(t) }) })
	}
}

// Options of a kit; zero values are the defaults.
type Options struct {
	// DSN of the database (default: a fresh SQLite file); Store replaces it
	// (fault-injecting stores).
	DSN   string
	Store tenants.Store
	// SecretKeys are GATEHOUSE_SECRET_KEY (default: one random key).
	SecretKeys [][]byte
	// PublicURL is the deployment's base URL; TenantDomain turns on host mode.
	PublicURL    string
	TenantDomain string
	// NoDevIdP turns the dev IdP off; AllowPrivateFetch relaxes the
	// outbound address policy (tests reach loopback servers).
	NoDevIdP          bool
	AllowPrivateFetch bool
	// AdminToken is hashed into the deps and watched by the auditor.
	AdminToken string
	// Bus carries notices (default none: a single process).
	Bus tenants.Bus
	// Logs receive the JSON log (default: discarded); Logger replaces it.
	Logs   io.Writer
	Logger *slog.Logger
	// AuditInMemory keeps audit events only in the kit's auditor; by
	// default they are also written to the store (the API reads them).
	AuditInMemory bool
	// HTTPClient and CIMDClient replace the outbound clients; Limits the
	// in-memory limiter; MCPQuota the plan quotas.
	HTTPClient *http.Client
	CIMDClient *http.Client
	Limits     limits.Limiter
	MCPQuota   httpx.MCPQuota
	// Wiring tunes the services (verifier clock and TTL, IdP factory,
	// account service).
	Wiring wiring.Options
}

// Kit is one test process: its store, base dependencies and built services.
type Kit struct {
	T testing.TB
	// Store is Options.Store or the opened database (DB).
	Store tenants.Store
	DB    *gormstore.Store
	// Key is the first secret key.
	Key    []byte
	Sealer *tenants.Sealer
	Keys   *keys.Manager
	Deps   *httpx.Deps
	Audit  *Auditor
	Logger *slog.Logger
	opts   Options
}

// New builds a kit: store, sealer, keys, auditor, Sites and the services
// of internal/wiring.Build.
func New(t testing.TB, o Options) *Kit {
	t.Helper()
	k := &Kit{T: t, Store: o.Store, opts: o}
	if k.Store == nil {
		dsn := o.DSN
		if dsn == "" {
			dsn = testdb.SQLite(t)
		}
		db := testdb.Open(t, dsn)
		k.Store, k.DB = db, db
	}
	if len(o.SecretKeys) == 0 {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		o.SecretKeys = [][]byte{key}
	}
	k.Key = o.SecretKeys[0]
	logs := o.Logs
	if logs == nil {
		logs = io.Discard
	}
	k.Logger = o.Logger
	if k.Logger == nil {
		k.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	k.Audit = NewAuditor(t)
	k.Audit.Watch(o.AdminToken)
	if !o.AuditInMemory {
		k.Audit.Next = &tenants.SyncAuditor{Store: k.Store, Logger: k.Logger}
	}
	d := &httpx.Deps{
		Store: k.Store, Auditor: k.Audit, Logger: k.Logger, Bus: o.Bus,
		Sites: httpx.NewSites(k.Store, o.PublicURL, o.TenantDomain), PublicURL: o.PublicURL, TenantDomain: o.TenantDomain,
		AllowDevIdP: !o.NoDevIdP, AllowPrivateFetch: o.AllowPrivateFetch, HTTPClient: o.HTTPClient, CIMDClient: o.CIMDClient,
		Limits: o.Limits, MCPQuota: o.MCPQuota, Version: "test",
	}
	if o.AdminToken != "" {
		d.AdminTokenHash = tenants.HashSecret(o.AdminToken)
	}
	k.Deps = d
	k.Rekey(o.SecretKeys...)
	return k
}

// Rekey makes the kit a restarted process over the same store with
// secretKeys as GATEHOUSE_SECRET_KEY (the first seals and MACs, every one
// opens and verifies): new sealer, keys, Sites and services. The previous
// Deps stay as they were (their handlers keep working until replaced).
func (k *Kit) Rekey(secretKeys ...[]byte) *httpx.Deps {
	k.T.Helper()
	sealer, err := tenants.NewSealer(secretKeys)
	if err != nil {
		k.T.Fatal(err)
	}
	d := *k.Deps
	k.Sealer, k.Keys = sealer, keys.New(k.Store, sealer, nil)
	d.Sealer, d.Keys, d.Rotation = sealer, k.Keys, nil
	d.Sites = httpx.NewSites(k.Store, d.PublicURL, d.TenantDomain)
	d.Limits = k.opts.Limits
	wiring.Build(&d, &k.opts.Wiring)
	k.Deps = &d
	return k.Deps
}

// Subscribe subscribes the kit's services and gw (nil: no gateway) to the
// bus, through internal/wiring.Subscribe as every process does.
func (k *Kit) Subscribe(gw *gateway.Gateway) {
	wiring.Subscribe(k.Deps.Bus, wiring.Receivers{Deps: k.Deps, Gateway: gw, Keys: k.Keys})
}
