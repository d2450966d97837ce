package workers

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

func fastSchedule(d time.Duration) map[string]time.Duration {
	m := map[string]time.Duration{}
	for _, e := range DefaultSchedule {
		m[e.Type] = d
	}
	return m
}

// Two worker processes on one Redis run each periodic task once per period
// (issue 5): both schedulers enqueue every slot, the slot's task id lets
// only one in, and the task runs on whichever server takes it.
func TestPeriodicTasksRunOncePerPeriodAcrossTwoReplicas(t *testing.T) {
	for _, rb := range redisBackends() {
		t.Run(rb.name, func(t *testing.T) {
			t.Parallel()
			store := testdb.Open(t, testdb.SQLite(t))
			newTenant(t, store, "acme")
			redisOpt := rb.open(t)
			seen := newRuns()
			a := newEnv(t, store, redisOpt, func(o *Options) { o.Schedule = fastSchedule(time.Second) })
			// Replicas share the platform secret key, as in production.
			b := newEnv(t, store, redisOpt, func(o *Options) {
				o.Schedule = fastSchedule(time.Second)
				o.Sealer, o.Keys = a.sealer, keys.New(store, a.sealer, nil)
			})
			a.rt.observe, b.rt.observe = seen.observe, seen.observe
			a.start()
			b.start()
			testdb.Eventually(t, "4 periods of every periodic task", 60*time.Second, func() bool {
				for _, e := range DefaultSchedule {
					if seen.slots(e.Type) < 4 {
						return false
					}
				}
				return true
			})
			a.stop()
			b.stop()
			seen.mu.Lock()
			defer seen.mu.Unlock()
			for typ, slots := range seen.m {
				for slot, n := range slots {
					if n != 1 {
						t.Errorf("%s ran %d times in period %d, want once", typ, n, slot)
					}
				}
				if err := seen.err[typ]; err != nil {
					t.Errorf("%s failed: %v", typ, err)
				}
			}
		})
	}
}

func TestSlotOfIsSharedAcrossReplicas(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	if slotOf(base, time.Minute) != slotOf(base.Add(59*time.Second), time.Minute) {
		t.Fatal("one minute slot split")
	}
	if slotOf(base, time.Minute) == slotOf(base.Add(61*time.Second), time.Minute) {
		t.Fatal("consecutive slots merged")
	}
}
