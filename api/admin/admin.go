// Package admin is the operations listener (GATEHOUSE_ADMIN_ADDR, default
// 127.0.0.1:9090): /metrics, /healthz and /readyz for probes and scrapers,
// kept off the public listener so tenant slugs in metric labels and
// dependency state are not published to the internet. Nothing here
// resolves a tenant: a probe must answer even when tenant lookups cannot.
package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The fixed vocabulary of /readyz. Error text never reaches the response
// (it names hosts, users and databases); it goes to the log.
const (
	StatusReady    = "ready"
	StatusNotReady = "not_ready"

	CheckOK          = "ok"
	CheckDegraded    = "degraded"
	CheckUnavailable = "unavailable"
)

// DrainTimeout bounds a graceful shutdown of serve: in-flight requests get
// this long after SIGTERM. Orchestrators must wait longer (Compose
// stop_grace_period, Kubernetes terminationGracePeriodSeconds); the Compose
// and Helm tests hold them to it.
const DrainTimeout = 20 * time.Second

// Options configure Handler.
type Options struct {
	// Registry is served at /metrics.
	Registry *prometheus.Registry
	// DatabasePing checks the database (required).
	DatabasePing func(context.Context) error
	// QueuePing checks Redis (nil: no queue check).
	QueuePing func(context.Context) error
	// QueueRequired makes an unreachable queue "unavailable" and the process
	// not ready (the worker, which can do nothing without Redis). When false
	// (serve) it is "degraded" and the process stays ready: audit events fall
	// back to synchronous writes, so a Redis blip must not pull every replica
	// out of the load balancer.
	QueueRequired bool
	Logger        *slog.Logger
	Version       string
	// DropTenantLabel serves /metrics with the tenant label removed and the
	// series it separated added up (GATEHOUSE_METRICS_TENANT_LABEL=false).
	DropTenantLabel bool
	// Extra routes (e.g. the on-demand TLS ask endpoint) added by the caller.
	Routes map[string]http.Handler
}

// Readiness is the /readyz body.
type Readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// Handler returns the operations handler.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": o.Version})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rd := o.Check(r.Context())
		code := http.StatusOK
		if rd.Status != StatusReady {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, rd)
	})
	if o.Registry != nil {
		var g prometheus.Gatherer = o.Registry
		if o.DropTenantLabel {
			g = WithoutLabel(g, TenantLabel)
		}
		mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{Registry: o.Registry}))
	}
	for p, h := range o.Routes {
		mux.Handle(p, h)
	}
	return mux
}

// Check runs every dependency check within 2 s and maps each to the fixed
// vocabulary; the underlying errors are logged only.
func (o Options) Check(ctx context.Context) Readiness {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rd := Readiness{Status: StatusReady, Checks: map[string]string{}}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := o.DatabasePing(ctx); err != nil {
		logger.Warn("readiness: database unavailable", "err", err)
		rd.Checks["database"] = CheckUnavailable
		rd.Status = StatusNotReady
	} else {
		rd.Checks["database"] = CheckOK
	}
	if o.QueuePing != nil {
		if err := o.QueuePing(ctx); err != nil {
			if o.QueueRequired {
				logger.Warn("readiness: queue unavailable", "err", err)
				rd.Checks["queue"] = CheckUnavailable
				rd.Status = StatusNotReady
			} else {
				logger.Warn("readiness: queue unavailable; audit falls back to synchronous writes", "err", err)
				rd.Checks["queue"] = CheckDegraded
			}
		} else {
			rd.Checks["queue"] = CheckOK
		}
	}
	return rd
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
