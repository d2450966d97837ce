package gormstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// Issue 13, finding 3: every statement carries the configured deadline, and
// a statement that runs into it is tenants.ErrUnavailable (answered 503),
// never a 500 or a hang.
func TestQueryDeadline(t *testing.T) {
	for _, tc := range []struct {
		name, dsn, slow string
	}{
		// SQLite is in-process (a CPU-bound statement is not interruptible
		// by the pure-Go driver); the hung-server case is Postgres.
		{"postgres", testdb.Postgres(t), `SELECT 1 FROM pg_sleep(30)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := gormstore.Open(context.Background(), tc.dsn, &gormstore.Options{QueryTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			var n int64
			err = s.DB().WithContext(context.Background()).Raw(tc.slow).Scan(&n).Error
			el := time.Since(start)
			if el > 3*time.Second {
				t.Fatalf("slow statement ran %v; the 300 ms deadline did not apply", el)
			}
			if !errors.Is(err, tenants.ErrUnavailable) {
				t.Fatalf("want ErrUnavailable, got %v", err)
			}
			// The store still works afterwards (the pool recovered).
			if _, err := s.GetTenantBySlug(context.Background(), "nope"); !errors.Is(err, tenants.ErrNotFound) {
				t.Fatalf("after the timeout: %v", err)
			}
		})
	}
}

// A stopped database (nothing listening) is ErrUnavailable too.
func TestStoppedDatabaseIsUnavailable(t *testing.T) {
	s, err := gormstore.Open(context.Background(), testdb.Postgres(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw, _ := s.RawDB()
	raw.Close() // every later statement fails as if the server went away
	if _, err := s.GetTenantBySlug(context.Background(), "acme"); err == nil || errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("closed pool: %v; must not be not-found", err)
	}
}
