// Package reseal re-seals every value at rest that was sealed under an older
// GATEHOUSE_SECRET_KEY with the current first key, so the old key can be
// removed from the list (docs/OPERATIONS.md, key rotation). It is run by
// `gatehouse secrets reseal` and by workers after a key change. Updates are
// conditional on the old value, so concurrent runs (several worker
// replicas) and concurrent writes are safe; a value nobody can open is
// counted and left alone.
package reseal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/keys"
)

// Report counts one kind of sealed value.
type Report struct {
	Kind     string `json:"kind"`
	Checked  int    `json:"checked"`  // values present
	Old      int    `json:"old"`      // sealed under a key other than the first
	Resealed int    `json:"resealed"` // re-sealed now (0 in a dry run)
	Failed   int    `json:"failed"`   // could not be opened with any configured key
}

// ErrUnopenable is returned (with the reports) when some value could not
// be opened with any configured key.
var ErrUnopenable = errors.New("some sealed values cannot be opened with the configured keys")

const batch = 200

// Run walks every sealed column, pending authorizations included (a flow in
// flight keeps working after the old key goes). Console session cookies
// (hours) are not stored and not re-sealed: they expire.
func Run(ctx context.Context, db *gorm.DB, s *tenants.Sealer, dryRun bool) ([]Report, error) {
	r := &runner{db: db.WithContext(ctx), s: s, dry: dryRun}
	steps := []func() (Report, error){r.tenantSecrets, r.idpSecrets, r.signingKeys, r.grantTokens, r.pendingSecrets}
	var out []Report
	failed := false
	for _, step := range steps {
		rep, err := step()
		out = append(out, rep)
		if err != nil {
			return out, err
		}
		failed = failed || rep.Failed > 0
	}
	if failed {
		return out, ErrUnopenable
	}
	return out, nil
}

type runner struct {
	db  *gorm.DB
	s   *tenants.Sealer
	dry bool
}

// one re-seals a single value: the new sealed form, or "" when it is
// current, or an error when it cannot be opened.
func (r *runner) one(rep *Report, sealed, context string) (string, bool) {
	if sealed == "" {
		return "", false
	}
	rep.Checked++
	if !r.s.NeedsReseal(sealed) {
		return "", false
	}
	rep.Old++
	plain, err := r.s.Open(sealed, context)
	if err != nil {
		rep.Failed++
		return "", false
	}
	if r.dry {
		return "", false
	}
	fresh, err := r.s.Seal(plain, context)
	if err != nil {
		rep.Failed++
		return "", false
	}
	return fresh, true
}

// pages calls fn with each page of rows of model (ordered by order, only
// rows matching where), until fn has seen them all.
func pages[T any](db *gorm.DB, order, where string, fn func([]T) error) error {
	for offset := 0; ; offset += batch {
		var rows []T
		if err := db.Where(where).Order(order).Limit(batch).Offset(offset).Find(&rows).Error; err != nil {
			return err
		}
		if err := fn(rows); err != nil {
			return err
		}
		if len(rows) < batch {
			return nil
		}
	}
}

func (r *runner) update(model any, where string, args []any, column, value string, rep *Report) error {
	res := r.db.Model(model).Where(where, args...).UpdateColumn(column, value)
	if res.Error != nil {
		return fmt.Errorf("reseal %s: %w", rep.Kind, res.Error)
	}
	// 0 rows: changed meanwhile, and new writes use the first key anyway.
	rep.Resealed += int(res.RowsAffected)
	return nil
}

