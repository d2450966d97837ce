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
	e := newEnv(t, openStore(t, testdb.SQLite(t)), startMiniredis(t), func(o *Options) { o.WebhookMaxAttempts = 1 })
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer fail.Close()
	tn := webhookTenant(t, e, "metrics", fail.URL, "k")
	e.start()
	e.rt.Auditor().Record(ctx, tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActTokenIssued})
	eventually(t, "a failed webhook task", 60*time.Second, func() bool {
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
