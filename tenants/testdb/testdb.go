// Package testdb gives each test its own real database and Redis DB, opens
// the store on a database of every backend (store.go) and waits for work
// around them (wait.go). With CI=true a missing service fails the test;
// elsewhere it skips with the reason.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for admin statements
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/tenants"
)

// PostgresAdminURL is the shared server's maintenance database.
func PostgresAdminURL() string {
	if v := os.Getenv("GATEHOUSE_TEST_POSTGRES_URL"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// RedisAddr is the shared Redis server.
func RedisAddr() string {
	if v := os.Getenv("GATEHOUSE_TEST_REDIS_ADDR"); v != "" {
		return v
	}
	return "127.0.0.1:6379"
}

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI and is unavailable: %v", what, err)
	}
	t.Skipf("%s unavailable (set CI=true to make this a failure): %v", what, err)
}

// SQLite returns a fresh SQLite file path in the test's temp dir.
func SQLite(t testing.TB) string {
	return filepath.Join(t.TempDir(), "gatehouse.db")
}

// Postgres creates a fresh database on the shared server and returns its
// URL; it is dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := PostgresAdminURL()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		unavailable(t, "PostgreSQL", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		unavailable(t, "PostgreSQL at "+admin, err)
	}
	name := "gh_test_" + tenants.RandomID()[:16]
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		db.Close()
	})
	return replaceDBName(admin, name)
}

func replaceDBName(u, name string) string {
	// postgres://user@host:port/db?params
	rest := u
	q := ""
	if i := strings.Index(rest, "?"); i >= 0 {
		rest, q = rest[:i], rest[i:]
	}
	if i := strings.LastIndex(rest, "/"); i > len("postgres://") {
		rest = rest[:i]
	}
	return rest + "/" + name + q
}

// Redis reserves one logical DB (1–15) of the shared Redis server for the
// test, flushed before use and released after, and returns its address and
// number. Packages run in parallel; the reservation key keeps them apart.
func Redis(t testing.TB) (addr string, db int) {
	t.Helper()
	addr = RedisAddr()
	c := redis.NewClient(&redis.Options{Addr: addr, DB: 0})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		unavailable(t, "Redis at "+addr, err)
	}
	token := tenants.RandomID()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for n := 1; n <= 15; n++ {
			ok, err := c.SetNX(ctx, fmt.Sprintf("gatehouse:testdb:%d", n), token, 10*time.Minute).Result()
			if err != nil {
				c.Close()
				t.Fatalf("reserve redis db: %v", err)
			}
			if ok {
				dc := redis.NewClient(&redis.Options{Addr: addr, DB: n})
				if err := dc.FlushDB(ctx).Err(); err != nil {
					t.Fatalf("flush redis db %d: %v", n, err)
				}
				dc.Close()
				t.Cleanup(func() {
					ctx := context.Background()
					dc := redis.NewClient(&redis.Options{Addr: addr, DB: n})
					_ = dc.FlushDB(ctx).Err()
					dc.Close()
					if v, _ := c.Get(ctx, fmt.Sprintf("gatehouse:testdb:%d", n)).Result(); v == token {
						c.Del(ctx, fmt.Sprintf("gatehouse:testdb:%d", n))
					}
					c.Close()
				})
				return addr, n
			}
		}
		if time.Now().After(deadline) {
			c.Close()
			t.Fatalf("no free redis test db after 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// FreePort returns a free loopback TCP port (for fault tests that start their
// own postgres/redis-server).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
