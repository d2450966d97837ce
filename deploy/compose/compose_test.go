package compose_test

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/gatehouse/gatehouse/api/admin"
)

var repo = filepath.Join("..", "..")

// dotEnv builds a .env the way the README says: copy .env.example and run
// the one sed command it documents (real openssl), so the documented
// commands are what is tested.
func dotEnv(t *testing.T) (string, map[string]string) {
	t.Helper()
	example, err := os.ReadFile(filepath.Join(repo, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	var cmd string
	for _, line := range strings.Split(string(example), "\n") {
		if l := strings.TrimSpace(strings.TrimPrefix(line, "#")); strings.HasPrefix(l, "sed -i") {
			cmd = l
		}
	}
	if cmd == "" {
		t.Fatal(".env.example documents no sed command that fills the secrets")
	}
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	if err := os.WriteFile(env, example, 0o600); err != nil {
		t.Fatal(err)
	}
	sh := exec.Command("bash", "-c", cmd)
	sh.Dir = dir
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", cmd, err, out)
	}
	b, _ := os.ReadFile(env)
	vals := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			vals[k] = v
		}
	}
	return env, vals
}

func load(t *testing.T, envFile string, profiles ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repo, "docker-compose.yml")},
		cli.WithWorkingDirectory(repo), cli.WithEnvFiles(envFile), cli.WithDotEnv, cli.WithProfiles(profiles))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The documented commands generate secrets Gatehouse accepts.
func TestEnvExampleGeneratesValidSecrets(t *testing.T) {
	_, vals := dotEnv(t)
	key, err := base64.StdEncoding.DecodeString(vals["GATEHOUSE_SECRET_KEY"])
	if err != nil || len(key) != 32 {
		t.Errorf("GATEHOUSE_SECRET_KEY %q: %d bytes, %v", vals["GATEHOUSE_SECRET_KEY"], len(key), err)
	}
	if tok := vals["GATEHOUSE_ADMIN_TOKEN"]; len(tok) < 24 || strings.ContainsAny(tok, "=+/ ") {
		t.Errorf("GATEHOUSE_ADMIN_TOKEN %q", tok)
	}
	if !regexp.MustCompile(`^[0-9a-f]{48}$`).MatchString(vals["POSTGRES_PASSWORD"]) {
		t.Errorf("POSTGRES_PASSWORD %q", vals["POSTGRES_PASSWORD"])
	}
}

// Without .env the stack refuses to start rather than run without secrets.
func TestComposeRequiresSecrets(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repo, "docker-compose.yml")},
		cli.WithWorkingDirectory(repo), cli.WithEnvFiles(empty), cli.WithDotEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.LoadProject(context.Background()); err == nil || !strings.Contains(err.Error(), "POSTGRES_PASSWORD") {
		t.Fatalf("loaded without secrets: %v", err)
	}
}

var pinned = regexp.MustCompile(`:[0-9]+\.[0-9]+(\.[0-9]+)?(-[a-z0-9.]+)?$|@sha256:[0-9a-f]{64}$`)

