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

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse/gatehouse/api"
	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/internal/wiring"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/telemetry"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// With a tracer provider installed: one server span per request named by
// its route (never a slug), database spans as its children without query
// variables, the trace id on the request's log line, and traceparent sent
// on outbound calls. Recorded with the SDK's in-memory recorder.
func TestTracingSpansAndLogs(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	s, err := gormstore.Open(context.Background(), testdb.SQLite(t), &gormstore.Options{Tracing: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sealer, _ := tenants.NewSealer([][]byte{make([]byte, 32)})
	var logs bytes.Buffer
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	const admin = "admin-token-for-tests-0123456789"
	d := &httpx.Deps{Store: s, Sealer: sealer, Keys: keys.New(s, sealer, nil), Auditor: &tenants.SyncAuditor{Store: s},
		Logger: slog.New(telemetry.LogHandler(slog.NewJSONHandler(&logs, nil))), Sites: httpx.NewSites(s, base, ""), PublicURL: base,
		AllowDevIdP: true, AdminTokenHash: tenants.HashSecret(admin)}
	wiring.Build(d, nil)
	h, err := api.New(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = telemetry.Handler(h)
	srv.Start()
	defer srv.Close()

	req, _ := http.NewRequest("POST", base+"/api/v1/tenants", strings.NewReader(`{"slug":"tracedslug","name":"T","upstream_mcp_url":"https://mcp.example.com/mcp"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
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
