// Package telemetry is OpenTelemetry tracing for every process: off unless
// the standard OTEL_* variables ask for it (then OTLP over HTTP or gRPC),
// W3C trace context propagation, HTTP server and client instrumentation,
// and trace ids on log lines. With tracing off, the global provider is
// OpenTelemetry's no-op and every helper here costs next to nothing.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Configured reports whether the OTEL_* variables ask for traces: an OTLP
// endpoint (general or traces-only) or OTEL_TRACES_EXPORTER=otlp, unless
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
func Configured(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" ||
		getenv("OTEL_TRACES_EXPORTER") == "otlp"
}

// Validate checks the OTEL_* values Gatehouse interprets itself; the
// exporters read the rest. Errors name the variable.
func Validate(getenv func(string) string) error {
	switch v := getenv("OTEL_TRACES_EXPORTER"); v {
	case "", "otlp", "none":
	default:
		return fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported (otlp or none)", v)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		switch v := getenv(name); v {
		case "", "grpc", "http/protobuf":
		default:
			return fmt.Errorf("%s: %q is not supported (grpc or http/protobuf)", name, v)
		}
	}
	return nil
}

// Setup installs the global tracer provider and W3C propagators when
// Configured; the returned function flushes and stops it (a no-op when
// tracing is off). service and version name this process in the resource;
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override them.
func Setup(ctx context.Context, getenv func(string) string, service, version string) (func(context.Context) error, error) {
	// Propagation is on either way: with tracing off, an incoming
	// traceparent still reaches upstreams unchanged.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !Configured(getenv) {
		return func(context.Context) error { return nil }, nil
	}
	if err := Validate(getenv); err != nil {
		return nil, err
	}
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var (
		exp *otlptrace.Exporter
		err error
	)
	if protocol == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service), attribute.String("service.version", version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Handler traces every request of h (server spans; an incoming traceparent
// is continued). Routers rename the span after their route (see
// api/httpx.TraceRoute), so span names never carry tenant slugs or ids.
func Handler(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "http.request",
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// Transport traces outbound requests and adds the W3C traceparent header,
// so upstream IdPs and MCP servers can join the trace.
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return otelhttp.NewTransport(base)
}

// Tracer is the tracer for Gatehouse's own spans.
func Tracer(name string) trace.Tracer { return otel.Tracer("github.com/gatehouse/gatehouse/" + name) }

// LogHandler adds trace_id and span_id to every record logged with a
// context that carries a span.
func LogHandler(h slog.Handler) slog.Handler { return &logHandler{h} }

type logHandler struct{ slog.Handler }

func (l *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.Handler.Handle(ctx, r)
}

func (l *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{l.Handler.WithAttrs(as)}
}

func (l *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{l.Handler.WithGroup(name)}
}
