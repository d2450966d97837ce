package demo_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/api/demo"
)

// Issue 13, finding 7: idle demo sessions are closed; the demo upstream
// does not keep goroutines per session forever.
func TestDemoSessionsExpire(t *testing.T) {
	srv := httptest.NewServer(demo.NewHandler(3 * time.Second))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	before := runtime.NumGoroutine()
	const sessions = 20
	for i := 0; i < sessions; i++ {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") == "" {
			t.Fatalf("initialize: %d session=%q", resp.StatusCode, resp.Header.Get("Mcp-Session-Id"))
		}
	}
	during := runtime.NumGoroutine()
	if during-before < sessions {
		t.Fatalf("premise: %d sessions should hold goroutines (before %d, during %d)", sessions, before, during)
	}
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > before+5 {
		if time.Now().After(deadline) {
			t.Fatalf("idle sessions kept their goroutines: before %d, during %d, now %d", before, during, runtime.NumGoroutine())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
