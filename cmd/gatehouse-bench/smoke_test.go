package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

const smokeAdminToken = "gha_bench-smoke-admin-token-0123456789"

// TestSmoke builds gatehouse, starts `gatehouse serve` in the embedded
// default (SQLite, in-process queue) and runs every scenario of the tool
// briefly against it: each must complete requests and none may fail. This
// keeps the load tool from rotting as the server changes.
func TestSmoke(t *testing.T) {
	base, admin := startGatehouse(t)
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := run(ctx, []string{"--url", base, "--admin-token", smokeAdminToken, "--concurrency", "2", "--duration", "2s",
		"--warmup", "0", "--streams", "10", "--rounds", "2", "--json", "--tenants", "3",
		"--metrics-url", admin + "/metrics",
		// run() is called inside the test binary, which cannot re-execute
		// itself as the bare proxy subcommand.
		"--bare-proxy-process=false"}, &out, &errOut)
	if err != nil {
		t.Fatalf("gatehouse-bench: %v\n%s", err, errOut.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out.String())
	}
	got := map[string]*result{}
	for _, r := range rep.Results {
		got[r.Scenario] = r
	}
	names := append([]string(nil), scenarioNames...)
	for one, spread := range spreadOf {
		names = append(names, spread)
		if _, ok := rep.Ratios[spread+"_vs_one_tenant_rps"]; !ok {
			t.Errorf("no ratio of %s to %s", spread, one)
		}
	}
	for _, name := range names {
		r := got[name]
		if r == nil {
			t.Errorf("%s: no result", name)
			continue
		}
		if r.Requests == 0 || r.Errors != 0 {
			t.Errorf("%s: %d requests, %d errors %v", name, r.Requests, r.Errors, r.ErrorSamples)
		}
	}
	if r := got["gateway-stream"]; r != nil && (r.Streams != 10 || r.Note != "" || r.GoroutinesPerStream <= 0) {
		t.Errorf("gateway-stream held %d streams (want 10); %.1f goroutines per stream; note %q", r.Streams, r.GoroutinesPerStream, r.Note)
	}
	if _, ok := rep.Ratios["gateway_vs_bare_proxy_rps"]; !ok {
		t.Errorf("no gateway/bare proxy ratio in %v", rep.Ratios)
	}
	// The bench tenant is deleted afterwards.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/tenants?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+smokeAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Items []struct {
			Slug string `json:"slug"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, it := range list.Items {
		if strings.HasPrefix(it.Slug, "bench-") {
			t.Errorf("bench tenant %s left behind", it.Slug)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--admin-token", "x", "--scenarios", "token-refresh,nope"},
		{"--scenarios", "metadata"},
		{"--admin-token", "x", "--concurrency", "0"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
	c, err := parseFlags([]string{"--admin-token", "x", "--scenarios", "gateway, metadata", "--url", "http://h:1/"}, &bytes.Buffer{})
	if err != nil || strings.Join(c.Scenarios, ",") != "gateway,metadata" || c.URL != "http://h:1" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestFormFieldsAndPercentiles(t *testing.T) {
	page := []byte(`<input type="hidden" name="request" value="r1&amp;x">` + "\n" + `<input type="hidden" name="csrf" value="c-2">`)
	if r, c, ok := formFields(page); !ok || r != "r1&x" || c != "c-2" {
		t.Fatalf("formFields = %q %q %v", r, c, ok)
	}
	if _, _, ok := formFields([]byte(`<p>no form</p>`)); ok {
		t.Fatal("a page without a form parsed")
	}
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	if p50, p90, p99, max := percentiles(lat); p50 != 50 || p90 != 90 || p99 != 99 || max != 100 {
		t.Fatalf("percentiles = %v %v %v %v", p50, p90, p99, max)
	}
}

// freePort is a free loopback port for a server under test.
var freePort = testdb.FreePort

// startGatehouse builds and starts `gatehouse serve` (embedded default) and
// returns its base URL and its operations listener's once it is ready.
func startGatehouse(t *testing.T) (base, admin string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "../gatehouse")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building gatehouse: %v\n%s", err, out)
	}
	port := freePort(t)
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	admin = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("GATEHOUSE_ADDR=127.0.0.1:%d", port),
		"GATEHOUSE_ADMIN_ADDR="+strings.TrimPrefix(admin, "http://"),
		"GATEHOUSE_PUBLIC_URL="+base,
		"GATEHOUSE_ADMIN_TOKEN="+smokeAdminToken,
		"GATEHOUSE_SQLITE_PATH="+filepath.Join(dir, "gatehouse.db"),
		"GATEHOUSE_DEMO_TENANT=false",
		"GATEHOUSE_LOG_LEVEL=warn",
		// The tool gives each request its own client address (the token
		// and authorize limits count per client IP).
		"GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32",
		"GATEHOUSE_DATABASE_URL=", "GATEHOUSE_REDIS_URL=",
	)
	logs := &testkit.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			t.Fatalf("gatehouse exited during start:\n%s", logs.String())
		default:
		}
		if resp, err := http.Get(admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, admin
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("gatehouse did not become ready:\n%s", logs.String())
	return "", ""
}
