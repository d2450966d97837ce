// Package gormstore is the one implementation of tenants.Store, on gorm, for
// SQLite (embedded default) and Postgres (production). Every tenant-data query
// is scoped by tenant_id.
package gormstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.opentelemetry.io/otel/attribute"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	gormtracing "gorm.io/plugin/opentelemetry/tracing"

	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/tenants"
)

// Store implements tenants.Store.
type Store struct {
	db           *gorm.DB
	dialect      string
	queryTimeout time.Duration
	counts       *costCounters // Transactions, Statements
}

var _ tenants.Store = (*Store)(nil)

// Options for Open. Nil means defaults.
type Options struct {
	// SkipMigrate leaves the schema as it is (for `gatehouse migrate` itself).
	SkipMigrate bool
	Logger      *slog.Logger
	// Pool sizes (0: 20 open, as many idle, on Postgres; 8 open on SQLite) and
	// the longest a connection is reused (0: forever), so connections
	// follow a managed database's failover and PgBouncer's rebalancing.
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	// Tracing adds an OpenTelemetry span per query (global tracer
	// provider). Query variables are never recorded: they hold token and
	// code hashes.
	Tracing bool
	// QueryTimeout bounds every statement (default DefaultQueryTimeout;
	// GATEHOUSE_DB_QUERY_TIMEOUT).
	QueryTimeout time.Duration
}

// IsPostgres reports whether dsn names a Postgres database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") || strings.Contains(dsn, "host=")
}

// SQLiteDSN turns a file path into the DSN the embedded store uses: WAL,
// a busy timeout, immediate write transactions (so concurrent writers queue
// instead of failing), foreign keys, and a fixed time layout so that times
// compare chronologically in SQL.
func SQLiteDSN(path string) string {
	if strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return path
	}
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite"
}

// Open connects to dsn (a Postgres URL, or a SQLite path/DSN) and applies
// pending migrations unless opts.SkipMigrate.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	cfg := &gorm.Config{
		Logger:         logger.Default.LogMode(logger.Silent),
		NowFunc:        func() time.Time { return time.Now().UTC() },
		TranslateError: true,
		// A lone write is one statement, atomic and durable by itself: gorm's
		// BEGIN … COMMIT around it cost two round trips more (every write of
		// an authorization-code flow, every last-used touch). Writes that
		// belong together go through InTx; no model has associations or hooks.
		SkipDefaultTransaction: true,
	}
	var (
		db      *gorm.DB
		err     error
		dialect string
	)
	if IsPostgres(dsn) {
		dialect = "postgres"
		db, err = gorm.Open(postgres.Open(dsn), cfg)
	} else {
		dialect = "sqlite"
		db, err = gorm.Open(sqlite.Open(SQLiteDSN(dsn)), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if opts.Tracing {
		if err := db.Use(gormtracing.NewPlugin(gormtracing.WithoutQueryVariables(), gormtracing.WithoutMetrics(),
			gormtracing.WithAttributes(attribute.String("db.system", strings.Replace(dialect, "postgres", "postgresql", 1))))); err != nil {
			return nil, fmt.Errorf("database tracing: %w", err)
		}
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	if err := registerDeadlines(db, opts.QueryTimeout); err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	maxOpen, maxIdle := opts.MaxOpenConns, opts.MaxIdleConns
	if dialect == "postgres" {
		if maxOpen == 0 {
			maxOpen = 20
		}
		if maxIdle == 0 {
			// Every open connection may stay idle: with fewer idle slots
			// than open ones, a burst above the idle count closes each
			// connection it returns and the next request dials a new one —
			// a Postgres backend forked, authenticated and its statement
			// cache emptied (measured: 20 new sessions a second under a
			// refresh load at concurrency 32, docs/PERFORMANCE.md). Idle
			// connections still close after five minutes unused.
			maxIdle = maxOpen
		}
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	} else if maxOpen == 0 {
		maxOpen = 8
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	if maxIdle > 0 {
		sqlDB.SetMaxIdleConns(maxIdle)
	}
	sqlDB.SetConnMaxLifetime(opts.ConnMaxLifetime)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
	}
	s := &Store{db: db, dialect: dialect, queryTimeout: opts.QueryTimeout, counts: &costCounters{}}
	if err := countStatements(db, s.counts); err != nil {
		sqlDB.Close()
		return nil, err
	}
	if !opts.SkipMigrate {
		if _, err := s.Migrate(ctx, "up"); err != nil {
			sqlDB.Close()
			return nil, err
		}
	}
	return s, nil
}

// DB exposes the gorm handle for tests and for LISTEN/NOTIFY wiring.
func (s *Store) DB() *gorm.DB { return s.db }

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Close closes the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// InTx runs fn in a transaction.
func (s *Store) InTx(ctx context.Context, fn func(tenants.Store) error) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		if s.dialect == "sqlite" {
			// Take the write lock before fn reads anything. The driver
			// (glebarez/go-sqlite) drops _txlock=immediate from the DSN when
			// _time_format is also set, so transactions begin DEFERRED; one
			// that reads and then writes while another connection committed
			// in between fails at once with SQLITE_BUSY(_SNAPSHOT) instead of
			// waiting (busy_timeout only covers taking the lock). A write that
			// changes nothing takes it, waiting as busy_timeout allows.
			if err := tx.Exec("DELETE FROM system_values WHERE 0 = 1").Error; err != nil {
				return err
			}
		}
		return fn(&Store{db: tx, dialect: s.dialect, queryTimeout: s.queryTimeout, counts: s.counts})
	})
}

