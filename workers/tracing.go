package workers

import (
	"context"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/tenants/telemetry"
)

// traceTask opens a consumer span per task (named by its type; the payload
// is never recorded), so database queries and webhook calls a task makes
// are its children. A no-op span when tracing is off.
func traceTask(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		ctx, span := telemetry.Tracer("workers").Start(ctx, "task "+t.Type(), trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("messaging.system", "asynq"), attribute.String("gatehouse.task.type", t.Type())))
		defer span.End()
		err := next.ProcessTask(ctx, t)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "task failed")
		}
		return err
	})
}
