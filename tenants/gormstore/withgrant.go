package gormstore

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/gatehouse/gatehouse/tenants"
)

// The token endpoint's statements (docs/PERFORMANCE.md "What each number
// costs"): a code exchange and a refresh are the authorization server's
// hottest writes, and each round trip inside their transaction is a share of
// the database's CPU. Each reads its code or token together with the grant
// and the grant's user's email in one statement.

// withGrantRow is one row of a join of a code or token (T) with its grant
// and user: each model's columns under its own prefix, so same-named columns
// cannot collide. A LEFT JOIN: a row whose grant is gone has an empty Grant.
type withGrantRow[T any] struct {
	Row       T             `gorm:"embedded;embeddedPrefix:x_"`
	Grant     tenants.Grant `gorm:"embedded;embeddedPrefix:g_"`
	UserEmail string
}

// grant is the row's grant, nil when it is gone.
func (r *withGrantRow[T]) grant() *tenants.Grant {
	if r.Grant.ID == "" {
		return nil
	}
	return &r.Grant
}

var (
	schemas    sync.Map // schema.Parse's cache for the models below
	statements sync.Map // SQL text by name, built once
)

// statement is the SQL text named key, built once: it depends on the
// models only, so the token endpoint's hot path does not rebuild it.
func statement(key string, build func() (string, error)) (string, error) {
	if q, ok := statements.Load(key); ok {
		return q.(string), nil
	}
	q, err := build()
	if err != nil {
		return "", err
	}
	statements.Store(key, q)
	return q, nil
}

// selectWithGrant is "SELECT <model's columns AS x_…>, <grant's AS g_…>,
// <user's email> FROM <from> x LEFT JOIN grants … LEFT JOIN users …", from
// the models' own column lists (callers keep it as a statement), so a
// column added to either model is read without touching this file. from is
// model's table (""), or a CTE whose rows have its columns.
func selectWithGrant(db *gorm.DB, model any, from string) (string, error) {
	var cols []string
	tables := map[string]string{}
	for _, m := range []struct {
		model any
		alias string
	}{{model, "x"}, {&tenants.Grant{}, "g"}, {&tenants.User{}, "u"}} {
		sch, err := schema.Parse(m.model, &schemas, db.NamingStrategy)
		if err != nil {
			return "", fmt.Errorf("joining %T with its grant: %w", model, err)
		}
		tables[m.alias] = sch.Table
		if m.alias == "u" {
			continue
		}
		for _, c := range sch.DBNames {
			cols = append(cols, m.alias+"."+c+" AS "+m.alias+"_"+c)
		}
	}
	if from == "" {
		from = tables["x"]
	}
	// Tenant-scoped on every side: a grant or user id of another tenant
	// never joins.
	q := "SELECT " + strings.Join(cols, ", ") + ", COALESCE(u.email, '') AS user_email" +
		" FROM " + from + " x" +
		" LEFT JOIN " + tables["g"] + " g ON g.tenant_id = x.tenant_id AND g.id = x.grant_id" +
		" LEFT JOIN " + tables["u"] + " u ON u.tenant_id = g.tenant_id AND u.id = g.user_id AND g.user_id <> ''"
	return q, nil
}

// GetRefreshTokenWithGrant reads a refresh token, its grant and the grant's
// user's email in one query. A token whose grant is gone comes back with a
// nil Grant; an unknown token is ErrNotFound.
func (s *Store) GetRefreshTokenWithGrant(ctx context.Context, tenantID, hash string) (*tenants.RefreshTokenWithGrant, error) {
	q, err := statement("refresh-token-with-grant", func() (string, error) {
		q, err := selectWithGrant(s.db, &tenants.RefreshToken{}, "")
		return q + " WHERE x.tenant_id = ? AND x.hash = ?", err
	})
	if err != nil {
		return nil, err
	}
	var rows []withGrantRow[tenants.RefreshToken]
	if err := s.with(ctx).Raw(q, tenantID, hash).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, tenants.ErrNotFound
	}
	return &tenants.RefreshTokenWithGrant{Token: rows[0].Row, Grant: rows[0].grant(), UserEmail: rows[0].UserEmail}, nil
}

