package gormstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/tenants"
)

// DefaultQueryTimeout bounds every statement that does not carry an earlier
// deadline: a hung (not stopped) database must not hold a request, and with
// it a pooled connection, for longer than this (issue 13, finding 3).
const DefaultQueryTimeout = 5 * time.Second

const cancelKey = "gatehouse:query_cancel"

// registerDeadlines gives every statement a deadline and marks dependency
// failures as tenants.ErrUnavailable. Callbacks run for every gorm
// operation, including those inside transactions, so no query path can
// forget it.
func registerDeadlines(db *gorm.DB, timeout time.Duration) error {
	// withDeadline gives the statement its deadline, its cancel kept
	// under key.
	withDeadline := func(key string) func(*gorm.DB) {
		return func(db *gorm.DB) {
			ctx := db.Statement.Context
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			db.Statement.Context = ctx
			db.InstanceSet(key, cancel)
		}
	}
	before := withDeadline(cancelKey)
	after := func(db *gorm.DB) {
		if v, ok := db.InstanceGet(cancelKey); ok {
			v.(context.CancelFunc)()
		}
		if db.Error != nil {
			db.Error = markUnavailable(db.Error)
		}
	}
	// Row (db.Row/Rows) hands open rows to the caller, so its context must
	// outlive the callback: it gets the deadline without the early cancel
	// (the timer frees itself at the deadline).
	rowBefore := withDeadline(cancelKey + "_row") // released at its deadline
	rowAfter := func(db *gorm.DB) {
		if db.Error != nil {
			db.Error = markUnavailable(db.Error)
		}
	}
	cb := db.Callback()
	for _, r := range []struct {
		name          string
		before, after func(string, func(*gorm.DB)) error
	}{
		{"create", cb.Create().Before("*").Register, cb.Create().After("*").Register},
		{"query", cb.Query().Before("*").Register, cb.Query().After("*").Register},
		{"update", cb.Update().Before("*").Register, cb.Update().After("*").Register},
		{"delete", cb.Delete().Before("*").Register, cb.Delete().After("*").Register},
		{"raw", cb.Raw().Before("*").Register, cb.Raw().After("*").Register},
	} {
		if err := r.before("gatehouse:deadline_"+r.name, before); err != nil {
			return err
		}
		if err := r.after("gatehouse:unavailable_"+r.name, after); err != nil {
			return err
		}
	}
	if err := cb.Row().Before("*").Register("gatehouse:deadline_row", rowBefore); err != nil {
		return err
	}
	return cb.Row().After("*").Register("gatehouse:unavailable_row", rowAfter)
}

// costCounters count what this store (and the transactions begun from it)
// ran; tests assert per-request costs with them (docs/PERFORMANCE.md).
type costCounters struct {
	txs   atomic.Uint64 // each InTx, and each statement outside one (autocommit)
	stmts atomic.Uint64 // every statement, in a transaction or not (BEGIN and COMMIT aside)
}

// Transactions counts the database transactions this store ran: each InTx
// and each statement outside one (autocommit).
func (s *Store) Transactions() uint64 { return s.counts.txs.Load() }

// Statements counts the statements this store ran, inside transactions or
// not: each is a round trip to the database (BEGIN and COMMIT not counted).
func (s *Store) Statements() uint64 { return s.counts.stmts.Load() }

func inTx(db *gorm.DB) bool {
	_, ok := db.Statement.ConnPool.(gorm.TxCommitter)
	return ok
}

// countStatements counts every statement, and every statement that runs
// outside a transaction as a transaction of its own.
func countStatements(db *gorm.DB, n *costCounters) error {
	count := func(db *gorm.DB) {
		n.stmts.Add(1)
		if !inTx(db) {
			n.txs.Add(1)
		}
	}
	cb := db.Callback()
	for name, register := range map[string]func(string, func(*gorm.DB)) error{
		"create": cb.Create().Before("*").Register, "query": cb.Query().Before("*").Register,
		"update": cb.Update().Before("*").Register, "delete": cb.Delete().Before("*").Register,
		"raw": cb.Raw().Before("*").Register, "row": cb.Row().Before("*").Register,
	} {
		if err := register("gatehouse:count_"+name, count); err != nil {
			return err
		}
	}
	return nil
}

// markUnavailable wraps err in tenants.UnavailableError when it is a
// dependency failure: a deadline, a refused or reset connection, Postgres
// shutting down or refusing connections (SQLSTATE class 08, 57P0x, 53300),
// or a SQLite file that cannot be written (read-only, disk full, locked).
func markUnavailable(err error) error {
	if err == nil || errors.Is(err, tenants.ErrUnavailable) || !isUnavailable(err) {
		return err
	}
	return &tenants.UnavailableError{Cause: err}
}

func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "53300"
	}
	msg := err.Error()
	for _, s := range []string{
		"readonly database", "database or disk is full", "database is locked", "disk I/O error", // SQLite (SQLITE_READONLY, _FULL, _BUSY, _IOERR)
		"conn closed", "failed to connect", "connection refused", "broken pipe", "unexpected EOF",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// transaction runs fn in a transaction whose BEGIN also carries the
// deadline (BEGIN is not a gorm statement, so the callbacks do not see it)
// and whose failure to start is classified like any statement's.
func (s *Store) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if !inTx(s.db) {
		s.counts.txs.Add(1)
	}
	bctx, cancel := context.WithTimeout(ctx, s.txTimeout())
	defer cancel()
	err := s.db.WithContext(bctx).Transaction(fn)
	return markUnavailable(err)
}

func (s *Store) txTimeout() time.Duration {
	// A transaction is a few statements; give it a few statements' time.
	return 3 * s.queryTimeout
}
