package workers

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	taskDuration    *prometheus.HistogramVec
	taskFailures    *prometheus.CounterVec
	auditEvents     *prometheus.CounterVec
	auditBatch      prometheus.Histogram
	swept           *prometheus.CounterVec
	webhooks        *prometheus.CounterVec
	upstreamRefresh *prometheus.CounterVec
	keysRotated     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, r *Runtime) *metrics {
	m := &metrics{
		taskDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_task_duration_seconds", Help: "Time to process a background task, by task type.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"type"}),
		taskFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_task_failures_total", Help: "Background task attempts that failed, by task type.",
		}, []string{"type"}),
		auditEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_audit_events_total",
			Help: "Audit events recorded, by path: queued (batched), sync (queue unreachable), late (written by the recorder after the queue did not).",
		}, []string{"path"}),
		auditBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gatehouse_audit_batch_size", Help: "Events per audit batch insert.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		swept: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_swept_rows_total", Help: "Rows removed by periodic sweeps, by what.",
		}, []string{"what"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_webhook_attempts_total", Help: "Audit webhook delivery attempts, by outcome (delivered, retry, dead).",
		}, []string{"outcome"}),
		upstreamRefresh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_upstream_refresh_total", Help: "Upstream IdP token refreshes, by outcome.",
		}, []string{"outcome"}),
		keysRotated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_signing_keys_rotated_total", Help: "Signing keys promoted by scheduled rotation.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.taskDuration, m.taskFailures, m.auditEvents, m.auditBatch, m.swept,
			m.webhooks, m.upstreamRefresh, m.keysRotated, &queueCollector{r: r}} {
			if err := reg.Register(c); err != nil {
				r.log.Warn("metric not registered", "err", err)
			}
		}
	}
	return m
}

func (m *metrics) middleware(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		m.taskDuration.WithLabelValues(t.Type()).Observe(time.Since(start).Seconds())
		if err != nil {
			m.taskFailures.WithLabelValues(t.Type()).Inc()
		}
		return err
	})
}

// queueCollector reports queue depth per queue and state at scrape time.
type queueCollector struct{ r *Runtime }

var (
	queueDepthDesc = prometheus.NewDesc("gatehouse_queue_depth", "Tasks in a queue, by state.", []string{"queue", "state"}, nil)
	queueUpDesc    = prometheus.NewDesc("gatehouse_queue_up", "1 if the queue (Redis) answered the last scrape.", nil, nil)
	auditHeldDesc  = prometheus.NewDesc("gatehouse_audit_events_held",
		"Audit events enqueued by this process and not yet confirmed stored.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueUpDesc
	ch <- auditHeldDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(auditHeldDesc, prometheus.GaugeValue, float64(c.r.auditor.heldCount()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	up := 1.0
	if c.r.Ping(ctx) != nil {
		ch <- prometheus.MustNewConstMetric(queueUpDesc, prometheus.GaugeValue, 0)
		return
	}
	for _, q := range []string{QueueCritical, QueueDefault, QueueLow} {
		info, err := c.r.insp.GetQueueInfo(q)
		if err != nil {
			continue // a queue that never held a task does not exist yet
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "aggregating": info.Aggregating, "completed": info.Completed} {
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), q, state)
		}
	}
	ch <- prometheus.MustNewConstMetric(queueUpDesc, prometheus.GaugeValue, up)
}
