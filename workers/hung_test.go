package workers

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// hungRedis accepts connections and reads commands but never answers: a
// Redis that is stopped (SIGSTOP), swapping, or behind a black-holed link.
func hungRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	return ln.Addr().String()
}

// Issue 13, finding 4: a hung Redis must not stall a request past the
// 500 ms enqueue budget; the event is written synchronously instead.
func TestAuditEnqueueGivesUpOnHungRedis(t *testing.T) {
	s := testdb.Open(t, testdb.SQLite(t))
	tn := newTenant(t, s, "hung")
	// The connection option's own timeouts are the slow defaults (3 s): the
	// request path must not depend on them.
	e := newEnv(t, s, asynq.RedisClientOpt{Addr: hungRedis(t)}, nil)
	for i := 0; i < 3; i++ {
		start := time.Now()
		e.rt.Auditor().Record(ctx, tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActLoginFailed, Outcome: tenants.OutcomeFailure})
		if el := time.Since(start); el > 900*time.Millisecond {
			t.Fatalf("record %d with a hung Redis took %v; the budget is 500 ms", i, el)
		}
		if got := countEvents(t, s, tn.ID); got != int64(i+1) {
			t.Fatalf("after %d records, %d rows: the event was not written synchronously", i+1, got)
		}
	}
}