// ConsumeAuthCode marks an unused code used and reads it with its grant and
// the grant's user's email. The conditional update is the race arbiter: of
// two concurrent redemptions one marks the code, the other gets the code
// with ErrConflict. On Postgres the update and the read are one statement.
func (s *Store) ConsumeAuthCode(ctx context.Context, tenantID, hash string, at time.Time) (*tenants.AuthCodeWithGrant, error) {
	var rows []withGrantRow[tenants.AuthCode]
	if s.dialect == "postgres" {
		q, err := statement("consume-auth-code", func() (string, error) {
			sch, err := schema.Parse(&tenants.AuthCode{}, &schemas, s.db.NamingStrategy)
			if err != nil {
				return "", err
			}
			q, err := selectWithGrant(s.db, &tenants.AuthCode{}, "consumed")
			return "WITH consumed AS (UPDATE " + sch.Table + " SET used_at = ? WHERE tenant_id = ? AND hash = ? AND used_at IS NULL RETURNING *) " + q, err
		})
		if err != nil {
			return nil, err
		}
		if err := s.with(ctx).Raw(q, at.UTC(), tenantID, hash).Scan(&rows).Error; err != nil {
			return nil, translate(err)
		}
	} else {
		res := s.with(ctx).Model(&tenants.AuthCode{}).Where("tenant_id = ? AND hash = ? AND used_at IS NULL", tenantID, hash).Update("used_at", at.UTC())
		if res.Error != nil {
			return nil, translate(res.Error)
		}
		if res.RowsAffected > 0 {
			q, err := statement("auth-code-with-grant", func() (string, error) {
				q, err := selectWithGrant(s.db, &tenants.AuthCode{}, "")
				return q + " WHERE x.tenant_id = ? AND x.hash = ?", err
			})
			if err != nil {
				return nil, err
			}
			if err := s.with(ctx).Raw(q, tenantID, hash).Scan(&rows).Error; err != nil {
				return nil, translate(err)
			}
		}
	}
	if len(rows) == 0 {
		// Unknown, or used before: a second redemption (rare).
		c, err := first[tenants.AuthCode](s.with(ctx), "tenant_id = ? AND hash = ?", tenantID, hash)
		if err != nil {
			return nil, err
		}
		return &tenants.AuthCodeWithGrant{Code: *c}, tenants.ErrConflict
	}
	return &tenants.AuthCodeWithGrant{Code: rows[0].Row, Grant: rows[0].grant(), UserEmail: rows[0].UserEmail}, nil
}

// RotateRefreshToken marks old rotated and inserts next atomically. The
// conditional update is the race arbiter: of two concurrent rotations, one
// updates a row and the other gets ErrConflict.
func (s *Store) RotateRefreshToken(ctx context.Context, tenantID, oldHash string, next *tenants.RefreshToken, at time.Time) error {
	if s.dialect == "postgres" {
		return s.rotateInOneStatement(ctx, tenantID, oldHash, next, at)
	}
	rotate := func(tx *gorm.DB) error {
		res := tx.Model(&tenants.RefreshToken{}).Where("tenant_id = ? AND hash = ? AND rotated_at IS NULL", tenantID, oldHash).
			Updates(map[string]any{"rotated_at": at.UTC(), "successor_hash": next.Hash})
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected == 0 {
			return tenants.ErrConflict // no statement failed: the transaction goes on
		}
		if err := tx.Create(next).Error; err != nil {
			// Not ErrConflict even for a duplicate: the caller goes on reading
			// after ErrConflict, and on Postgres a failed statement aborts the
			// transaction. (A successor is derived from the token it
			// replaces, and that one was not rotated yet: no row can exist.)
			return fmt.Errorf("inserting the successor refresh token: %w", err)
		}
		return nil
	}
	if inTx(s.db) {
		// Inside the caller's transaction (the refresh's one): no savepoint
		// needed, none of its two round trips.
		return rotate(s.with(ctx))
	}
	return s.transaction(ctx, rotate)
}

// rotateInOneStatement is RotateRefreshToken on Postgres: the conditional
// update and the insert in one statement (a data-modifying CTE), atomic by
// itself, one round trip instead of two. The insert's columns and values
// come from the model's fields (RefreshToken has no hooks, defaults or
// field permissions that gorm's Create would apply).
func (s *Store) rotateInOneStatement(ctx context.Context, tenantID, oldHash string, next *tenants.RefreshToken, at time.Time) error {
	sch, err := schema.Parse(next, &schemas, s.db.NamingStrategy)
	if err != nil {
		return err
	}
	// Columns and values in the same order: the model's fields.
	var fields []*schema.Field
	for _, f := range sch.Fields {
		if f.DBName != "" {
			fields = append(fields, f)
		}
	}
	q, _ := statement("rotate-refresh-token", func() (string, error) {
		cols := make([]string, len(fields))
		for i, f := range fields {
			cols[i] = f.DBName
		}
		return "WITH rotated AS (UPDATE " + sch.Table + " SET rotated_at = ?, successor_hash = ?" +
			" WHERE tenant_id = ? AND hash = ? AND rotated_at IS NULL RETURNING 1)" +
			" INSERT INTO " + sch.Table + " (" + strings.Join(cols, ", ") + ")" +
			" SELECT " + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + " FROM rotated", nil
	})
	args := []any{at.UTC(), next.Hash, tenantID, oldHash}
	row := reflect.ValueOf(next).Elem()
	for _, f := range fields {
		v, _ := f.ValueOf(ctx, row)
		args = append(args, v)
	}
	res := s.with(ctx).Exec(q, args...)
	if res.Error != nil {
		// Never ErrConflict (as on SQLite): the caller reads on after
		// ErrConflict, and this statement's failure aborted the transaction.
		return fmt.Errorf("rotating the refresh token: %w", markUnavailable(res.Error))
	}
	if res.RowsAffected == 0 {
		return tenants.ErrConflict
	}
	return nil
}
