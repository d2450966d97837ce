package testdb

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/tenants/gormstore"
)

// Backend is a database the store runs on: the subtest's name and how to
// make a fresh database of it (its DSN).
type Backend struct {
	Name string
	DSN  func(t testing.TB) string
}

// Backends are the databases every storage test runs on: SQLite and the
// shared Postgres server.
func Backends() []Backend {
	return []Backend{{"sqlite", SQLite}, {"postgres", Postgres}}
}

// Open opens (and migrates) the store on dsn; it is closed when the test ends.
func Open(t testing.TB, dsn string) *gormstore.Store {
	t.Helper()
	s, err := gormstore.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// EachStore runs fn as one subtest per backend, on a fresh store.
func EachStore(t *testing.T, fn func(t *testing.T, s *gormstore.Store)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, Open(t, b.DSN(t))) })
	}
}