func TestComposeHygiene(t *testing.T) {
	envFile, vals := dotEnv(t)
	p := load(t, envFile)
	for _, name := range []string{"postgres", "redis", "migrate", "gatehouse", "worker"} {
		if _, err := p.GetService(name); err != nil {
			t.Fatalf("service %s: %v (have %v)", name, err, p.ServiceNames())
		}
	}
	drain := types.Duration(admin.DrainTimeout)
	for _, s := range p.Services {
		// Images pinned to a version (never latest or a bare major).
		if !pinned.MatchString(s.Image) {
			t.Errorf("%s: image %q is not pinned to a version", s.Name, s.Image)
		}
		if s.Name == "migrate" {
			if s.Restart != "no" {
				t.Errorf("migrate is one-shot; restart %q", s.Restart)
			}
			continue
		}
		if s.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("%s: restart %q, want unless-stopped", s.Name, s.Restart)
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			t.Errorf("%s: no healthcheck", s.Name)
		}
	}
	for _, name := range []string{"gatehouse", "worker"} {
		s, _ := p.GetService(name)
		if s.StopGracePeriod == nil || *s.StopGracePeriod <= drain {
			t.Errorf("%s: stop_grace_period %v must exceed the %s drain", name, s.StopGracePeriod, admin.DrainTimeout)
		}
		if !slices.Equal([]string(s.HealthCheck.Test), []string{"CMD", "/usr/local/bin/gatehouse", "healthcheck"}) {
			t.Errorf("%s: healthcheck %v", name, s.HealthCheck.Test)
		}
		if !s.ReadOnly {
			t.Errorf("%s: root filesystem must be read-only", name)
		}
		env := s.Environment
		if v := env["GATEHOUSE_MIGRATE"]; v == nil || *v != "off" {
			t.Errorf("%s: GATEHOUSE_MIGRATE must be off (the migrate service runs first)", name)
		}
		for _, secret := range []string{"GATEHOUSE_SECRET_KEY", "GATEHOUSE_ADMIN_TOKEN", "GATEHOUSE_DATABASE_URL"} {
			if _, ok := env[secret]; ok {
				t.Errorf("%s: %s in the environment; use a compose secret and %s_FILE", name, secret, secret)
			}
			if v := env[secret+"_FILE"]; v == nil || !strings.HasPrefix(*v, "/run/secrets/") {
				t.Errorf("%s: %s_FILE not set to a compose secret", name, secret)
			}
		}
		if d, ok := s.DependsOn["migrate"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s: must wait for migrate to complete: %+v", name, s.DependsOn)
		}
		for _, port := range s.Ports {
			if port.Target == 9090 {
				t.Errorf("%s: the admin port is published", name)
			}
		}
	}
	// Secrets reach the containers with the values .env holds.
	for name, src := range map[string]string{"secret_key": "GATEHOUSE_SECRET_KEY", "admin_token": "GATEHOUSE_ADMIN_TOKEN"} {
		sec, ok := p.Secrets[name]
		if !ok || sec.Environment != src {
			t.Errorf("secret %s: %+v", name, sec)
		}
	}
	if _, ok := p.Environment["GATEHOUSE_DATABASE_URL"]; !ok || !strings.Contains(p.Environment["GATEHOUSE_DATABASE_URL"], vals["POSTGRES_PASSWORD"]) {
		t.Errorf("GATEHOUSE_DATABASE_URL does not carry POSTGRES_PASSWORD")
	}
	// Data lives on named volumes.
	for svc, target := range map[string]string{"postgres": "/var/lib/postgresql/data", "redis": "/data"} {
		s, _ := p.GetService(svc)
		if !hasVolume(s, target) {
			t.Errorf("%s: no named volume at %s", svc, target)
		}
	}
}

func hasVolume(s types.ServiceConfig, target string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Target == target && v.Source != "" {
			return true
		}
	}
	return false
}

// The embedded single-container mode keeps SQLite and its key on a volume.
func TestComposeEmbeddedProfile(t *testing.T) {
	envFile, _ := dotEnv(t)
	p := load(t, envFile, "embedded")
	s, err := p.GetService("gatehouse-embedded")
	if err != nil {
		t.Fatal(err)
	}
	if !hasVolume(s, "/data") {
		t.Error("no volume for the embedded data at /data")
	}
	if v := s.Environment["GATEHOUSE_SQLITE_PATH"]; v == nil || !strings.HasPrefix(*v, "/data/") {
		t.Errorf("GATEHOUSE_SQLITE_PATH %v", v)
	}
	if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= admin.DrainTimeout || s.Restart != types.RestartPolicyUnlessStopped || s.HealthCheck == nil {
		t.Errorf("embedded service hygiene: %+v", s)
	}
	// Not started by a plain `docker compose up`.
	plain := load(t, envFile)
	if _, err := plain.GetService("gatehouse-embedded"); err == nil {
		t.Error("the embedded service is in the default profile")
	}
}

// The Docker build context leaves out secrets and local state.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repo, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, want := range []string{".git", ".env", "*.db", "*.key", "e2e/node_modules"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
	df, err := os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(df), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "FROM" {
			continue
		}
		// distroless tags name the Debian release (static-debian12), not a version.
		ok := pinned.MatchString(f[1]) || regexp.MustCompile(`^gcr\.io/distroless/[a-z]+-debian[0-9]+:nonroot$`).MatchString(f[1])
		if !ok {
			t.Errorf("Dockerfile base %s is not pinned", f[1])
		}
	}
}
