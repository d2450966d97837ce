// Package wiring is the composition root's shared half. Build makes every
// domain service the HTTP surfaces and the console use — provisioner,
// authorization server, token verifier, key rotation policy, limiter,
// accounts — once per process, and Subscribe is the one place where every
// cross-replica cache invalidation is subscribed to the bus. cmd/gatehouse
// (serve, worker and the CLI) and the test kit (internal/testkit) call
// both, so tests run the services wired exactly as production does.
package wiring

import (
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/limits"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
	"github.com/gatehouse/gatehouse/workers"
)

// Options tune the services Build makes; nil or zero fields mean defaults.
type Options struct {
	// Verifier configures the grant-liveness cache and clock (tests).
	Verifier *access.Options
	// NewProvider builds upstream IdPs (default idp.New; tests fake them).
	NewProvider as.ProviderFactory
	// Accounts adjusts the account service after it is built (sign-up
	// policy, mailer, password parameters, clock).
	Accounts func(*accounts.Service)
}

// Build fills d's services from its base dependencies (Store, Sealer,
// Keys, Auditor, Bus, Logger and the deployment switches). A Rotation or
// Limits already set is kept: the workers runtime builds the rotation
// policy around its queued auditor, and serve picks Redis limits in
// production.
func Build(d *httpx.Deps, o *Options) {
	if o == nil {
		o = &Options{}
	}
	if d.Limits == nil {
		d.Limits = limits.NewMemory(nil)
	}
	if d.Rotation == nil {
		d.Rotation = &keys.Rotation{Keys: d.Keys, Bus: d.Bus, Auditor: d.Auditor, Logger: d.Logger}
	}
	d.Provisioner = Provisioner(d)
	d.Verifier = access.NewVerifier(d.Store, d.Keys, o.Verifier)
	newProvider := o.NewProvider
	if newProvider == nil {
		newProvider = idp.New
	}
	d.AuthServer = &as.Server{
		Store: d.Store, Sealer: d.Sealer, Keys: d.Keys, Auditor: d.Auditor, Bus: d.Bus, AllowDevIdP: d.AllowDevIdP,
		CIMD:        as.NewCIMDResolver(&as.CIMDOptions{Client: d.CIMDClient, AllowPrivate: d.AllowPrivateFetch}),
		KeySets:     as.NewKeySets(&as.KeySetOptions{Client: d.CIMDClient, AllowPrivate: d.AllowPrivateFetch}),
		DCRLimiter:  d.Limits,
		NewProvider: newProvider,
		HTTPClient:  d.IdPClient(),
	}
	d.Accounts = &accounts.Service{Store: d.Store, Sealer: d.Sealer, Auditor: d.Auditor, Prov: d.Provisioner,
		Logger: d.Logger, PublicURL: d.PublicURL, Signup: accounts.SignupOpen}
	if o.Accounts != nil {
		o.Accounts(d.Accounts)
	}
}

// Provisioner builds the provisioning service from d: the HTTP surfaces
// (through Build) and the CLI get the same one, bus and host rules included.
func Provisioner(d *httpx.Deps) *tenants.Provisioner {
	p := &tenants.Provisioner{Store: d.Store, Sealer: d.Sealer, Auditor: d.Auditor, AllowDevIdP: d.AllowDevIdP,
		AllowPrivateFetch: d.AllowPrivateFetch, Bus: d.Bus, TenantDomain: d.TenantDomain}
	if d.Sites != nil {
		p.TenantDomain = d.Sites.TenantDomain()
	}
	if u, err := url.Parse(d.PublicURL); err == nil {
		p.PublicHost = strings.ToLower(u.Hostname())
	}
	return p
}

// Receivers are the caches and registries bus notices keep current; nil
// fields are absent in this process (the worker has no HTTP surfaces).
type Receivers struct {
	// Deps: its Sites (tenant cache), Verifier (grant liveness) and
	// AuthServer (client grants, API keys, introspection liveness).
	Deps *httpx.Deps
	// Gateway cuts the open streams of a revoked grant.
	Gateway *gateway.Gateway
	// Keys drops a tenant's cached signing keys after a rotation.
	Keys *keys.Manager
	// Workers drops its cached tenant (audit webhooks, sweeps).
	Workers *workers.Runtime
	// TenantChanged is told of every tenant change (serve: prune the
	// metric series of deleted tenants).
	TenantChanged func(tenantID string)
}

// Subscribe turns on the caches that are only safe while notices keep them
// current and subscribes every receiver to its topics. Call it once per
// process, before the bus starts; TestSubscribeEveryTopic publishes each
// topic through it and checks the receiver reacts.
func Subscribe(bus tenants.Bus, r Receivers) {
	if bus == nil {
		return
	}
	if d := r.Deps; d != nil {
		if d.Sites != nil {
			d.Sites.KeepCurrent()
			bus.Subscribe(tenants.TopicTenantChanged, func(string) { d.Sites.Invalidate() })
		}
		if d.Verifier != nil {
			bus.Subscribe(tenants.TopicGrantRevoked, d.Verifier.ForgetGrant)
		}
		if s := d.AuthServer; s != nil {
			s.CacheWithNotices()
			if d.Verifier != nil {
				// Introspection reads grant liveness through the same
				// notice-kept cache as the gateway.
				s.Liveness = d.Verifier
			}
			bus.Subscribe(tenants.TopicClientChanged, s.ForgetClient)
			bus.Subscribe(tenants.TopicGrantRevoked, s.ForgetGrant)
			bus.Subscribe(tenants.TopicAPIKeyDeleted, s.ForgetAPIKey)
			bus.Subscribe(tenants.TopicTenantChanged, s.ForgetTenant)
		}
	}
	if r.Gateway != nil {
		// Open streams outlive the token check that started them.
		bus.Subscribe(tenants.TopicGrantRevoked, r.Gateway.CutStreams)
	}
	if r.Keys != nil {
		r.Keys.KeepCurrent()
		bus.Subscribe(tenants.TopicKeysRotated, r.Keys.Invalidate)
	}
	if r.Workers != nil {
		bus.Subscribe(tenants.TopicTenantChanged, r.Workers.ForgetTenant)
	}
	if r.TenantChanged != nil {
		bus.Subscribe(tenants.TopicTenantChanged, r.TenantChanged)
	}
}