func (r *runner) tenantSecrets() (Report, error) {
	rep := Report{Kind: "tenant secrets"}
	err := pages(r.db, "id", "sealed_secrets IS NOT NULL AND sealed_secrets <> '' AND sealed_secrets <> '{}' AND sealed_secrets <> 'null'",
		func(rows []tenants.Tenant) error {
			for _, t := range rows {
				fresh := tenants.Sealed{}
				changed := false
				for name, v := range t.SealedSecrets {
					fresh[name] = v
					if nv, ok := r.one(&rep, v, "tenant:"+t.ID+":"+name); ok {
						fresh[name], changed = nv, true
					}
				}
				if !changed {
					continue
				}
				res := r.db.Model(&tenants.Tenant{}).Where("id = ? AND sealed_secrets = ?", t.ID, t.SealedSecrets).UpdateColumn("sealed_secrets", fresh)
				if res.Error != nil {
					return fmt.Errorf("reseal tenant secrets: %w", res.Error)
				}
				if res.RowsAffected > 0 {
					rep.Resealed += countChanged(t.SealedSecrets, fresh)
				}
			}
			return nil
		})
	return rep, err
}

func countChanged(a, b tenants.Sealed) int {
	n := 0
	for k, v := range a {
		if b[k] != v {
			n++
		}
	}
	return n
}

// sealedValue is one sealed column of a row: the column, its value and the
// context the value is sealed under.
type sealedValue struct{ column, sealed, context string }

// resealRows re-seals the sealed columns of every row of T matching where.
// key names the row's key columns (also the paging order); values gives a
// row's key values and its sealed values. Each update is conditional on
// the row's key and the old sealed value.
func resealRows[T any](r *runner, kind, key, where string, values func(row *T) (key []any, sealed []sealedValue)) (Report, error) {
	rep := Report{Kind: kind}
	keyWhere := strings.ReplaceAll(key, ", ", " = ? AND ") + " = ?"
	err := pages(r.db, key, where, func(rows []T) error {
		for i := range rows {
			args, vals := values(&rows[i])
			for _, v := range vals {
				if nv, ok := r.one(&rep, v.sealed, v.context); ok {
					if err := r.update(new(T), keyWhere+" AND "+v.column+" = ?", append(slices.Clip(args), v.sealed), v.column, nv, &rep); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	return rep, err
}

func (r *runner) idpSecrets() (Report, error) {
	return resealRows(r, "idp client secrets", "tenant_id, type", "client_secret_sealed <> ''", func(c *tenants.IdPConfig) ([]any, []sealedValue) {
		return []any{c.TenantID, c.Type}, []sealedValue{{"client_secret_sealed", c.ClientSecretSealed, tenants.IdPSecretContext(c.TenantID, c.Type)}}
	})
}

func (r *runner) signingKeys() (Report, error) {
	return resealRows(r, "signing keys", "tenant_id, kid", "private_sealed <> ''", func(k *tenants.SigningKey) ([]any, []sealedValue) {
		return []any{k.TenantID, k.KID}, []sealedValue{{"private_sealed", k.PrivateSealed, keys.SealContext(k.TenantID, k.KID)}}
	})
}

func (r *runner) grantTokens() (Report, error) {
	return resealRows(r, "grant upstream tokens", "tenant_id, id", "upstream_token_sealed <> ''", func(g *tenants.Grant) ([]any, []sealedValue) {
		return []any{g.TenantID, g.ID}, []sealedValue{{"upstream_token_sealed", g.UpstreamTokenSealed, tenants.UpstreamTokenContext(g.TenantID, g.ID)}}
	})
}

func (r *runner) pendingSecrets() (Report, error) {
	return resealRows(r, "pending authorizations", "tenant_id, id", "upstream_verifier_sealed <> '' OR upstream_token_sealed <> ''",
		func(p *tenants.PendingAuthorization) ([]any, []sealedValue) {
			return []any{p.TenantID, p.ID}, []sealedValue{
				{"upstream_verifier_sealed", p.UpstreamVerifierSealed, tenants.PendingVerifierContext(p.TenantID, p.ID)},
				{"upstream_token_sealed", p.UpstreamTokenSealed, tenants.PendingUpstreamTokenContext(p.TenantID, p.ID)},
			}
		})
}
