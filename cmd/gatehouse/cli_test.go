package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// binPath is the gatehouse binary, built once for the tests that run it as
// an operator would.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gatehouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBin runs the binary in dir with only env (plus PATH and HOME).
func runBin(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// --help and -h answer with usage, exit 0, and create no file (no
// gatehouse.db, no gatehouse.key), even with a broken configuration.
func TestHelpExitsZeroAndCreatesNoFiles(t *testing.T) {
	cases := [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"serve", "--help"}, {"serve", "-h"}, {"serve", "--addr", ":1", "-h"},
		{"worker", "--help"}, {"migrate", "-h"}, {"migrate", "up", "--help"},
		{"tenant", "--help"}, {"tenant", "-h"}, {"tenant", "create", "--help"}, {"tenant", "create", "-h"},
		{"tenant", "set-idp", "--help"}, {"tenant", "list", "-h"}, {"tenant", "get", "--help"},
		{"admin-token", "--help"}, {"admin-token", "rotate", "-h"}, {"secrets", "--help"}, {"secrets", "reseal", "-h"},
		{"healthcheck", "--help"},
	}
	for _, env := range [][]string{nil, {"GATEHOUSE_ADDR=nonsense", "GATEHOUSE_DB_MAX_OPEN_CONNS=x"}} {
		for _, args := range cases {
			dir := t.TempDir()
			out, errOut, code := runBin(t, dir, env, args...)
			if code != 0 {
				t.Errorf("%v (env %v): exit %d; stderr %s", args, env, code, errOut)
			}
			if !strings.Contains(strings.ToLower(out), "usage") {
				t.Errorf("%v: no usage on stdout: %q", args, out)
			}
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Errorf("%v created files: %v", args, names)
			}
		}
	}
	// An unknown subcommand or flag is still an error.
	if _, _, code := runBin(t, t.TempDir(), nil, "frobnicate"); code == 0 {
		t.Error("unknown subcommand exited 0")
	}
	if _, _, code := runBin(t, t.TempDir(), nil, "tenant", "create", "--nope"); code == 0 {
		t.Error("unknown flag exited 0")
	}
}

// A bad value stops the binary with a line naming the variable and what it
// must be; no Go field name and no secret value leaks, and nothing is created.
func TestBadValuesNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	env := []string{"GATEHOUSE_ALLOW_DEV_IDP=maybe", "GATEHOUSE_DB_MAX_OPEN_CONNS=ten", "GATEHOUSE_DB_CONN_MAX_LIFETIME=forever",
		"GATEHOUSE_MIGRATE=sometimes", "GATEHOUSE_ADMIN_ADDR=9090", "GATEHOUSE_TRUSTED_PROXIES=10.0.0.0/33"}
	_, errOut, code := runBin(t, dir, env, "serve")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"GATEHOUSE_ALLOW_DEV_IDP", "GATEHOUSE_DB_MAX_OPEN_CONNS", "GATEHOUSE_DB_CONN_MAX_LIFETIME", "a boolean", "a whole number", "a duration"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not mention %q: %s", want, errOut)
		}
	}
	for _, leak := range []string{"AllowDevIdP", "DBMaxOpenConns", "field", "strconv"} {
		if strings.Contains(errOut, leak) {
			t.Errorf("stderr names Go internals %q: %s", leak, errOut)
		}
	}
	// Values env could parse are then validated, each named.
	env = []string{"GATEHOUSE_MIGRATE=sometimes", "GATEHOUSE_ADMIN_ADDR=9090", "GATEHOUSE_TRUSTED_PROXIES=10.0.0.0/33", "GATEHOUSE_DB_MAX_IDLE_CONNS=-1"}
	_, errOut, code = runBin(t, dir, env, "serve")
	for _, want := range []string{"GATEHOUSE_MIGRATE", "GATEHOUSE_ADMIN_ADDR", "GATEHOUSE_TRUSTED_PROXIES", "GATEHOUSE_DB_MAX_IDLE_CONNS"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d; stderr does not mention %q: %s", code, want, errOut)
		}
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("a refused start created files: %v", names)
	}
}

type proc struct {
	cmd  *exec.Cmd
	out  *testkit.Buffer
	done chan struct{}
}

// startServe runs `gatehouse serve` with args and env and waits for the
// admin listener's /readyz.
func startServe(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GATEHOUSE_DEMO_TENANT=false", "GATEHOUSE_LOG_FORMAT=json"}, env...)
	p := &proc{cmd: cmd, out: &testkit.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop() })
	return p
}

