package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/workers"
)

const tenantUsage = `usage:
  gatehouse tenant create --slug S --upstream URL [--name N] [--json]
                          [--idp dev|github|google|oidc] [--idp-client-id ID] [--idp-issuer URL]
                          [--idp-client-secret-file PATH|-] [--idp-allowed-orgs a,b] [--idp-allowed-domains a,b]
  gatehouse tenant set-idp SLUG --idp TYPE [--idp-client-id ID] [--idp-client-secret-file PATH|-] …
  gatehouse tenant list
  gatehouse tenant get SLUG
  gatehouse tenant delete SLUG
  gatehouse tenant enterprise-idp add|list|delete SLUG …   (docs/ENTERPRISE.md)

IdP client secrets are read from a file or, with "-", from standard input
(never from a flag: flags are visible to every user in the process list).`

// idpFlags are the IdP options shared by `tenant create` and `tenant set-idp`.
type idpFlags struct {
	typ, clientID, issuer, secretFile, orgs, domains *string
}

func addIdPFlags(fs *flag.FlagSet) idpFlags {
	return idpFlags{
		typ:        fs.String("idp", "", "IdP type: dev | github | google | oidc (default dev where allowed)"),
		clientID:   fs.String("idp-client-id", "", "IdP client id"),
		issuer:     fs.String("idp-issuer", "", "OIDC issuer URL"),
		secretFile: fs.String("idp-client-secret-file", "", "file holding the IdP client secret (- reads standard input)"),
		orgs:       fs.String("idp-allowed-orgs", "", "comma-separated GitHub organisations allowed to log in"),
		domains:    fs.String("idp-allowed-domains", "", "comma-separated email domains allowed to log in"),
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// input builds the IdP input, reading the client secret from its file or stdin.
func (f idpFlags) input(stdin io.Reader) (*tenants.IdPInput, error) {
	if *f.typ == "" {
		if *f.clientID != "" || *f.secretFile != "" || *f.issuer != "" {
			return nil, errors.New("--idp is required with the other --idp-* options")
		}
		return nil, nil
	}
	in := &tenants.IdPInput{Type: *f.typ, ClientID: *f.clientID, IssuerURL: *f.issuer,
		AllowedOrgs: splitList(*f.orgs), AllowedDomains: splitList(*f.domains)}
	if *f.secretFile != "" {
		var b []byte
		var err error
		if *f.secretFile == "-" {
			b, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
		} else {
			b, err = os.ReadFile(*f.secretFile)
		}
		if err != nil {
			return nil, fmt.Errorf("--idp-client-secret-file: %w", err)
		}
		in.ClientSecret = strings.TrimRight(string(b), "\r\n")
		if in.ClientSecret == "" {
			return nil, errors.New("--idp-client-secret-file: the secret is empty")
		}
	}
	return in, nil
}

// tenantCmd manages tenants from the command line, through the same domain
// code as the provisioning API. Flags are parsed before anything is opened,
// so --help and usage errors leave no database or key file behind.
func tenantCmd(ctx context.Context, cfg *Config, args []string, stdin io.Reader, out io.Writer) error {
	if len(args) == 0 {
		return usageError(tenantUsage)
	}
	var run func(env *cliEnv) error
	switch args[0] {
	case "create":
		fs := newFlagSet("tenant create", tenantUsage)
		slug := fs.String("slug", "", "tenant slug (required)")
		name := fs.String("name", "", "display name")
		upstream := fs.String("upstream", "", "the tenant's upstream MCP server URL (required)")
		asJSON := fs.Bool("json", false, "print the tenant as JSON (default: a short summary)")
		idpf := addIdPFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usageError(tenantUsage)
		}
		idp, err := idpf.input(stdin)
		if err != nil {
			return err
		}
		run = func(env *cliEnv) error {
			t, err := env.prov.CreateTenant(ctx, tenants.TenantInput{Slug: *slug, Name: *name, UpstreamMCPURL: *upstream, IdP: idp})
			if err != nil {
				return describe(err)
			}
			return env.show(t, *asJSON, "created tenant")
		}
	case "set-idp":
		fs := newFlagSet("tenant set-idp", tenantUsage)
		asJSON := fs.Bool("json", false, "print the tenant as JSON")
		idpf := addIdPFlags(fs)
		if len(args) < 2 || strings.HasPrefix(args[1], "-") {
			if err := fs.Parse(args[1:]); err != nil {
				return err
			}
			return usageError(tenantUsage)
		}
		if err := fs.Parse(args[2:]); err != nil {
			return err
		}
		idp, err := idpf.input(stdin)
		if err != nil {
			return err
		}
		if idp == nil {
			return errors.New("--idp is required")
		}
		run = onTenant(args[1], func(env *cliEnv, t *tenants.Tenant) error {
			if _, err := env.prov.PutIdP(ctx, t, *idp, true); err != nil {
				return describe(err)
			}
			return env.show(t, *asJSON, "set the "+idp.Type+" IdP of tenant")
		})
	case "list":
		if err := newFlagSet("tenant list", tenantUsage).Parse(args[1:]); err != nil {
			return err
		}
		run = func(env *cliEnv) error {
			cursor := ""
			for {
				items, next, err := env.store.ListTenants(ctx, tenants.Page{Limit: 200, Cursor: cursor})
				if err != nil {
					return err
				}
				for i := range items {
					fmt.Fprintf(out, "%-40s %s\n", items[i].Slug, env.view(&items[i]).Resource)
				}
				if next == "" {
					return nil
				}
				cursor = next
			}
		}
	case "get", "delete":
		fs := newFlagSet("tenant "+args[0], tenantUsage)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: gatehouse tenant %s SLUG", args[0])
		}
		slug, op := fs.Arg(0), args[0]
		run = onTenant(slug, func(env *cliEnv, t *tenants.Tenant) error {
			if op == "get" {
				return env.show(t, true, "")
			}
			if err := env.prov.DeleteTenant(ctx, t); err != nil {
				return err
			}
			fmt.Fprintf(out, "deleted tenant %s and everything it held\n", t.Slug)
			return nil
		})
	case "enterprise-idp":
		r, err := enterpriseIdPCmd(ctx, args[1:])
		if err != nil {
			return err
		}
		run = r
	case "-h", "--help", "-help", "help":
		fmt.Fprintln(out, tenantUsage)
		return nil
	default:
		return fmt.Errorf("unknown tenant subcommand %q (create, set-idp, list, get, delete, enterprise-idp)", args[0])
	}

	env, err := openCLIEnv(ctx, cfg, out)
	if err != nil {
		return err
	}
	defer env.Close()
	return run(env)
}

