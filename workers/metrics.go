package workers

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/tenants"
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
			m.webhooks, m.upstreamRefresh, m.keysRotated, &queueCollector{r: r, id: tenants.RandomID()}} {
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
// Queue depth is a property of Redis, not of a replica: only the replica
// holding a short Redis lease reports it, so sum() over replicas is right
// and N replicas do not multiply the series.
type queueCollector struct {
	r  *Runtime
	id string // this process's lease value
}

// queueReporterKey holds the id of the replica that reports queue depth;
// queueReporterTTL outlives any sane scrape interval, so the holder keeps it
// while it is scraped and another replica takes over when it stops.
const (
	queueReporterKey = "gatehouse:metrics:queue-reporter"
	queueReporterTTL = 90 * time.Second
)

// reporter takes or renews the lease; false means another replica holds it.
func (c *queueCollector) reporter(ctx context.Context) bool {
	ok, err := c.r.rdb.SetNX(ctx, queueReporterKey, c.id, queueReporterTTL).Result()
	if err != nil {
		return false
	}
	if ok {
		return true
	}
	// Renew only our own lease (compare-and-expire in one step).
	n, err := renewLease.Run(ctx, c.r.rdb, []string{queueReporterKey}, c.id, queueReporterTTL.Milliseconds()).Int()
	return err == nil && n == 1
}

var renewLease = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`)

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
	ch <- prometheus.MustNewConstMetric(queueUpDesc, prometheus.GaugeValue, up)
	if !c.reporter(ctx) {
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
}