// serveReady runs `gatehouse serve` in a new directory with the test admin
// token, both listeners on free ports and env added, and waits until it is
// ready; base is the public listener's URL, admin the operations one's.
func serveReady(t *testing.T, env ...string) (p *proc, base, admin string) {
	t.Helper()
	port, adminPort := testdb.FreePort(t), testdb.FreePort(t)
	base, admin = fmt.Sprintf("http://127.0.0.1:%d", port), fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	env = append([]string{"GATEHOUSE_ADMIN_TOKEN=" + testAdminToken, fmt.Sprintf("GATEHOUSE_ADDR=127.0.0.1:%d", port),
		fmt.Sprintf("GATEHOUSE_ADMIN_ADDR=127.0.0.1:%d", adminPort)}, env...)
	p = startServe(t, t.TempDir(), env)
	p.waitReady(t, admin)
	return p, base, admin
}

func (p *proc) waitReady(t *testing.T, admin string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("serve exited:\n%s", p.output())
		default:
		}
		if resp, err := http.Get(admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not ready:\n%s", p.output())
}

func (p *proc) stop() {
	if p.cmd.Process == nil {
		return
	}
	testkit.StopProcess(p.cmd.Process, p.done, 30*time.Second)
}

func (p *proc) output() string { return p.out.String() }

