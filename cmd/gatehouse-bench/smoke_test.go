package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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
	rep := smokeRun(t, base, "--load", "go", "--streams", "10", "--tenants", "3", "--metrics-url", admin+"/metrics")
	names := append([]string(nil), scenarioNames...)
	for one, spread := range spreadOf {
		names = append(names, spread)
		if _, ok := rep.Ratios[spread+"_vs_one_tenant_rps"]; !ok {
			t.Errorf("no ratio of %s to %s", spread, one)
		}
	}
	got := checkResults(t, rep, names, "go")
	if r := got["gateway-stream"]; r != nil && (r.Streams != 10 || r.Note != "" || r.GoroutinesPerStream <= 0) {
		t.Errorf("gateway-stream held %d streams (want 10); %.1f goroutines per stream; note %q", r.Streams, r.GoroutinesPerStream, r.Note)
	}
	if _, ok := rep.Ratios["gateway_vs_bare_proxy_rps"]; !ok {
		t.Errorf("no gateway/bare proxy ratio in %v", rep.Ratios)
	}
	// --load wrk: the one-request scenarios through a stand-in wrk (it
	// checks the script it is given and prints figures as done() does),
	// so the plumbing is tested wherever wrk is not installed; and through
	// the real wrk when it is.
	wrkScenarios := "metadata,token-client-credentials,introspect,gateway-direct,gateway-bare-proxy,gateway,token-refresh"
	wrkNames := strings.Split(wrkScenarios, ",")
	wrkLoad := func(name string) string {
		if name == "token-refresh" {
			return "go" // its requests depend on the answers
		}
		return "wrk"
	}
	rep = smokeRun(t, base, "--load", "wrk", "--wrk", fakeWrk(t), "--scenarios", wrkScenarios)
	got = checkResults(t, rep, wrkNames, "")
	for _, name := range wrkNames {
		if r := got[name]; r != nil && (r.Load != wrkLoad(name) || (r.Load == "wrk" && (r.Requests != 2*fakeWrkRequests || r.P99 != 9.5))) {
			t.Errorf("%s under the stand-in wrk: %+v", name, r)
		}
	}
	if real, err := exec.LookPath("wrk"); err == nil {
		rep = smokeRun(t, base, "--load", "wrk", "--wrk", real, "--scenarios", wrkScenarios)
		checkResults(t, rep, wrkNames, "")
	} else {
		t.Log("wrk is not installed: --load wrk was run with the stand-in only")
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

// smokeRun runs the tool briefly against base with args added and returns
// its --json report.
func smokeRun(t *testing.T, base string, args ...string) *report {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := run(ctx, append([]string{"--url", base, "--admin-token", smokeAdminToken, "--concurrency", "2", "--duration", "2s",
		"--warmup", "0", "--rounds", "2", "--json",
		// run() is called inside the test binary, which cannot re-execute
		// itself as the bare proxy subcommand.
		"--bare-proxy-process=false"}, args...), &out, &errOut)
	if err != nil {
		t.Fatalf("gatehouse-bench %v: %v\n%s", args, err, errOut.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out.String())
	}
	return &rep
}

// checkResults wants a result for every name, each with requests and no
// error (and measured by load, when given); it returns them by name.
func checkResults(t *testing.T, rep *report, names []string, load string) map[string]*result {
	t.Helper()
	got := map[string]*result{}
	for _, r := range rep.Results {
		got[r.Scenario] = r
	}
	for _, name := range names {
		r := got[name]
		if r == nil {
			t.Errorf("%s: no result", name)
			continue
		}
		if r.Requests == 0 || r.Errors != 0 || (load != "" && r.Load != load && name != "gateway-stream") {
			t.Errorf("%s: %d requests, %d errors %v, load %q", name, r.Requests, r.Errors, r.ErrorSamples, r.Load)
		}
	}
	return got
}

// fakeWrkRequests is what the stand-in wrk reports per run.
const fakeWrkRequests = 100

// fakeWrk writes a stand-in for wrk: it fails unless given -s with a script
// that has done(), and prints done()'s line.
func fakeWrk(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "wrk")
	sh := `#!/bin/sh
while [ $# -gt 0 ]; do
  if [ "$1" = -s ]; then grep -q 'function done' "$2" || exit 3; script=$2; fi
  shift
done
[ -n "$script" ] || exit 2
echo 'Running 2s test'
echo '` + wrkMarker + `{"requests":` + fmt.Sprint(fakeWrkRequests) + `,"duration_us":1000000,"connect":0,"read":0,"write":0,"status":0,"timeout":0,"p50_us":1500,"p90_us":4000,"p99_us":9500,"max_us":12000}'
`
	if err := os.WriteFile(path, []byte(sh), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
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

// The wrk side without wrk: the script carries each request, the figures
// line is found in wrk's output, and rounds merge.
func TestWrkScriptAndFigures(t *testing.T) {
	p := &wrkPlan{spreadIPs: true, reqs: []wrkRequest{
		form("http://127.0.0.1:1/t/a/oauth/token", url.Values{"grant_type": {"client_credentials"}}, ""),
		form("http://127.0.0.1:1/t/a/oauth/introspect?x=1", url.Values{"token": {"a.b.c"}}, "key"),
	}}
	base, lua, err := p.script()
	if err != nil || base != "http://127.0.0.1:1" {
		t.Fatalf("script: %q %v", base, err)
	}
	for _, want := range []string{`{"POST", [==[/t/a/oauth/token]==], {["Content-Type"]=[==[application/x-www-form-urlencoded]==]}, [==[grant_type=client_credentials]==]}`,
		`[==[/t/a/oauth/introspect?x=1]==], {["Authorization"]=[==[Bearer key]==]`, "local spread = true", `"X-Forwarded-For"`, wrkMarker} {
		if !strings.Contains(lua, want) {
			t.Errorf("script lacks %s:\n%s", want, lua)
		}
	}
	p.reqs = append(p.reqs, mcpRequest("http://127.0.0.2:1/mcp", ""))
	if _, _, err := p.script(); err == nil {
		t.Error("a plan over two hosts was accepted")
	}
	if _, err := luaString("x]==]y"); err == nil {
		t.Error("a string that closes the long bracket was quoted")
	}
	out := []byte("Running 8s test @ http://127.0.0.1:1\n" + wrkMarker + `{"requests":300,"duration_us":2000000,"connect":1,"read":0,"write":0,"status":2,"timeout":0,"p50_us":1000,"p90_us":2000,"p99_us":4000,"max_us":9000}` + "\nRequests/sec: 150\n")
	f, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseWrk([]byte("wrk: unknown option\n")); err == nil {
		t.Error("output without figures parsed")
	}
	g := &wrkFigures{Requests: 100, DurationUS: 1000000, P50US: 3000, P90US: 4000, P99US: 8000, MaxUS: 20000}
	r := summarizeWrk("introspect", 32, []*wrkFigures{f, g})
	if r.Requests != 400 || r.Seconds != 3 || r.RPS < 133.3 || r.RPS > 133.4 || r.Errors != 3 || r.P50 != 1.5 || r.P99 != 5 || r.Max != 20 || r.Load != "wrk" || len(r.ErrorSamples) != 1 {
		t.Fatalf("merged rounds: %+v", r)
	}
	if wrkSeconds(200*time.Millisecond) != "1s" || wrkSeconds(2500*time.Millisecond) != "3s" {
		t.Error("wrk durations are whole seconds, at least one")
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
