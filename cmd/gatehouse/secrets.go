package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/reseal"
)

const secretsUsage = `usage: gatehouse secrets reseal [--dry-run] [--json]

Re-seals every secret at rest (IdP client secrets, tenant secrets, signing
keys, users' upstream tokens, flows in progress) sealed under a key other than the
first of GATEHOUSE_SECRET_KEY. Rotation: set GATEHOUSE_SECRET_KEY=NEW,OLD,
restart, let the workers re-seal (or run this), check that --dry-run reports
0 old values, wait a day, then remove OLD. Exits 1 if some value cannot be
opened with any configured key.`

// sealKeyIDKey records the sealing key the last complete re-seal ran
// under; workers re-seal when the first key differs.
const sealKeyIDKey = "sealing_key_id"

func secretsCmd(ctx context.Context, cfg *Config, args []string, out io.Writer) error {
	fs := newFlagSet("secrets", secretsUsage)
	dry := fs.Bool("dry-run", false, "count values sealed under old keys, change nothing")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseVerb(fs, args, "reseal", secretsUsage); err != nil {
		return err
	}
	keyBytes, err := cfg.secretKeys()
	if err != nil {
		return err
	}
	sealer, err := tenants.NewSealer(keyBytes)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	reps, err := resealAll(ctx, store, sealer, *dry)
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(reps)
	} else {
		for _, r := range reps {
			fmt.Fprintf(out, "%-22s %6d checked  %6d old  %6d re-sealed  %d unopenable\n", r.Kind, r.Checked, r.Old, r.Resealed, r.Failed)
		}
	}
	return err
}

// resealAll re-seals and, after a complete non-dry run, records the key.
func resealAll(ctx context.Context, store *gormstore.Store, sealer *tenants.Sealer, dry bool) ([]reseal.Report, error) {
	reps, err := reseal.Run(ctx, store.DB(), sealer, dry)
	if err == nil && !dry {
		err = store.PutSystemValue(ctx, sealKeyIDKey, sealer.CurrentKeyID())
	}
	return reps, err
}

// resealOnKeyChange runs in processes that run workers: when the first
// GATEHOUSE_SECRET_KEY differs from the one the last re-seal ran under,
// re-seal everything in the background (idempotent across replicas).
func (p *platform) resealOnKeyChange(ctx context.Context) {
	last, err := p.store.GetSystemValue(ctx, sealKeyIDKey)
	if err != nil && !errors.Is(err, tenants.ErrNotFound) {
		p.logger.Warn("secrets: cannot read the last re-seal key", "err", err)
		return
	}
	if last == p.sealer.CurrentKeyID() {
		return
	}
	go func() {
		reps, err := resealAll(ctx, p.store, p.sealer, false)
		total := 0
		for _, r := range reps {
			total += r.Resealed
		}
		if err != nil {
			p.logger.Error("secrets: re-seal after a key change incomplete; run `gatehouse secrets reseal`", "err", err, "resealed", total)
			return
		}
		p.logger.Info("secrets: re-sealed values under the current key", "resealed", total, "key_id", p.sealer.CurrentKeyID())
	}()
}
