package provision_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/workers"
)

// buildCLI builds cmd/gatehouse into dir.
func buildCLI(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", err, b)
	}
	return bin
}

// cliEnv is the process environment for the CLI: nothing GATEHOUSE_* from
// the caller, plus vars.
func cliEnv(vars map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// docs/RULES.md §9 / issue 2: a tenant created over the API shows up through the
// `gatehouse tenant` CLI and vice versa, on SQLite and on Postgres.
func TestAPIAndCLISeeTheSameTenants(t *testing.T) {
	bin := buildCLI(t, t.TempDir())
	testkit.Backends(t, func(t *testing.T, dsnOf func(t *testing.T) string) {
		backend, dsn := path.Base(t.Name()), dsnOf(t)
		vars := map[string]string{"GATEHOUSE_SECRET_KEY": secretKey, "GATEHOUSE_PUBLIC_URL": publicURL, "GATEHOUSE_LOG_LEVEL": "error"}
		if backend == "postgres" {
			addr, db := testdb.Redis(t)
			vars["GATEHOUSE_DATABASE_URL"] = dsn
			vars["GATEHOUSE_REDIS_URL"] = fmt.Sprintf("redis://%s/%d", addr, db)
			vars["GATEHOUSE_ALLOW_DEV_IDP"] = "true"
		} else {
			vars["GATEHOUSE_SQLITE_PATH"] = dsn
		}
		e := newEnv(t, dsn, nil)
		cli := func(args ...string) (string, error) {
			cmd := exec.Command(bin, append([]string{"tenant"}, args...)...)
			cmd.Env = cliEnv(vars)
			cmd.Dir = t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if err != nil {
				return stdout.String() + stderr.String(), err
			}
			return stdout.String(), nil
		}
		asMap := func(s string) map[string]any {
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, s)
			}
			return m
		}

		// API → CLI.
		e.mkTenant("api-made", map[string]any{"name": "API Made", "settings": map[string]any{"access_token_ttl": 600, "upstream_headers": map[string]string{"X-K": "hidden-value"}}})
		apiView := e.admin("GET", "/api/v1/tenants/api-made", nil).json(t)
		out, err := cli("get", "api-made")
		if err != nil {
			t.Fatalf("cli get: %v\n%s", err, out)
		}
		if cliView := asMap(out); !reflect.DeepEqual(cliView, apiView) {
			t.Fatalf("CLI and API disagree:\nCLI %v\nAPI %v", cliView, apiView)
		}
		if strings.Contains(out, "hidden-value") {
			t.Fatal("CLI shows a write-only secret")
		}
		out, err = cli("list")
		if err != nil || !strings.Contains(out, "api-made") || !strings.Contains(out, publicURL+"/t/api-made/mcp") {
			t.Fatalf("cli list: %v\n%s", err, out)
		}

		// CLI → API.
		out, err = cli("create", "--json", "--slug", "cli-made", "--name", "CLI Made", "--upstream", "https://upstream.example.com/mcp")
		if err != nil {
			t.Fatalf("cli create: %v\n%s", err, out)
		}
		created := asMap(out)
		got := e.admin("GET", "/api/v1/tenants/cli-made", nil).json(t)
		for _, k := range []string{"id", "slug", "name", "upstream_mcp_url", "issuer", "resource", "path_mode"} {
			if !reflect.DeepEqual(got[k], created[k]) {
				t.Fatalf("%s: API %v, CLI %v", k, got[k], created[k])
			}
		}
		if m := e.admin("GET", "/api/v1/tenants/cli-made/idp", nil).json(t); m["type"] != "dev" {
			t.Fatalf("CLI tenant's IdP over the API: %v", m)
		}
		list := e.admin("GET", "/api/v1/tenants", nil).json(t)["items"].([]any)
		if len(list) != 2 {
			t.Fatalf("API list: %v", list)
		}
		// The same validation and conflicts on both paths.
		if out, err := cli("create", "--slug", "api", "--upstream", "https://u.example/mcp"); err == nil || !strings.Contains(out, "reserved") {
			t.Fatalf("CLI accepted a reserved slug: %v %s", err, out)
		}
		if out, err := cli("create", "--slug", "api-made", "--upstream", "https://u.example/mcp"); err == nil || !strings.Contains(out, "already taken") {
			t.Fatalf("CLI duplicate slug: %v %s", err, out)
		}
		fieldErr(t, e.admin("POST", "/api/v1/tenants", map[string]any{"slug": "cli-made", "upstream_mcp_url": "https://u.example/mcp"}).problem(t, 409), "slug", "taken")

		// Deletes cross over too, and a CLI change reaches running
		// replicas over the bus like an API change (issue 10).
		var notices <-chan *redis.Message
		if url := vars["GATEHOUSE_REDIS_URL"]; url != "" {
			opt, _ := redis.ParseURL(url)
			rdb := redis.NewClient(opt)
			defer rdb.Close()
			sub := rdb.Subscribe(context.Background(), workers.BusChannelPrefix("", opt.DB)+tenants.TopicTenantChanged)
			defer sub.Close()
			if _, err := sub.Receive(context.Background()); err != nil {
				t.Fatal(err)
			}
			notices = sub.Channel()
		}
		deleted := e.tenant("api-made")
		if out, err := cli("delete", "api-made"); err != nil {
			t.Fatalf("cli delete: %v\n%s", err, out)
		}
		if notices != nil {
			select {
			case m := <-notices:
				if m.Payload != deleted.ID {
					t.Fatalf("notice for %q, want %q", m.Payload, deleted.ID)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("gatehouse tenant delete published no tenant-changed notice")
			}
		}
		e.admin("GET", "/api/v1/tenants/api-made", nil).problem(t, 404)
		if r := e.admin("DELETE", "/api/v1/tenants/cli-made", nil); r.status != 204 {
			t.Fatal(r.status)
		}
		if out, err := cli("get", "cli-made"); err == nil || !strings.Contains(out, "no tenant") {
			t.Fatalf("CLI still sees a deleted tenant: %v %s", err, out)
		}
	})
}
