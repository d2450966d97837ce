package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP traces endpoint started by the test: it
// decodes each protobuf export and keeps span names by trace id.
type otlpReceiver struct {
	mu       sync.Mutex
	services map[string]bool
	spans    map[string][]string // trace id → span names
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "unexpected", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				o.services[a.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				id := hex.EncodeToString(sp.GetTraceId())
				o.spans[id] = append(o.spans[id], sp.GetName())
			}
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func (o *otlpReceiver) trace(id string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.spans[id]...)
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, the binary exports spans over OTLP
// HTTP: the request's server span (continuing the caller's traceparent,
// named by route) and its database spans reach the receiver, and the
// request's log line carries the same trace id. Without OTEL_* nothing is
// exported.
func TestOTLPExport(t *testing.T) {
	recv := &otlpReceiver{services: map[string]bool{}, spans: map[string][]string{}}
	col := httptest.NewServer(recv)
	defer col.Close()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, traced := range []bool{true, false} {
		env := []string{"OTEL_SERVICE_NAME=gatehouse-test", "OTEL_BSP_SCHEDULE_DELAY=100"}
		if traced {
			env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT="+col.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
		}
		p, base, _ := serveReady(t, env...)
		parent := fmt.Sprintf("00-%s-00f067aa0ba902b7-01", traceID)
		if !traced {
			parent = "00-" + strings.Repeat("1", 32) + "-00f067aa0ba902b7-01"
		}
		req, _ := http.NewRequest("GET", base+"/api/v1/tenants", nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		req.Header.Set("Traceparent", parent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !traced {
			p.stop() // flushes, if anything were configured
			if n := len(recv.trace(strings.Repeat("1", 32))); n != 0 {
				t.Errorf("spans exported without OTEL_* configured: %d", n)
			}
			continue
		}
		deadline := time.Now().Add(20 * time.Second)
		var names []string
		for {
			names = recv.trace(traceID)
			if hasSpan(names, "GET /api/v1/tenants") && len(names) >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("spans of trace %s: %v", traceID, names)
			}
			time.Sleep(50 * time.Millisecond)
		}
		recv.mu.Lock()
		if !recv.services["gatehouse-test"] {
			t.Errorf("service.name from OTEL_SERVICE_NAME not exported: %v", recv.services)
		}
		recv.mu.Unlock()
		p.stop()
		var logged bool
		for _, line := range strings.Split(p.output(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "http request" && m["trace_id"] == traceID {
				logged = true
			}
		}
		if !logged {
			t.Errorf("no log line with trace_id %s", traceID)
		}
	}
}

func hasSpan(names []string, want string) bool {
	for _, n := range names {
		if n == want {
			return true
		}
	}
	return false
}
