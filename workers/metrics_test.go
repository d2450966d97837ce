package workers

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

func gather(t *testing.T, e *env) map[string][]*dto.Metric {
	t.Helper()
	mfs, err := e.reg.Gather()
	must(t, err)
	out := map[string][]*dto.Metric{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetMetric()
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Metrics (issue 5): queue depth per queue, task latency and failures by
// task type, on the registry the process serves at /metrics.
func TestMetrics(t *testing.T) {
	e := newEnv(t, testdb.Open(t, testdb.SQLite(t)), startMiniredis(t), func(o *Options) { o.WebhookMaxAttempts = 1 })
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer fail.Close()
	tn := webhookTenant(t, e, "metrics", fail.URL, "k")
	e.start()
	e.rt.Auditor().Record(ctx, tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActTokenIssued})
	testdb.Eventually(t, "a failed webhook task", 60*time.Second, func() bool {
		for _, m := range gather(t, e)["gatehouse_task_failures_total"] {
			if label(m, "type") == TypeWebhook && m.GetCounter().GetValue() == 1 {
				return true
			}
		}
		return false
	})
	ms := gather(t, e)
	var batchLatency bool
	for _, m := range ms["gatehouse_task_duration_seconds"] {
		if label(m, "type") == TypeAuditBatch && m.GetHistogram().GetSampleCount() > 0 {
			batchLatency = true
		}
	}
	if !batchLatency {
		t.Error("no task latency recorded for audit:batch")
	}
	queues := map[string]bool{}
	var archivedLow float64
	for _, m := range ms["gatehouse_queue_depth"] {
		queues[label(m, "queue")] = true
		if label(m, "queue") == QueueLow && label(m, "state") == "archived" {
			archivedLow = m.GetGauge().GetValue()
		}
	}
	if !queues[QueueCritical] || !queues[QueueLow] {
		t.Errorf("queue depth missing queues: %v", queues)
	}
	if archivedLow != 1 {
		t.Errorf("want the dead webhook task counted as archived in the low queue, got %v", archivedLow)
	}
	if up := ms["gatehouse_queue_up"]; len(up) != 1 || up[0].GetGauge().GetValue() != 1 {
		t.Errorf("gatehouse_queue_up: %v", up)
	}
	if err := e.rt.Ping(ctx); err != nil {
		t.Errorf("Ping with Redis up: %v", err)
	}
}

// Queue depth describes Redis, not a replica: of two replicas on one Redis
// exactly one reports it, and another takes over when the lease lapses.
func TestQueueDepthReportedOnce(t *testing.T) {
	redisOpt := startMiniredis(t)
	store := testdb.Open(t, testdb.SQLite(t))
	a := newEnv(t, store, redisOpt, nil)
	b := newEnv(t, store, redisOpt, nil)
	tn := newTenant(t, store, "qd")
	a.rt.Auditor().Record(ctx, tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActTokenIssued}) // the critical queue exists
	reporters := func() (n int, who *env) {
		for _, e := range []*env{a, b} {
			ms := gather(t, e)
			if len(ms["gatehouse_queue_up"]) != 1 {
				t.Fatalf("every replica reports gatehouse_queue_up: %v", ms["gatehouse_queue_up"])
			}
			if len(ms["gatehouse_queue_depth"]) > 0 {
				n++
				who = e
			}
		}
		return n, who
	}
	n, first := reporters()
	if n != 1 {
		t.Fatalf("%d replicas report queue depth, want 1", n)
	}
	if n, again := reporters(); n != 1 || again != first {
		t.Fatalf("the lease holder changed while it was scraped (%d)", n)
	}
	must(t, first.rt.rdb.Del(ctx, queueReporterKey).Err()) // the lease lapses
	other := a
	if first == a {
		other = b
	}
	if ms := gather(t, other); len(ms["gatehouse_queue_depth"]) == 0 {
		t.Fatal("no replica took over queue depth reporting")
	}
	if n, _ := reporters(); n != 1 {
		t.Fatalf("%d reporters after the takeover", n)
	}
}
