package httpx

import (
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/tenants"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestInfo assigns a request id (a sane incoming X-Request-Id is kept),
// echoes it, and puts the caller's IP, user agent and id on the context for
// the auditor.
func RequestInfo() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			id = tenants.RandomID()
		}
		c.Header("X-Request-Id", id)
		ri := tenants.RequestInfo{IP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: id}
		c.Request = c.Request.WithContext(tenants.WithRequestInfo(c.Request.Context(), ri))
		c.Set("request_id", id)
		c.Next()
	}
}

// Recover turns a panic into a 500 with a body in the surface's format;
// nothing of the panic reaches the client.
func Recover(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // the reverse proxy's client-gone signal
				}
				logger.Error("panic in handler", "panic", v, "route", c.FullPath(), "request_id", c.GetString("request_id"), "stack", string(debug.Stack()))
				if !c.Writer.Written() {
					c.Header("Content-Type", "application/json")
					c.Writer.WriteHeader(http.StatusInternalServerError)
					_, _ = c.Writer.Write([]byte(`{"error":"server_error","error_description":"internal error; see the server log for request ` + c.GetString("request_id") + `"}`))
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}

// routeOf is the request's route pattern, the one label every log line,
// span and metric uses for it: never the path, which names tenants and ids.
func routeOf(c *gin.Context) string {
	if route := c.FullPath(); route != "" {
		return route
	}
	return "unmatched"
}

// AccessLog logs one line per request: method, route pattern and path —
// never the query string, headers or body, where codes and tokens travel.
func AccessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		ctx := c.Request.Context()
		if !logger.Enabled(ctx, slog.LevelInfo) {
			return
		}
		// The address RequestInfo read (gin's ClientIP parses the
		// forwarding headers again), and typed attributes, not boxed
		// key-value pairs: this runs on every gateway request.
		ip := tenants.RequestInfoFrom(ctx).IP
		if ip == "" {
			ip = c.ClientIP()
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "http request",
			slog.String("method", c.Request.Method),
			slog.String("route", routeOf(c)),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", c.Writer.Status()),
			slog.Int64("duration_ms", time.Since(start).Milliseconds()),
			slog.String("request_id", c.GetString("request_id")),
			slog.String("ip", ip),
		)
	}
}

// TraceRoute names the request's server span after the route pattern
// (e.g. "POST /t/:slug/oauth/token"): one span name per endpoint, never a
// tenant slug or client id. It also writes the span's W3C traceparent into
// the request headers, so what the gateway forwards to the tenant's MCP
// server joins the trace (traceparent is not a header the gateway drops).
// No-op when tracing is off.
func TraceRoute() gin.HandlerFunc {
	return func(c *gin.Context) {
		if trace.SpanContextFromContext(c.Request.Context()).IsValid() {
			otel.GetTextMapPropagator().Inject(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		}
		c.Next()
		span := trace.SpanFromContext(c.Request.Context())
		if !span.IsRecording() {
			return
		}
		route := routeOf(c)
		span.SetName(c.Request.Method + " " + route)
		span.SetAttributes(attribute.String("http.route", route), attribute.String("gatehouse.request_id", c.GetString("request_id")))
	}
}

// Metrics records requests by route and status, and latency. Server-sent
// event streams (MCP GET streams, streamed POST answers) last minutes to
// hours; their lifetimes go to their own histogram so the latency one keeps
// describing request latency.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	streams  *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		streams: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_stream_duration_seconds", Help: "Lifetime of server-sent event responses by route.",
			Buckets: []float64{1, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.latency, m.streams)
	_ = reg.Register(rateLimited) // shared by every engine of the process
	return m
}

// Handler is the gin middleware.
func (m *Metrics) Handler() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := routeOf(c)
		m.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Inc()
		hist := m.latency
		if strings.HasPrefix(c.Writer.Header().Get("Content-Type"), "text/event-stream") {
			hist = m.streams
		}
		hist.WithLabelValues(c.Request.Method, route).Observe(time.Since(start).Seconds())
	}
}

// LimitBody caps the request body; reading past it fails, and handlers map
// *http.MaxBytesError to 413 in their own format.
func LimitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			c.Set("body_too_large", true)
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

// NoStore marks responses uncacheable (token endpoint, API).
func NoStore() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.Header("Pragma", "no-cache")
		c.Next()
	}
}
