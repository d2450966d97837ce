package gormstore_test

import (
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// TestPoolKeepsItsConnectionsThroughBursts: with the default pool, a burst
// that uses every open connection hands them all back to the idle pool,
// so the next burst dials nothing. (With fewer idle slots than open ones,
// each burst closed the surplus and re-dialed it: a Postgres backend forked
// per connection, 20 a second under a refresh load.)
func TestPoolKeepsItsConnectionsThroughBursts(t *testing.T) {
	s := testdb.Open(t, testdb.Postgres(t))
	raw, err := s.RawDB()
	if err != nil {
		t.Fatal(err)
	}
	open := raw.Stats().MaxOpenConnections
	burst := func() {
		var wg sync.WaitGroup
		for i := 0; i < 2*open; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var n int
				if err := s.DB().Raw("SELECT 1 FROM pg_sleep(0.05)").Scan(&n).Error; err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	burst()
	st := raw.Stats()
	if st.OpenConnections != open {
		t.Fatalf("after a burst of %d: %d connections open, want all %d kept", 2*open, st.OpenConnections, open)
	}
	burst()
	burst()
	if st := raw.Stats(); st.MaxIdleClosed != 0 || st.OpenConnections != open {
		t.Fatalf("bursts closed %d connections for want of idle slots (%d open of %d)", st.MaxIdleClosed, st.OpenConnections, open)
	}
}
