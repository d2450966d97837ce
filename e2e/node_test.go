package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needNode returns the node binary, or fails (CI) / skips (elsewhere) with
// how to install the e2e Node packages. A skip is never counted as a pass.
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		if _, err = os.Stat(filepath.Join(e2eDir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err == nil {
			return node
		}
	}
	missing(t, "node or e2e/node_modules missing (run scripts/e2e-deps.sh): "+err.Error())
	return ""
}

// needChromium is needNodePackage for playwright-core plus Debian's
// headless Chromium, which it drives.
func needChromium(t *testing.T) {
	t.Helper()
	needNodePackage(t, "playwright-core")
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		missing(t, "Debian's chromium is not installed (run scripts/e2e-deps.sh): "+err.Error())
	}
}

// missing fails the test in CI, where scripts/e2e-deps.sh installed every
// tool, and skips it elsewhere with what is missing and how to get it.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// runNode runs a script in e2e/ with the Node 20 shim preloaded and returns
// its stdout; stderr is logged on failure.
func runNode(t *testing.T, timeout time.Duration, args ...string) ([]byte, error) {
	t.Helper()
	node := needNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--import", "./ts/node20-shim.mjs", "--import", "./ts/localhost-dns.mjs"}, args...)...)
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "NODE_EXTRA_CA_CERTS="+ca.file)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		t.Logf("node %s stderr:\n%s", strings.Join(args, " "), tail(errb.String(), 3000))
	}
	return out.Bytes(), err
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

type tsTrace struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Host   string `json:"host"`
	Status int    `json:"status"`
	RPC    string `json:"rpc"`
	Auth   bool   `json:"auth"`
}

type tsResult struct {
	OK                      bool      `json:"ok"`
	Error                   string    `json:"error"`
	Body                    string    `json:"body"`
	ClientID                string    `json:"clientId"`
	TokenEndpointAuthMethod string    `json:"tokenEndpointAuthMethod"`
	AuthURL                 string    `json:"authUrl"`
	Iss                     string    `json:"iss"`
	Tools                   []string  `json:"tools"`
	Echo                    string    `json:"echo"`
	EchoAfterRefresh        string    `json:"echoAfterRefresh"`
	RefreshTokenRotated     bool      `json:"refreshTokenRotated"`
	Trace                   []tsTrace `json:"trace"`
}

// runTSFlow runs e2e/ts/flow.mjs (the official TypeScript SDK client)
// against a connector URL.
func runTSFlow(t *testing.T, resource, ua string) tsResult {
	t.Helper()
	arg, _ := json.Marshal(map[string]string{"url": resource, "userAgent": ua})
	out, err := runNode(t, 90*time.Second, "ts/flow.mjs", string(arg))
	var r tsResult
	if jerr := json.Unmarshal(bytes.TrimSpace(lastLine(out)), &r); jerr != nil {
		t.Fatalf("flow.mjs output is not JSON (%v, exit %v): %s", jerr, err, out)
	}
	if err != nil || !r.OK {
		t.Fatalf("TypeScript SDK flow failed: %s %s\ntrace: %+v", r.Error, r.Body, r.Trace)
	}
	return r
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}
