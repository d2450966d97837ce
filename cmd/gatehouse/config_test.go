package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error; empty = valid
	}{
		{"embedded default", nil, nil},
		{"bad addr", map[string]string{"GATEHOUSE_ADDR": "8080"}, []string{"GATEHOUSE_ADDR"}},
		{"public url with path", map[string]string{"GATEHOUSE_PUBLIC_URL": "https://x.example/base"}, []string{"GATEHOUSE_PUBLIC_URL", "without a path"}},
		{"production needs redis and key", map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://h/db"}, []string{"GATEHOUSE_REDIS_URL", "GATEHOUSE_SECRET_KEY"}},
		{"bad secret key", map[string]string{"GATEHOUSE_SECRET_KEY": "short"}, []string{"GATEHOUSE_SECRET_KEY"}},
		{"private fetch refused in production", map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://h/db", "GATEHOUSE_REDIS_URL": "redis://h", "GATEHOUSE_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "GATEHOUSE_ALLOW_PRIVATE_FETCH": "true"}, []string{"test-only"}},
		{"short admin token", map[string]string{"GATEHOUSE_ADMIN_TOKEN": "abc"}, []string{"GATEHOUSE_ADMIN_TOKEN"}},
		{"bad log format", map[string]string{"GATEHOUSE_LOG_FORMAT": "xml"}, []string{"GATEHOUSE_LOG_FORMAT"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"GATEHOUSE_ADDR", "GATEHOUSE_PUBLIC_URL", "GATEHOUSE_DATABASE_URL", "GATEHOUSE_REDIS_URL", "GATEHOUSE_SECRET_KEY", "GATEHOUSE_ALLOW_PRIVATE_FETCH", "GATEHOUSE_ADMIN_TOKEN", "GATEHOUSE_LOG_FORMAT"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := loadConfig()
			if err == nil {
				err = cfg.validate()
			}
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if cfg.PublicURL != "http://localhost:8080" {
					t.Fatalf("default public URL: %s", cfg.PublicURL)
				}
				return
			}
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// The embedded secret key is generated once, 0600, and reused.
func TestEmbeddedSecretKeyFile(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{SQLitePath: filepath.Join(dir, "gatehouse.db")}
	k1, err := cfg.secretKeys()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "gatehouse.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	k2, _ := cfg.secretKeys()
	if !bytes.Equal(k1[0], k2[0]) {
		t.Fatal("second start must reuse the key")
	}
}

// The CLI creates, lists, gets and deletes tenants through the domain.
func TestTenantCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{SQLitePath: filepath.Join(dir, "g.db"), PublicURL: "http://localhost:8080", LogLevel: "info"}
	ctx := context.Background()
	var out bytes.Buffer
	if err := tenantCmd(ctx, cfg, []string{"create", "--slug", "acme", "--upstream", "https://mcp.acme.example/mcp"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"resource": "http://localhost:8080/t/acme/mcp"`) {
		t.Fatalf("create output: %s", out.String())
	}
	out.Reset()
	err := tenantCmd(ctx, cfg, []string{"create", "--slug", "acme", "--upstream", "https://x.example/mcp"}, &out)
	if err == nil || !strings.Contains(err.Error(), "already taken") {
		t.Fatalf("duplicate: %v", err)
	}
	err = tenantCmd(ctx, cfg, []string{"create", "--slug", "API", "--upstream", "ftp://x"}, &out)
	if err == nil || !strings.Contains(err.Error(), "slug") || !strings.Contains(err.Error(), "upstream_mcp_url") {
		t.Fatalf("invalid input must name each field: %v", err)
	}
	out.Reset()
	if err := tenantCmd(ctx, cfg, []string{"list"}, &out); err != nil || !strings.Contains(out.String(), "acme") {
		t.Fatalf("list: %v %s", err, out.String())
	}
	out.Reset()
	if err := tenantCmd(ctx, cfg, []string{"delete", "acme"}, &out); err != nil {
		t.Fatal(err)
	}
	if err := tenantCmd(ctx, cfg, []string{"get", "acme"}, &out); err == nil {
		t.Fatal("deleted tenant still found")
	}
}

// Private upstreams are refused by default in production mode only.
func TestRefusePrivateUpstreamsDefault(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		cfg  Config
		want bool
	}{
		{Config{}, false},
		{Config{DatabaseURL: "postgres://h/db"}, true},
		{Config{DatabaseURL: "postgres://h/db", AllowPrivateFetch: true}, false},
		{Config{DatabaseURL: "postgres://h/db", RefusePrivateUpstreams: &no}, false},
		{Config{RefusePrivateUpstreams: &yes}, true},
	}
	for i, c := range cases {
		if got := c.cfg.refusePrivateUpstreams(); got != c.want {
			t.Errorf("case %d: got %v, want %v", i, got, c.want)
		}
	}
}

// Issue 9 hole 16: the embedded demo tenant (dev IdP) leaves skip_consent
// off, so a trial shows the consent page once, as users will see it.
func TestDemoTenantShowsConsent(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{SQLitePath: filepath.Join(dir, "g.db"), PublicURL: "http://localhost:8080", LogLevel: "error"}
	ctx := context.Background()
	p, err := newPlatform(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if err := ensureDemoTenant(ctx, p, 8080); err != nil {
		t.Fatal(err)
	}
	demo, err := p.store.GetTenantBySlug(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	idps, _ := p.store.ListIdPs(ctx, demo.ID)
	if demo.Settings.SkipConsent || len(idps) != 1 || idps[0].Type != tenants.IdPDev {
		t.Fatalf("demo tenant: skip_consent=%v idps=%+v", demo.Settings.SkipConsent, idps)
	}
}
