package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/telemetry"
)

// With a tracer provider installed: one server span per request named by
// its route (never a slug), database spans as its children without query
// variables, the trace id on the request's log line, and traceparent sent
// on outbound calls. Recorded with the SDK's in-memory recorder.
func TestTracingSpansAndLogs(t *testing.T) {
	rec, tp := testkit.Tracing(t)
	var logs bytes.Buffer
	srv, _ := serve(t, testkit.Options{Store: openStore(t, &gormstore.Options{Tracing: true}),
		Logger: slog.New(telemetry.LogHandler(slog.NewJSONHandler(&logs, nil)))}, nil, telemetry.Handler)

	resp, _ := doReq(t, srv, request{method: "POST", path: "/api/v1/tenants", auth: "Bearer " + adminToken,
		body: `{"slug":"tracedslug","name":"T","upstream_mcp_url":"https://mcp.example.com/mcp"}`})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	tp.ForceFlush(context.Background())

	var server sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		if sp.Name() == "POST /api/v1/tenants" {
			server = sp
		}
	}
	if server == nil {
		var names []string
		for _, sp := range rec.Ended() {
			names = append(names, sp.Name())
		}
		t.Fatalf("no server span named after the route; spans: %v", names)
	}
	traceID := server.SpanContext().TraceID()
	dbSpans := 0
	for _, sp := range rec.Ended() {
		if strings.Contains(sp.Name(), "tracedslug") {
			t.Errorf("span name carries a slug: %s", sp.Name())
		}
		if sp.SpanContext().TraceID() != traceID || sp == server {
			continue
		}
		for _, a := range sp.Attributes() {
			if a.Key == "db.statement" || a.Key == "db.query.text" {
				dbSpans++
				if strings.Contains(a.Value.Emit(), "tracedslug") {
					t.Errorf("a database span records query variables: %s", a.Value.Emit())
				}
			}
		}
	}
	if dbSpans == 0 {
		t.Error("no database span in the request's trace")
	}
	var logged bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "http request" {
			logged = m["trace_id"] == traceID.String()
		}
	}
	if !logged {
		t.Errorf("the access log line lacks trace_id %s:\n%s", traceID, logs.String())
	}

	// Outbound: traceparent carries the caller's trace.
	var got string
	up := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Header.Get("Traceparent") }))
	defer up.Close()
	ctx, span := tp.Tracer("test").Start(context.Background(), "caller")
	oreq, _ := http.NewRequestWithContext(ctx, "GET", up.URL, nil)
	oresp, err := (&http.Client{Transport: telemetry.Transport(nil)}).Do(oreq)
	if err != nil {
		t.Fatal(err)
	}
	oresp.Body.Close()
	span.End()
	if !strings.Contains(got, span.SpanContext().TraceID().String()) {
		t.Errorf("traceparent %q does not carry trace %s", got, span.SpanContext().TraceID())
	}
}