func apiCall(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

const testAdminToken = "gha_cli-test-admin-token-0123456789"

// `serve --addr` derives the public URL exactly as GATEHOUSE_ADDR does
// (it used to keep advertising localhost:8080); the operations endpoints
// are on the admin listener only.
func TestServeAddrDerivesPublicURL(t *testing.T) {
	resources := map[string]string{}
	for _, mode := range []string{"flag", "env"} {
		port, adminPort := testdb.FreePort(t), testdb.FreePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		env := []string{"GATEHOUSE_ADMIN_TOKEN=" + testAdminToken}
		var args []string
		if mode == "flag" {
			args = []string{"--addr", addr, "--admin-addr", fmt.Sprintf("127.0.0.1:%d", adminPort)}
		} else {
			env = append(env, "GATEHOUSE_ADDR="+addr, fmt.Sprintf("GATEHOUSE_ADMIN_ADDR=127.0.0.1:%d", adminPort))
		}
		dir := t.TempDir()
		p := startServe(t, dir, env, args...)
		admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
		p.waitReady(t, admin)
		base := "http://" + addr
		code, body := apiCall(t, "POST", base+"/api/v1/tenants", testAdminToken, `{"slug":"acme","name":"Acme","upstream_mcp_url":"https://mcp.acme.example/mcp"}`)
		if code != 201 {
			t.Fatalf("%s: create tenant: %d %v", mode, code, body)
		}
		want := base + "/t/acme/mcp"
		if body["resource"] != want {
			t.Errorf("%s: resource %v, want %s", mode, body["resource"], want)
		}
		resources[mode] = fmt.Sprint(body["resource"])
		// Operations: liveness public, the rest on the admin port only.
		for path, wantCode := range map[string]int{base + "/healthz": 200, base + "/metrics": 404, base + "/readyz": 404,
			admin + "/metrics": 200, admin + "/healthz": 200, admin + "/readyz": 200} {
			resp, err := http.Get(path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != wantCode {
				t.Errorf("%s: %d, want %d", path, resp.StatusCode, wantCode)
			}
			if path == admin+"/metrics" && (!strings.Contains(string(b), "gatehouse_http_requests_total") || !strings.Contains(string(b), `go_sql_max_open_connections{db_name="gatehouse"}`)) {
				t.Errorf("admin /metrics lacks the HTTP or database pool metrics")
			}
			if path == admin+"/readyz" && !strings.Contains(string(b), `"status":"ready"`) {
				t.Errorf("admin /readyz: %s", b)
			}
		}
		// The container healthcheck asks the same listener.
		hcEnv := []string{fmt.Sprintf("GATEHOUSE_ADMIN_ADDR=0.0.0.0:%d", adminPort)}
		if _, errOut, code := runBin(t, t.TempDir(), hcEnv, "healthcheck"); code != 0 {
			t.Errorf("healthcheck against a ready server: %d %s", code, errOut)
		}
		p.stop()
		if _, _, code := runBin(t, t.TempDir(), hcEnv, "healthcheck"); code != 1 {
			t.Errorf("healthcheck against a stopped server: exit %d", code)
		}
	}
}

// The generated admin token is printed only to a terminal, never into the
// (JSON) logs; `admin-token rotate` refuses to print it anywhere else,
// writes it to a 0600 file with --out, and the new token works.
func TestAdminTokenNeverInLogsAndRotate(t *testing.T) {
	dir := t.TempDir()
	port, adminPort := testdb.FreePort(t), testdb.FreePort(t)
	env := []string{fmt.Sprintf("GATEHOUSE_ADDR=127.0.0.1:%d", port), fmt.Sprintf("GATEHOUSE_ADMIN_ADDR=127.0.0.1:%d", adminPort)}
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	p := startServe(t, dir, env)
	p.waitReady(t, admin)
	p.stop()
	out := p.output()
	if regexp.MustCompile(`gha_[A-Za-z0-9_-]{20,}`).MatchString(out) {
		t.Fatalf("the admin token reached a non-terminal output:\n%s", out)
	}
	if !strings.Contains(out, "admin-token rotate") {
		t.Errorf("the log does not say how to get a token:\n%s", out)
	}

	_, errOut, code := runBin(t, dir, nil, "admin-token", "rotate")
	if code != 1 || !strings.Contains(errOut, "not a terminal") {
		t.Fatalf("rotate to a pipe: exit %d: %s", code, errOut)
	}
	tokenFile := filepath.Join(dir, "admin.token")
	stdout, errOut, code := runBin(t, dir, nil, "admin-token", "rotate", "--out", tokenFile)
	if code != 0 {
		t.Fatalf("rotate --out: %d %s", code, errOut)
	}
	if strings.Contains(stdout+errOut, "gha_") {
		t.Errorf("rotate --out printed the token: %s %s", stdout, errOut)
	}
	fi, err := os.Stat(tokenFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(tokenFile)
	token := strings.TrimSpace(string(b))
	if !strings.HasPrefix(token, "gha_") {
		t.Fatalf("token file: %q", b)
	}
	if _, _, code := runBin(t, dir, nil, "admin-token", "rotate", "--out", tokenFile); code == 0 {
		t.Error("rotate overwrote an existing token file")
	}
	if _, errOut, code := runBin(t, dir, []string{"GATEHOUSE_ADMIN_TOKEN=" + testAdminToken}, "admin-token", "rotate", "--out", filepath.Join(dir, "x")); code == 0 || !strings.Contains(errOut, "GATEHOUSE_ADMIN_TOKEN") {
		t.Errorf("rotate with GATEHOUSE_ADMIN_TOKEN set: %d %s", code, errOut)
	}

	p = startServe(t, dir, env)
	p.waitReady(t, admin)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if code, _ := apiCall(t, "GET", base+"/api/v1/tenants", token, ""); code != 200 {
		t.Errorf("the rotated token: %d", code)
	}
	if code, _ := apiCall(t, "GET", base+"/api/v1/tenants", "gha_"+strings.Repeat("x", 43), ""); code != 401 {
		t.Errorf("a wrong token: %d", code)
	}
}

// GATEHOUSE_MIGRATE=off never changes the schema and refuses to run on one
// that is behind; after `gatehouse migrate up` it runs.
func TestMigrateOff(t *testing.T) {
	dir := t.TempDir()
	env := []string{"GATEHOUSE_MIGRATE=off"}
	_, errOut, code := runBin(t, dir, env, "tenant", "list")
	if code != 1 || !strings.Contains(errOut, "gatehouse migrate up") {
		t.Fatalf("off on an empty database: %d %s", code, errOut)
	}
	if out, errOut, code := runBin(t, dir, env, "migrate", "up"); code != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("migrate up: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := runBin(t, dir, env, "tenant", "list"); code != 0 {
		t.Fatalf("off after migrate up: %d %s", code, errOut)
	}
}

// `tenant create` prints a summary, or the tenant as JSON with --json; IdP
// client secrets come from stdin or a file, are sealed, and never printed.
func TestTenantCreateJSONAndIdPSecret(t *testing.T) {
	dir := t.TempDir()
	env := []string{"GATEHOUSE_PUBLIC_URL=https://connect.example.com"}
	out, errOut, code := runBin(t, dir, env, "tenant", "create", "--slug", "plain", "--upstream", "https://mcp.example.com/mcp")
	if code != 0 || !strings.Contains(out, "connector URL: https://connect.example.com/t/plain/mcp") || strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Fatalf("summary: %d %q %s", code, out, errOut)
	}
	out, errOut, code = runBin(t, dir, env, "tenant", "create", "--slug", "jsn", "--upstream", "https://mcp.example.com/mcp", "--json")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["resource"] != "https://connect.example.com/t/jsn/mcp" {
		t.Fatalf("--json: %d %q %s", code, out, errOut)
	}

	const secret = "gh-oauth-app-secret-0123456789"
	cmd := exec.Command(binPath, "tenant", "create", "--slug", "ghub", "--upstream", "https://mcp.example.com/mcp",
		"--idp", "github", "--idp-client-id", "Iv1.abc", "--idp-client-secret-file", "-", "--idp-allowed-orgs", "acme")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	cmd.Stdin = strings.NewReader(secret + "\n")
	b, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(b), secret) {
		t.Fatalf("create with a secret from stdin: %v %s", err, b)
	}
	secretFile := filepath.Join(dir, "idp.secret")
	if err := os.WriteFile(secretFile, []byte("rotated-"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runBin(t, dir, env, "tenant", "set-idp", "ghub", "--idp", "github", "--idp-client-id", "Iv1.abc", "--idp-client-secret-file", secretFile)
	if code != 0 || strings.Contains(out+errOut, secret) {
		t.Fatalf("set-idp: %d %s %s", code, out, errOut)
	}
	// A GitHub IdP without any secret is refused, naming the field.
	_, errOut, code = runBin(t, dir, env, "tenant", "set-idp", "plain", "--idp", "github", "--idp-client-id", "x")
	if code != 1 || !strings.Contains(errOut, "client_secret") {
		t.Errorf("github without a secret: %d %s", code, errOut)
	}

	// The stored secret is the file's, sealed.
	cfg := &Config{SQLitePath: filepath.Join(dir, "gatehouse.db"), PublicURL: "https://connect.example.com"}
	te, err := openCLIEnv(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer te.store.Close()
	tn, err := te.get("ghub")
	if err != nil {
		t.Fatal(err)
	}
	idp, err := te.store.GetIdP(context.Background(), tn.ID, tenants.IdPGitHub)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(idp.ClientSecretSealed, secret) {
		t.Fatal("the secret is stored in the clear")
	}
	got, err := te.prov.Sealer.Open(idp.ClientSecretSealed, tenants.IdPSecretContext(tn.ID, tenants.IdPGitHub))
	if err != nil || got != "rotated-"+secret {
		t.Fatalf("stored secret %q %v", got, err)
	}
	if len(idp.AllowedOrgs) != 0 {
		// set-idp replaces the IdP with what was given.
		t.Errorf("allowed orgs kept from create: %v", idp.AllowedOrgs)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The tenant label stays bounded: a deleted tenant's series leave /metrics
// (bus notice), and GATEHOUSE_METRICS_TENANT_LABEL=false drops the label.
func TestTenantMetricSeriesBounded(t *testing.T) {
	for _, keep := range []bool{true, false} {
		p, base, admin := serveReady(t, fmt.Sprintf("GATEHOUSE_METRICS_TENANT_LABEL=%v", keep))
		for _, slug := range []string{"keepme", "dropme"} {
			if code, body := apiCall(t, "POST", base+"/api/v1/tenants", testAdminToken, `{"slug":"`+slug+`","name":"x","upstream_mcp_url":"https://mcp.example.com/mcp"}`); code != 201 {
				t.Fatalf("create %s: %d %v", slug, code, body)
			}
			resp, err := http.Post(base+"/t/"+slug+"/mcp", "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		m := scrape(t, admin)
		if !strings.Contains(m, "gatehouse_mcp_requests_total") {
			t.Fatalf("no gateway metrics:\n%s", m)
		}
		if !keep {
			if strings.Contains(m, `tenant="`) || !strings.Contains(m, `gatehouse_mcp_requests_total{outcome="denied",reason="no_header"} 2`) {
				t.Errorf("tenant label not dropped / not summed:\n%s", m)
			}
			p.stop()
			continue
		}
		if !strings.Contains(m, `tenant="dropme"`) || !strings.Contains(m, `tenant="keepme"`) {
			t.Fatalf("per-tenant series missing:\n%s", m)
		}
		if code, _ := apiCall(t, "DELETE", base+"/api/v1/tenants/dropme", testAdminToken, ""); code != 204 {
			t.Fatalf("delete: %d", code)
		}
		deadline := time.Now().Add(15 * time.Second)
		for strings.Contains(scrape(t, admin), `tenant="dropme"`) {
			if time.Now().After(deadline) {
				t.Fatal("the deleted tenant's series are still served")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(scrape(t, admin), `tenant="keepme"`) {
			t.Error("a live tenant's series went too")
		}
		p.stop()
	}
}

func b64key(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// Key rotation end to end: secrets sealed under OLD are re-sealed under NEW
// by `secrets reseal`, after which NEW alone opens them and OLD alone does
// not; a serve that runs workers re-seals by itself after the next change.
func TestSecretsReseal(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey, newer := b64key(t), b64key(t), b64key(t)
	withKeys := func(ks ...string) []string { return []string{"GATEHOUSE_SECRET_KEY=" + strings.Join(ks, ",")} }
	cmd := exec.Command(binPath, "tenant", "create", "--slug", "rotating", "--upstream", "https://mcp.example.com/mcp",
		"--idp", "github", "--idp-client-id", "Iv1.x", "--idp-client-secret-file", "-")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, withKeys(oldKey)...)
	cmd.Stdin = strings.NewReader("the-idp-secret")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create: %v %s", err, b)
	}
	report := func(out string) map[string]map[string]any {
		var reps []map[string]any
		if err := json.Unmarshal([]byte(out), &reps); err != nil {
			t.Fatalf("report %q: %v", out, err)
		}
		m := map[string]map[string]any{}
		for _, r := range reps {
			m[r["kind"].(string)] = r
		}
		return m
	}
	out, errOut, code := runBin(t, dir, withKeys(newKey, oldKey), "secrets", "reseal", "--dry-run", "--json")
	if code != 0 || report(out)["idp client secrets"]["old"] != 1.0 {
		t.Fatalf("dry run: %d %s %s", code, out, errOut)
	}
	if out, errOut, code := runBin(t, dir, withKeys(newKey, oldKey), "secrets", "reseal"); code != 0 || !strings.Contains(out, "re-sealed") {
		t.Fatalf("reseal: %d %s %s", code, out, errOut)
	}
	out, _, code = runBin(t, dir, withKeys(newKey), "secrets", "reseal", "--dry-run", "--json")
	for kind, r := range report(out) {
		if code != 0 || r["old"] != 0.0 || r["failed"] != 0.0 {
			t.Errorf("NEW alone, %s: %v (exit %d)", kind, r, code)
		}
	}
	if _, errOut, code := runBin(t, dir, withKeys(oldKey), "secrets", "reseal", "--dry-run"); code != 1 || !strings.Contains(errOut, "cannot be opened") {
		t.Errorf("OLD alone must not open the re-sealed values: %d %s", code, errOut)
	}
	cfg := &Config{SQLitePath: filepath.Join(dir, "gatehouse.db"), PublicURL: "http://localhost:8080", SecretKeys: []string{newKey}}
	te, err := openCLIEnv(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := te.get("rotating")
	idp, _ := te.store.GetIdP(context.Background(), tn.ID, tenants.IdPGitHub)
	if v, err := te.prov.Sealer.Open(idp.ClientSecretSealed, tenants.IdPSecretContext(tn.ID, tenants.IdPGitHub)); err != nil || v != "the-idp-secret" {
		t.Errorf("the IdP secret under NEW: %q %v", v, err)
	}
	te.store.Close()

	// Next rotation, no command: serve (workers in-process) re-seals.
	adminPort := testdb.FreePort(t)
	env := append(withKeys(newer, newKey), fmt.Sprintf("GATEHOUSE_ADDR=127.0.0.1:%d", testdb.FreePort(t)),
		fmt.Sprintf("GATEHOUSE_ADMIN_ADDR=127.0.0.1:%d", adminPort), "GATEHOUSE_ADMIN_TOKEN="+testAdminToken)
	p := startServe(t, dir, env)
	p.waitReady(t, fmt.Sprintf("http://127.0.0.1:%d", adminPort))
	waitFor(t, "the automatic re-seal", 20*time.Second, func() bool { return strings.Contains(p.output(), "re-sealed values under the current key") })
	p.stop()
	out, _, code = runBin(t, dir, withKeys(newer), "secrets", "reseal", "--dry-run", "--json")
	for kind, r := range report(out) {
		if code != 0 || r["old"] != 0.0 {
			t.Errorf("after the automatic re-seal, %s: %v", kind, r)
		}
	}
}
