package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
)

const enterpriseUsage = `usage:
  gatehouse tenant enterprise-idp add SLUG --issuer URL --allowed-client ID [--allowed-client ID …] [--jwks-uri URL] [--scope S …]
  gatehouse tenant enterprise-idp list SLUG
  gatehouse tenant enterprise-idp delete SLUG ID

The enterprise IdPs (Okta, Entra, …) whose ID-JAGs the tenant redeems
(docs/ENTERPRISE.md); the same domain code as /api/v1/tenants/{slug}/enterprise-idps.`

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// enterpriseIdPCmd parses `tenant enterprise-idp …` and returns what to run
// once the tenant environment is open.
func enterpriseIdPCmd(ctx context.Context, args []string) (func(env *cliEnv) error, error) {
	if len(args) < 2 {
		return nil, usageError(enterpriseUsage)
	}
	op, slug := args[0], args[1]
	switch op {
	case "add":
		fs := newFlagSet("tenant enterprise-idp add", enterpriseUsage)
		issuer := fs.String("issuer", "", "the IdP's issuer, as its ID-JAGs carry it (https, required)")
		jwksURI := fs.String("jwks-uri", "", "the IdP's JWK set URL (default: from the issuer's metadata)")
		var clients, scopes listFlag
		fs.Var(&clients, "allowed-client", "a client id that may redeem this IdP's ID-JAGs (repeat; at least one)")
		fs.Var(&scopes, "scope", "a scope this IdP may grant (repeat; default: the tenant's offered scopes)")
		if err := fs.Parse(args[2:]); err != nil {
			return nil, err
		}
		if fs.NArg() > 0 {
			return nil, usageError(enterpriseUsage)
		}
		return onTenant(slug, func(env *cliEnv, t *tenants.Tenant) error {
			e, err := env.prov.CreateEnterpriseIdP(ctx, t, tenants.EnterpriseIdPInput{Issuer: *issuer, JWKSURI: *jwksURI, AllowedClients: clients, Scopes: scopes})
			if errors.Is(err, tenants.ErrConflict) {
				return fmt.Errorf("tenant %s already trusts %s", t.Slug, *issuer)
			}
			if err != nil {
				return describe(err)
			}
			enc := json.NewEncoder(env.out)
			enc.SetIndent("", "  ")
			return enc.Encode(e)
		}), nil
	case "list":
		if len(args) != 2 {
			return nil, usageError(enterpriseUsage)
		}
		return onTenant(slug, func(env *cliEnv, t *tenants.Tenant) error {
			items, err := env.store.ListEnterpriseIdPs(ctx, t.ID)
			if err != nil {
				return err
			}
			for _, e := range items {
				fmt.Fprintf(env.out, "%s  %s  clients=%s\n", e.ID, e.Issuer, strings.Join(e.AllowedClients, ","))
			}
			return nil
		}), nil
	case "delete":
		if len(args) != 3 {
			return nil, usageError(enterpriseUsage)
		}
		return onTenant(slug, func(env *cliEnv, t *tenants.Tenant) error {
			n, err := env.prov.DeleteEnterpriseIdP(ctx, t, args[2])
			if errors.Is(err, tenants.ErrNotFound) {
				return fmt.Errorf("tenant %s has no enterprise IdP %q", t.Slug, args[2])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(env.out, "tenant %s no longer trusts enterprise IdP %s; %d grants revoked\n", t.Slug, args[2], n)
			return nil
		}), nil
	}
	return nil, usageError(enterpriseUsage)
}
