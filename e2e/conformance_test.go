package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// conformanceCheck is one entry of the suite's checks.json.
type conformanceCheck struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Status       string `json:"status"`
	ErrorMessage string `json:"errorMessage"`
}

var totalLine = regexp.MustCompile(`Total: (\d+) passed, (\d+) failed`)

// The MCP conformance suite's authorization-server checks
// (@modelcontextprotocol/conformance@0.2.0-alpha.12, pinned in package.json)
// against one tenant in each URL mode, with a public pre-registered client
// and the issuer exactly as --url (docs/RULES.md §10). The suite prints an
// authorization URL and waits for it to be visited: the test visits it.
func TestConformanceSuiteAuthorization(t *testing.T) {
	needNode(t)
	inEachMode(t, func(t *testing.T, s *server, mode string) {
		tn := newTenant(t, s, "conf", nil)
		site := tn.urls(mode)
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", port)
		st, m := s.api(t, http.MethodPost, "/api/v1/tenants/"+tn.slug+"/clients", map[string]any{
			"client_id": "conformance-client", "client_name": "MCP conformance suite", "redirect_uris": []string{redirect},
			"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
		})
		if st != http.StatusCreated {
			t.Fatalf("pre-register client: %d %v", st, m)
		}
		outDir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", "--import", "./ts/node20-shim.mjs", "--import", "./ts/localhost-dns.mjs", "node_modules/@modelcontextprotocol/conformance/dist/index.js",
			"authorization", "--url", site.Issuer, "--client-id", "conformance-client", "--resource", site.Resource,
			"-p", fmt.Sprint(port), "-o", outDir)
		cmd.Dir = e2eDir
		cmd.Env = append(os.Environ(), "NO_COLOR=1", "NODE_EXTRA_CA_CERTS="+ca.file)
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		visited := false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if !visited && strings.HasPrefix(line, site.Issuer+"/oauth/authorize?") {
				visited = true
				go func(u string) {
					// The suite's callback server starts right after it prints the URL.
					time.Sleep(300 * time.Millisecond)
					f := &flow{t: t, redirectURI: redirect}
					q := f.follow(u)
					resp, err := httpClient().Get(redirect + "?" + q.Encode())
					if err != nil {
						t.Errorf("deliver the callback: %v", err)
						return
					}
					resp.Body.Close()
				}(line)
			}
		}
		err = cmd.Wait()
		t.Logf("conformance output:\n%s", out.String())
		if err != nil {
			t.Fatalf("conformance suite exited with %v", err)
		}
		if !visited {
			t.Fatalf("the suite never printed an authorization URL under %s", site.Issuer)
		}
		mt := totalLine.FindStringSubmatch(out.String())
		if mt == nil || mt[2] != "0" || mt[1] == "0" {
			t.Fatalf("summary: %v", mt)
		}
		// Every check passed; warnings are listed (and reported).
		files, _ := filepath.Glob(filepath.Join(outDir, "*", "checks.json"))
		if len(files) != 2 {
			t.Fatalf("expected 2 scenario results, got %v", files)
		}
		n := 0
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var checks []conformanceCheck
			if err := json.Unmarshal(b, &checks); err != nil {
				t.Fatal(err)
			}
			for _, c := range checks {
				n++
				switch c.Status {
				case "SUCCESS", "INFO":
					t.Logf("check %s: %s", c.ID, c.Status)
				case "WARNING":
					t.Logf("WARNING check %s: %s", c.ID, c.ErrorMessage)
				default:
					t.Errorf("check %s: %s %s", c.ID, c.Status, c.ErrorMessage)
				}
			}
		}
		if n == 0 {
			t.Fatal("no checks ran")
		}
	})
}
