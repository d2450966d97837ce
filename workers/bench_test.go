package workers

import (
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// BenchmarkAuditWrite measures audit write throughput, batched (queued on
// Redis, written by group aggregation in multi-row inserts) against
// unbatched (tenants.SyncAuditor, one insert per event), in the same run,
// on SQLite and Postgres. The batched figure counts until every event is in
// the database. Run:
//
//	go test -run '^$' -bench 'BenchmarkAudit' -benchtime 20000x ./workers/
func BenchmarkAuditWrite(b *testing.B) {
	for _, sb := range testdb.Backends() {
		b.Run(sb.Name+"/batched", func(b *testing.B) {
			b.StopTimer()
			s := testdb.Open(b, sb.DSN(b))
			tn := newTenant(b, s, "bench")
			addr, db := testdb.Redis(b)
			e := newEnv(b, s, asynq.RedisClientOpt{Addr: addr, DB: db}, nil).start()
			start := recordParallel(b, e.rt.Auditor(), tn)
			for {
				n, err := s.CountAuditEvents(ctx, tn.ID)
				if err != nil {
					b.Fatal(err)
				}
				if _, via := histogram(b, e.rt.metrics.auditBatch); n == int64(b.N) && int(via) == b.N {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			batches, viaBatches := histogram(b, e.rt.metrics.auditBatch)
			b.ReportMetric(float64(batches), "batches")
			if int(viaBatches) != b.N {
				b.Fatalf("only %v of %d events were written by batch tasks", viaBatches, b.N)
			}
		})
		b.Run(sb.Name+"/unbatched", func(b *testing.B) {
			b.StopTimer()
			s := testdb.Open(b, sb.DSN(b))
			tn := newTenant(b, s, "bench")
			start := recordParallel(b, &tenants.SyncAuditor{Store: s}, tn)
			b.StopTimer()
			if n, _ := s.CountAuditEvents(ctx, tn.ID); n != int64(b.N) {
				b.Fatalf("%d rows for %d events", n, b.N)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// recordParallel starts the timer and records b.N events for tn through a
// from 8 callers per CPU; it returns when the timer started.
func recordParallel(b *testing.B, a tenants.Auditor, tn *tenants.Tenant) time.Time {
	b.SetParallelism(8)
	start := time.Now()
	b.StartTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.Record(ctx, tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActMCPToolCalled, ClientID: "c", Subject: "u"})
		}
	})
	return start
}

// BenchmarkAuditInsert isolates the database side: events/s written by
// InsertAuditEvents one row per statement (what SyncAuditor does) against
// the 500-row statements audit:batch issues.
func BenchmarkAuditInsert(b *testing.B) {
	for _, sb := range testdb.Backends() {
		for _, rows := range []int{1, 500} {
			b.Run(fmt.Sprintf("%s/rows=%d", sb.Name, rows), func(b *testing.B) {
				s := testdb.Open(b, sb.DSN(b))
				tn := newTenant(b, s, "bench")
				b.ResetTimer()
				start := time.Now()
				for done := 0; done < b.N; {
					n := min(rows, b.N-done)
					evs := make([]tenants.AuditEvent, n)
					for i := range evs {
						evs[i] = tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActMCPToolCalled, ClientID: "c", Subject: "u"}
						evs[i].Complete(ctx)
					}
					if err := s.InsertAuditEvents(ctx, evs); err != nil {
						b.Fatal(err)
					}
					done += n
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkAuditEnqueue is what recording an audit event costs the request
// that records it: the queued auditor's enqueue to Redis (the write happens
// later, in batches).
func BenchmarkAuditEnqueue(b *testing.B) {
	s := testdb.Open(b, testdb.SQLite(b))
	tn := newTenant(b, s, "bench")
	addr, db := testdb.Redis(b)
	e := newEnv(b, s, asynq.RedisClientOpt{Addr: addr, DB: db}, nil).start()
	a := e.rt.Auditor()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Record(ctx, tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActTokenIssued, ClientID: "c", Subject: "u"})
	}
}