// cliEnv is what the one-shot commands (tenant, admin) run against: the
// services come from the one composition root (internal/wiring.Build) with
// the deployment's options, as serve's do, without listeners or workers.
type cliEnv struct {
	store interface {
		tenants.Store
		Close() error
	}
	deps  *httpx.Deps
	prov  *tenants.Provisioner
	sites *httpx.Sites
	out   io.Writer
	close []func()
}

func (e *cliEnv) Close() {
	for _, f := range e.close {
		f()
	}
	e.store.Close()
}

func openCLIEnv(ctx context.Context, cfg *Config, out io.Writer) (*cliEnv, error) {
	keyBytes, err := cfg.secretKeys()
	if err != nil {
		return nil, err
	}
	sealer, err := tenants.NewSealer(keyBytes)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	e := &cliEnv{store: store, out: out, sites: httpx.NewSites(store, cfg.PublicURL, cfg.TenantDomain)}
	logger := newLogger(cfg, os.Stderr)
	e.deps = &httpx.Deps{Store: store, Sealer: sealer, Auditor: &tenants.SyncAuditor{Store: store}, Sites: e.sites, Logger: logger,
		AllowDevIdP: cfg.devIdP(), AllowPrivateFetch: cfg.AllowPrivateFetch, PublicURL: cfg.PublicURL, TenantDomain: cfg.TenantDomain}
	// With a shared Redis, changes made here reach every running replica at
	// once (cache invalidation, revocations), as they do from the API.
	if cfg.RedisURL != "" {
		target, err := parseRedisURL(cfg.RedisURL)
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("GATEHOUSE_REDIS_URL: %w", err)
		}
		rdb := target.client()
		e.close = append(e.close, func() { rdb.Close() })
		e.deps.Bus = workers.NewRedisBus(rdb, workers.BusChannelPrefix(cfg.redisKeyPrefix(), target.db()), logger)
	}
	wiring.Build(e.deps, &wiring.Options{Accounts: cfg.accountsPolicy(logFormat(cfg) == "text")})
	e.prov = e.deps.Provisioner
	return e, nil
}

// onTenant runs f on the tenant slug names, once the environment is open.
func onTenant(slug string, f func(env *cliEnv, t *tenants.Tenant) error) func(*cliEnv) error {
	return func(env *cliEnv) error {
		t, err := env.get(slug)
		if err != nil {
			return err
		}
		return f(env, t)
	}
}

func (e *cliEnv) get(slug string) (*tenants.Tenant, error) {
	t, err := e.store.GetTenantBySlug(context.Background(), slug)
	if errors.Is(err, tenants.ErrNotFound) {
		return nil, fmt.Errorf("no tenant %q", slug)
	}
	return t, err
}

func (e *cliEnv) view(t *tenants.Tenant) tenants.TenantView {
	var host *tenants.Site
	if hs, ok := e.sites.Host(t); ok {
		host = &hs
	}
	return tenants.ViewOf(t, e.sites.Path(t), host)
}

// show prints the tenant as JSON, or as a few lines a person reads.
func (e *cliEnv) show(t *tenants.Tenant, asJSON bool, what string) error {
	v := e.view(t)
	if asJSON {
		enc := json.NewEncoder(e.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprintf(e.out, "%s %s\n  connector URL: %s\n  issuer:        %s\n", what, t.Slug, v.Resource, v.Issuer)
	if v.HostMode != nil {
		fmt.Fprintf(e.out, "  host mode:     %s\n", v.HostMode.Resource)
	}
	return nil
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
