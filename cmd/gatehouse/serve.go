package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/api"
	"github.com/gatehouse/gatehouse/api/admin"
	"github.com/gatehouse/gatehouse/api/demo"
	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/telemetry"
)

func serve(ctx context.Context, cfg *Config, args []string) error {
	fs := newFlagSet("serve", "usage: gatehouse serve [--addr A] [--public-url U] [--admin-addr A]")
	addr := fs.String("addr", cfg.Addr, "listen address (GATEHOUSE_ADDR)")
	public := fs.String("public-url", cfg.PublicURL, "public base URL (GATEHOUSE_PUBLIC_URL; default derived from the listen address)")
	adminAddr := fs.String("admin-addr", cfg.AdminAddr, "operations listener for /metrics, /healthz, /readyz (GATEHOUSE_ADMIN_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments (got %q)", fs.Args())
	}
	// Flags replace their variables before validation, so --addr derives
	// the public URL exactly as GATEHOUSE_ADDR does.
	cfg.Addr, cfg.PublicURL, cfg.AdminAddr = *addr, *public, *adminAddr
	if err := cfg.validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (GATEHOUSE_ADDR): %w", cfg.Addr, err)
	}
	defer ln.Close()
	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (GATEHOUSE_ADMIN_ADDR): %w", cfg.AdminAddr, err)
	}
	defer adminLn.Close()

	p, err := newPlatform(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.close()
	var terminal io.Writer
	if isTerminal(os.Stdout) {
		terminal = os.Stdout
	}
	adminHash, err := p.adminToken(ctx, terminal)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	deps := p.deps(adminHash)
	// Closed when Shutdown starts: the gateway ends open streams cleanly
	// (clients resume with Last-Event-ID) so the drain completes.
	draining := make(chan struct{})
	deps.Draining = draining
	tenantSeries := admin.NewTenantSeries(p.registry)
	gw := gateway.New(deps, tenantSeries, &gateway.Options{RefusePrivateUpstreams: deps.RefusePrivateUpstreams})
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	// Every cache another replica's change invalidates, in one place.
	wiring.Subscribe(p.bus, wiring.Receivers{Deps: deps, Gateway: gw, Keys: p.keys, Workers: p.runtime,
		TenantChanged: p.pruneTenantSeries(workCtx, tenantSeries)})
	handler, err := api.New(deps, &api.Options{Registry: p.registry, TenantMetrics: tenantSeries, TrustedProxies: cfg.TrustedProxies, Gateway: gw,
		SecurityContacts: cfg.SecurityContacts})
	if err != nil {
		return err
	}
	if p.tracing {
		handler = telemetry.Handler(handler)
	}
	if cfg.devIdP() {
		// The built-in demo upstream shares the listener, outside the router.
		// A plain prefix switch, not http.ServeMux: ServeMux "cleans" paths
		// with a 307 (e.g. URL-shaped client ids containing "//"), and a
		// redirect would drop the Authorization header.
		demoHandler, main := demo.Handler(), handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == demo.Path || r.URL.Path == demo.Path+"/" {
				demoHandler.ServeHTTP(w, r)
				return
			}
			main.ServeHTTP(w, r)
		})
	}
	if cfg.demoTenant() {
		if err := ensureDemoTenant(ctx, p, deps.Provisioner, ln.Addr().(*net.TCPAddr).Port); err != nil {
			return fmt.Errorf("demo tenant: %w", err)
		}
	}

	p.bus.Start(workCtx)
	// The revocation feed lets grant states be cached past the 4 s a lost
	// notice would otherwise allow (tenants/access/feed.go).
	go deps.Verifier.FollowRevocations(workCtx, 0)
	workDone := make(chan error, 1)
	if cfg.inProcessWorkers() {
		p.resealOnKeyChange(workCtx)
		go func() { workDone <- p.runtime.Run(workCtx) }()
	} else {
		close(workDone)
	}

	// Slowloris-safe timeouts that leave MCP streams open (httpx.NewServer).
	srv := httpx.NewServer(handler)
	var drainOnce sync.Once
	srv.RegisterOnShutdown(func() { drainOnce.Do(func() { close(draining) }) })
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	adminSrv := p.adminServer(false, map[string]http.Handler{"GET /tls/ask": admin.AskHandler(p.servesHost(deps.Sites), p.logger)})
	go func() { errc <- adminSrv.Serve(adminLn) }()
	defer adminSrv.Close()
	p.logger.Info("gatehouse serving", "addr", ln.Addr().String(), "admin_addr", adminLn.Addr().String(), "public_url", cfg.PublicURL,
		"database", p.store.Dialect(), "embedded_queue", p.mini != nil, "dev_idp", cfg.devIdP(), "version", version)
	if cfg.demoTenant() {
		fmt.Fprintf(os.Stdout, "  Demo connector URL: %s/t/demo/mcp  (dev IdP: any username logs in)\n\n", cfg.PublicURL)
	}

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
	}
	p.logger.Info("shutting down: draining connections", "drain_timeout", admin.DrainTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.Background(), admin.DrainTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		p.logger.Warn("graceful shutdown incomplete; closing", "err", err)
		srv.Close()
	}
	stopWork()
	<-workDone
	return nil
}

// ensureDemoTenant creates the demo tenant (dev IdP, built-in upstream) on
// first start, and re-points its upstream at this process's port after.
func ensureDemoTenant(ctx context.Context, p *platform, prov *tenants.Provisioner, port int) error {
	upstream := fmt.Sprintf("http://127.0.0.1:%d%s", port, demo.Path)
	t, err := p.store.GetTenantBySlug(ctx, "demo")
	if err == nil {
		if strings.HasSuffix(t.UpstreamMCPURL, demo.Path) && t.UpstreamMCPURL != upstream {
			t.UpstreamMCPURL = upstream
			return p.store.UpdateTenant(ctx, t)
		}
		return nil
	}
	if !errors.Is(err, tenants.ErrNotFound) {
		return err
	}
	// Default settings: skip_consent stays off, so a trial shows the
	// consent page once, as users of a real tenant will see it (docs/RULES.md §5).
	_, err = prov.CreateTenant(ctx, tenants.TenantInput{
		Slug: "demo", Name: "Demo", UpstreamMCPURL: upstream, IdP: &tenants.IdPInput{Type: tenants.IdPDev},
	})
	if errors.Is(err, tenants.ErrConflict) {
		return nil // another replica created it
	}
	return err
}

// servesHost reports whether host is one this deployment answers for: the
// public host, {slug}.{tenant domain} of an existing tenant, or a verified
// custom domain (the on-demand TLS ask).
func (p *platform) servesHost(sites *httpx.Sites) func(ctx context.Context, host string) (bool, error) {
	public := ""
	if u, err := url.Parse(p.cfg.PublicURL); err == nil {
		public = strings.ToLower(u.Hostname())
	}
	return func(ctx context.Context, host string) (bool, error) {
		if host == public {
			return true, nil
		}
		_, ok, err := sites.ResolveHost(ctx, host)
		return ok, err
	}
}
