package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/workers"
)

// tenantCmd manages tenants from the command line, through the same domain
// code as the provisioning API.
func tenantCmd(ctx context.Context, cfg *Config, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: gatehouse tenant create|list|get|delete")
	}
	keyBytes, err := cfg.secretKeys()
	if err != nil {
		return err
	}
	sealer, err := tenants.NewSealer(keyBytes)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer store.Close()
	prov := &tenants.Provisioner{Store: store, Sealer: sealer, Auditor: &tenants.SyncAuditor{Store: store}, AllowDevIdP: cfg.devIdP(),
		AllowPrivateFetch: cfg.AllowPrivateFetch}
	// With a shared Redis, changes made here reach every running replica at
	// once (cache invalidation, revocations), as they do from the API.
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("GATEHOUSE_REDIS_URL: %w", err)
		}
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		prov.Bus = workers.NewRedisBus(rdb, workers.BusPrefix, slog.Default())
	}
	ctx = tenants.WithRequestInfo(ctx, tenants.RequestInfo{Actor: "cli"})
	sites := httpx.NewSites(store, cfg.PublicURL, cfg.TenantDomain)
	view := func(t *tenants.Tenant) tenants.TenantView {
		var host *tenants.Site
		if hs, ok := sites.Host(t); ok {
			host = &hs
		}
		return tenants.ViewOf(t, sites.Path(t), host)
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")

	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("tenant create", flag.ContinueOnError)
		slug := fs.String("slug", "", "tenant slug (required)")
		name := fs.String("name", "", "display name")
		upstream := fs.String("upstream", "", "the tenant's upstream MCP server URL (required)")
		idp := fs.String("idp", "", "IdP type: dev | github | google | oidc (default dev where allowed)")
		clientID := fs.String("idp-client-id", "", "IdP client id")
		issuer := fs.String("idp-issuer", "", "OIDC issuer URL")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		in := tenants.TenantInput{Slug: *slug, Name: *name, UpstreamMCPURL: *upstream}
		if *idp != "" {
			in.IdP = &tenants.IdPInput{Type: *idp, ClientID: *clientID, IssuerURL: *issuer}
		}
		t, err := prov.CreateTenant(ctx, in)
		if err != nil {
			return describe(err)
		}
		return enc.Encode(view(t))
	case "list":
		cursor := ""
		for {
			items, next, err := store.ListTenants(ctx, tenants.Page{Limit: 200, Cursor: cursor})
			if err != nil {
				return err
			}
			for i := range items {
				v := view(&items[i])
				fmt.Fprintf(out, "%-40s %s\n", items[i].Slug, v.Resource)
			}
			if next == "" {
				return nil
			}
			cursor = next
		}
	case "get", "delete":
		if len(args) != 2 {
			return fmt.Errorf("usage: gatehouse tenant %s SLUG", args[0])
		}
		t, err := store.GetTenantBySlug(ctx, args[1])
		if errors.Is(err, tenants.ErrNotFound) {
			return fmt.Errorf("no tenant %q", args[1])
		}
		if err != nil {
			return err
		}
		if args[0] == "get" {
			return enc.Encode(view(t))
		}
		if err := prov.DeleteTenant(ctx, t); err != nil {
			return err
		}
		fmt.Fprintf(out, "deleted tenant %s and everything it held\n", t.Slug)
		return nil
	default:
		return fmt.Errorf("unknown tenant subcommand %q (create, list, get, delete)", args[0])
	}
}

// describe renders validation errors one field per line.
func describe(err error) error {
	var v *tenants.ValidationError
	if errors.As(err, &v) {
		msg := "invalid input:"
		for _, e := range v.Errors {
			msg += "\n  " + e.Field + ": " + e.Detail
		}
		return errors.New(msg)
	}
	if errors.Is(err, tenants.ErrConflict) {
		return errors.New("that slug or custom domain is already taken")
	}
	return err
}
