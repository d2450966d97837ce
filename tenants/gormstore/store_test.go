package gormstore_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm/schema"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/conformance"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

func TestConformance(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			conformance.Run(t, func(t *testing.T) tenants.Store { return testdb.Open(t, b.DSN(t)) })
		})
	}
}

// Every gorm model column exists in the migrated schema of each dialect, and
// no table the models use is missing.
func TestMigrationsMatchModels(t *testing.T) {
	testdb.EachStore(t, func(t *testing.T, s *gormstore.Store) {
		m := s.DB().Migrator()
		for _, model := range tenants.AllModels() {
			sch, err := schema.Parse(model, &sync.Map{}, schema.NamingStrategy{})
			if err != nil {
				t.Fatal(err)
			}
			if !m.HasTable(sch.Table) {
				t.Errorf("table %s missing after migration", sch.Table)
				continue
			}
			cols, err := m.ColumnTypes(sch.Table)
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, c := range cols {
				have[strings.ToLower(c.Name())] = true
			}
			var missing []string
			for _, f := range sch.Fields {
				if f.DBName != "" && !have[f.DBName] {
					missing = append(missing, f.DBName)
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 {
				t.Errorf("%s: model columns missing from the %s schema: %v", sch.Table, s.Dialect(), missing)
			}
		}
	})
}

// migrateDownWhile migrates down one version at a time while a status line
// that selects says applied.
func migrateDownWhile(t *testing.T, s *gormstore.Store, selects func(status string) bool) {
	t.Helper()
	for {
		st, err := s.Migrate(context.Background(), "status")
		if err != nil {
			t.Fatal(err)
		}
		applied := false
		for _, l := range st {
			applied = applied || selects(l) && strings.Contains(l, "applied")
		}
		if !applied {
			return
		}
		if _, err := s.Migrate(context.Background(), "down"); err != nil {
			t.Fatal(err)
		}
	}
}

// Migrations go down and up again cleanly.
func TestMigrateDownUp(t *testing.T) {
	testdb.EachStore(t, func(t *testing.T, s *gormstore.Store) {
		ctx := context.Background()
		migrateDownWhile(t, s, func(string) bool { return true })
		if s.DB().Migrator().HasTable("tenants") {
			t.Fatal("down did not drop tables")
		}
		if _, err := s.Migrate(ctx, "up"); err != nil {
			t.Fatal(err)
		}
		if !s.DB().Migrator().HasTable("tenants") {
			t.Fatal("up did not create tables")
		}
	})
}
