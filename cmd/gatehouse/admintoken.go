package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gatehouse/gatehouse/tenants"
)

const adminTokenUsage = `usage: gatehouse admin-token rotate [--out FILE]

Replaces the generated admin token (the one printed on first start when
GATEHOUSE_ADMIN_TOKEN is unset). The new token is printed only to a terminal;
without one, --out FILE writes it to a new file readable only by you.
Running serve replicas read the token hash at start: restart them
(kubectl rollout restart deployment/gatehouse-serve, docker compose restart)
for the old token to stop working.`

const adminTokenKey = "admin_token_sha256"

// newAdminToken is the one place an admin token is minted.
func newAdminToken() string { return tenants.AdminTokenPrefix + tenants.RandomToken() }

func adminTokenCmd(ctx context.Context, cfg *Config, args []string, stdout io.Writer, terminal bool) error {
	fs := newFlagSet("admin-token", adminTokenUsage)
	out := fs.String("out", "", "write the new token to this file (created 0600; must not exist)")
	if err := parseVerb(fs, args, "rotate", adminTokenUsage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(adminTokenUsage)
	}
	if cfg.AdminToken != "" {
		return errors.New("GATEHOUSE_ADMIN_TOKEN is set, so it is the admin token: change that variable (or its Secret) instead")
	}
	if *out == "" && !terminal {
		return errors.New("standard output is not a terminal, and the admin token is only ever printed to one: run this in a terminal, or pass --out FILE")
	}
	token := newAdminToken()
	// Create the file before the store changes, so a failure leaves the old
	// token working.
	var f *os.File
	if *out != "" {
		var err error
		if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		defer f.Close()
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		if f != nil {
			os.Remove(*out)
		}
		return err
	}
	defer store.Close()
	if err := store.PutSystemValue(ctx, adminTokenKey, tenants.HashSecret(token)); err != nil {
		if f != nil {
			os.Remove(*out)
		}
		return err
	}
	(&tenants.SyncAuditor{Store: store}).Record(tenants.WithRequestInfo(ctx, tenants.RequestInfo{Actor: "cli"}),
		tenants.AuditEvent{Action: "admin.token.rotated", Outcome: tenants.OutcomeSuccess})
	if f != nil {
		if _, err := fmt.Fprintln(f, token); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new admin token written to %s; restart serve replicas to retire the old one\n", *out)
		return nil
	}
	fmt.Fprintf(stdout, "\n  New Gatehouse admin token (shown once; only its hash is stored):\n\n    %s\n\n  Restart serve replicas to retire the old one.\n\n", token)
	return nil
}