func (s *Store) provider() (*goose.Provider, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	d := goose.DialectSQLite3
	if s.dialect == "postgres" {
		d = goose.DialectPostgres
		// Two replicas starting at once must not both migrate.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(d, sqlDB, migrations.FS(s.dialect), opts...)
}

// Migrate runs "up", "down" (one version) or "status"; it returns a
// human-readable report of what it did.
func (s *Store) Migrate(ctx context.Context, direction string) ([]string, error) {
	p, err := s.provider()
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []string
	switch direction {
	case "up":
		res, err := p.Up(ctx)
		for _, r := range res {
			out = append(out, fmt.Sprintf("applied %s (%s)", r.Source.Path, r.Duration.Round(time.Millisecond)))
		}
		if err != nil {
			return out, fmt.Errorf("migrate up: %w", err)
		}
	case "down":
		r, err := p.Down(ctx)
		if err != nil {
			return out, fmt.Errorf("migrate down: %w", err)
		}
		out = append(out, fmt.Sprintf("rolled back %s", r.Source.Path))
	case "status":
		st, err := p.Status(ctx)
		if err != nil {
			return out, fmt.Errorf("migrate status: %w", err)
		}
		for _, m := range st {
			applied := "pending"
			if m.State == goose.StateApplied {
				applied = "applied " + m.AppliedAt.UTC().Format(time.RFC3339)
			}
			out = append(out, fmt.Sprintf("%05d %s: %s", m.Source.Version, m.Source.Path, applied))
		}
	default:
		return nil, fmt.Errorf("unknown migrate direction %q (want up, down or status)", direction)
	}
	return out, nil
}

// Pending reports whether migrations embedded in this binary are not yet
// applied (GATEHOUSE_MIGRATE=off refuses to start then).
func (s *Store) Pending(ctx context.Context) (bool, error) {
	p, err := s.provider()
	if err != nil {
		return false, fmt.Errorf("migrations: %w", err)
	}
	return p.HasPending(ctx)
}

// RawDB is the database/sql handle (for tests that inspect the schema).
func (s *Store) RawDB() (*sql.DB, error) { return s.db.DB() }

// translate maps driver errors to the tenants sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tenants.ErrUnavailable):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return tenants.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %v", tenants.ErrConflict, err)
	}
	// SQLite reports some constraint failures the translator misses.
	if strings.Contains(err.Error(), "UNIQUE constraint failed") || strings.Contains(err.Error(), "PRIMARY KEY") && strings.Contains(err.Error(), "constraint") {
		return fmt.Errorf("%w: %v", tenants.ErrConflict, err)
	}
	return markUnavailable(err)
}

func (s *Store) with(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// first loads one row or returns tenants.ErrNotFound.
func first[T any](db *gorm.DB, query string, args ...any) (*T, error) {
	var v T
	if err := db.Where(query, args...).Take(&v).Error; err != nil {
		return nil, translate(err)
	}
	return &v, nil
}

// all loads every row matching query (in db's order).
func all[T any](db *gorm.DB, query string, args ...any) ([]T, error) {
	var out []T
	err := db.Where(query, args...).Find(&out).Error
	return out, translate(err)
}

// affected turns "no rows changed" into ErrNotFound.
func affected(res *gorm.DB) error {
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return tenants.ErrNotFound
	}
	return nil
}

// Cursors are opaque: base64 of the last key seen.
func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", fmt.Errorf("%w: malformed cursor", ErrBadCursor)
	}
	return string(b), nil
}

// ErrBadCursor is returned for a cursor this store did not issue.
var ErrBadCursor = tenants.ErrBadCursor

// page runs q ordered by col (ascending, or descending when desc), after the
// cursor, and returns the next cursor when more rows exist.
func page[T any](q *gorm.DB, col string, desc bool, p tenants.Page, key func(*T) string) ([]T, string, error) {
	p = p.Normalize()
	after, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	op, order := ">", col+" ASC"
	if desc {
		op, order = "<", col+" DESC"
	}
	if after != "" {
		q = q.Where(col+" "+op+" ?", after)
	}
	var items []T
	if err := q.Order(order).Limit(p.Limit + 1).Find(&items).Error; err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(items) > p.Limit {
		items = items[:p.Limit]
		next = encodeCursor(key(&items[len(items)-1]))
	}
	return items, next, nil
}
