package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
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
		{"bad signup mode", map[string]string{"GATEHOUSE_SIGNUP": "everyone"}, []string{"GATEHOUSE_SIGNUP"}},
		{"bad smtp url", map[string]string{"GATEHOUSE_SMTP_URL": "smtp://mail.example"}, []string{"GATEHOUSE_SMTP_URL", "from="}},
		{"platform oidc without secret", map[string]string{"GATEHOUSE_PLATFORM_IDP_OIDC_ISSUER": "https://login.example.com", "GATEHOUSE_PLATFORM_IDP_OIDC_CLIENT_ID": "c"}, []string{"GATEHOUSE_PLATFORM_IDP_OIDC"}},
		{"redis prefix with a space", map[string]string{"GATEHOUSE_REDIS_PREFIX": "my app"}, []string{"GATEHOUSE_REDIS_PREFIX"}},
		{"security contact not a URI kind", map[string]string{"GATEHOUSE_SECURITY_CONTACT": "security@operator.example"}, []string{"GATEHOUSE_SECURITY_CONTACT", "mailto: or https:"}},
		{"security contact over http", map[string]string{"GATEHOUSE_SECURITY_CONTACT": "mailto:sec@operator.example,http://operator.example/sec"}, []string{"GATEHOUSE_SECURITY_CONTACT", "http://operator.example/sec"}},
		{"security contact mailto without address", map[string]string{"GATEHOUSE_SECURITY_CONTACT": "mailto:nobody"}, []string{"GATEHOUSE_SECURITY_CONTACT", "name@domain"}},
		{"security contact empty (compose default)", map[string]string{"GATEHOUSE_SECURITY_CONTACT": ""}, nil},
		{"security contacts valid", map[string]string{"GATEHOUSE_SECURITY_CONTACT": "mailto:sec@operator.example,https://operator.example/security"}, nil},
		{"platform github without id", map[string]string{"GATEHOUSE_PLATFORM_IDP_GITHUB_CLIENT_SECRET": "s"}, []string{"GATEHOUSE_PLATFORM_IDP_GITHUB"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"GATEHOUSE_ADDR", "GATEHOUSE_PUBLIC_URL", "GATEHOUSE_DATABASE_URL", "GATEHOUSE_REDIS_URL", "GATEHOUSE_SECRET_KEY", "GATEHOUSE_ALLOW_PRIVATE_FETCH", "GATEHOUSE_ADMIN_TOKEN", "GATEHOUSE_LOG_FORMAT",
				"GATEHOUSE_SIGNUP", "GATEHOUSE_SMTP_URL", "GATEHOUSE_PLATFORM_IDP_OIDC_ISSUER", "GATEHOUSE_PLATFORM_IDP_OIDC_CLIENT_ID", "GATEHOUSE_PLATFORM_IDP_GITHUB_CLIENT_SECRET",
				"GATEHOUSE_REDIS_PREFIX", "GATEHOUSE_SECURITY_CONTACT"} {
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
	cfg := &Config{SQLitePath: filepath.Join(dir, "g.db"), PublicURL: "http://localhost:8080", LogLevel: "info", Migrate: "auto"}
	ctx := context.Background()
	var out bytes.Buffer
	if err := tenantCmd(ctx, cfg, []string{"create", "--slug", "acme", "--upstream", "https://mcp.acme.example/mcp", "--json"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"resource": "http://localhost:8080/t/acme/mcp"`) {
		t.Fatalf("create output: %s", out.String())
	}
	out.Reset()
	err := tenantCmd(ctx, cfg, []string{"create", "--slug", "acme", "--upstream", "https://x.example/mcp"}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "already taken") {
		t.Fatalf("duplicate: %v", err)
	}
	err = tenantCmd(ctx, cfg, []string{"create", "--slug", "API", "--upstream", "ftp://x"}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "slug") || !strings.Contains(err.Error(), "upstream_mcp_url") {
		t.Fatalf("invalid input must name each field: %v", err)
	}
	out.Reset()
	if err := tenantCmd(ctx, cfg, []string{"list"}, nil, &out); err != nil || !strings.Contains(out.String(), "acme") {
		t.Fatalf("list: %v %s", err, out.String())
	}
	out.Reset()
	if err := tenantCmd(ctx, cfg, []string{"delete", "acme"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if err := tenantCmd(ctx, cfg, []string{"get", "acme"}, nil, &out); err == nil {
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
	if err := ensureDemoTenant(ctx, p, p.deps("").Provisioner, 8080); err != nil {
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

// Every variable that is not a plain string rejects a malformed value with
// a line naming the variable, never the Go field.
func TestEveryTypedVariableNamedOnError(t *testing.T) {
	n := 0
	for _, cv := range configVars() {
		if cv.typ.Kind() == reflect.String || cv.typ.Kind() == reflect.Slice {
			continue
		}
		n++
		_, err := loadConfigFrom([]string{cv.name + "=%%not-a-value%%"})
		if err == nil {
			t.Errorf("%s accepted a malformed value", cv.name)
			continue
		}
		if !strings.Contains(err.Error(), cv.name+":") || strings.Contains(err.Error(), cv.field) {
			t.Errorf("%s: %v", cv.name, err)
		}
	}
	if n < 6 {
		t.Fatalf("only %d typed variables found", n)
	}
}

// Every variable holding a credential has a _FILE form; the rule is checked
// by name so variables added later cannot forget it.
func TestSecretVariablesHaveFileForms(t *testing.T) {
	credential := regexp.MustCompile(`SECRET|TOKEN|PASSWORD|PRIVATE_KEY|(DATABASE|REDIS|SMTP)_URL$`)
	secrets := 0
	for _, cv := range configVars() {
		if strings.HasPrefix(cv.name, "GATEHOUSE_TEST_") {
			continue
		}
		if credential.MatchString(cv.name) && !cv.secret {
			t.Errorf("%s holds a credential but has no %s_FILE form (tag it secret:\"true\")", cv.name, cv.name)
		}
		if !cv.secret {
			continue
		}
		secrets++
		dir := t.TempDir()
		value := "postgres://u:p@h/db"
		switch cv.name {
		case "GATEHOUSE_SECRET_KEY":
			value = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
		case "GATEHOUSE_REDIS_URL":
			value = "redis://:p@h:6379/0"
		}
		f := filepath.Join(dir, "s")
		if err := os.WriteFile(f, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfigFrom([]string{cv.name + "_FILE=" + f})
		if err != nil {
			t.Errorf("%s_FILE: %v", cv.name, err)
			continue
		}
		got := reflect.ValueOf(*c).FieldByName(cv.field)
		if fmt.Sprint(got.Interface()) != value && fmt.Sprint(got.Interface()) != "["+value+"]" {
			t.Errorf("%s_FILE gave %v, want %q (trailing newline dropped)", cv.name, got.Interface(), value)
		}
		if _, err := loadConfigFrom([]string{cv.name + "_FILE=" + f, cv.name + "=other"}); err == nil || !strings.Contains(err.Error(), "not both") {
			t.Errorf("%s and %s_FILE together: %v", cv.name, cv.name, err)
		}
		if _, err := loadConfigFrom([]string{cv.name + "_FILE=" + filepath.Join(dir, "missing")}); err == nil || !strings.Contains(err.Error(), cv.name+"_FILE") {
			t.Errorf("%s_FILE missing file: %v", cv.name, err)
		}
	}
	if secrets < 4 {
		t.Fatalf("only %d secret variables", secrets)
	}
	// A malformed secret is never echoed.
	c, err := loadConfigFrom([]string{"GATEHOUSE_SECRET_KEY=hunter2-not-base64"})
	if err == nil {
		err = c.validate()
	}
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad secret key: %v", err)
	}
}

// A GATEHOUSE_ variable that is not a setting (a typo) is reported.
func TestUnknownVariableWarned(t *testing.T) {
	c, err := loadConfigFrom([]string{"GATEHOUSE_DATABSE_URL=postgres://h/db", "GATEHOUSE_ADDR=:1", "GATEHOUSE_TEST_POSTGRES_URL=x", "GATEHOUSE_ADMIN_TOKEN_FILE="})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.warnings) != 1 || !strings.Contains(c.warnings[0], "GATEHOUSE_DATABSE_URL") {
		t.Fatalf("warnings: %v", c.warnings)
	}
}

// `serve --addr :N` and GATEHOUSE_ADDR=:N derive the same public URL.
func TestPublicURLDerivation(t *testing.T) {
	for addr, want := range map[string]string{":9999": "http://localhost:9999", "0.0.0.0:7000": "http://localhost:7000",
		"127.0.0.1:8081": "http://127.0.0.1:8081", "[::1]:8082": "http://[::1]:8082"} {
		c, err := loadConfigFrom([]string{"GATEHOUSE_ADDR=" + addr})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.validate(); err != nil || c.PublicURL != want {
			t.Errorf("%s: %q %v, want %s", addr, c.PublicURL, err, want)
		}
	}
}

// The pool variables reach database/sql.
func TestDBPoolSettings(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{SQLitePath: filepath.Join(dir, "g.db"), DBMaxOpenConns: 3, DBMaxIdleConns: 2}
	s, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, _ := s.RawDB()
	if got := db.Stats().MaxOpenConnections; got != 3 {
		t.Fatalf("max open %d, want 3", got)
	}
}

// The CLI trusts, lists and removes enterprise IdPs through the domain.
func TestEnterpriseIdPCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{SQLitePath: filepath.Join(dir, "g.db"), PublicURL: "http://localhost:8080", LogLevel: "info"}
	ctx := context.Background()
	var out bytes.Buffer
	if err := tenantCmd(ctx, cfg, []string{"create", "--slug", "acme", "--upstream", "https://mcp.acme.example/mcp"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	err := tenantCmd(ctx, cfg, []string{"enterprise-idp", "add", "acme", "--issuer", "http://idp.example"}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "issuer") || !strings.Contains(err.Error(), "allowed_clients") {
		t.Fatalf("invalid input must name each field: %v", err)
	}
	out.Reset()
	if err := tenantCmd(ctx, cfg, []string{"enterprise-idp", "add", "acme", "--issuer", "https://acme.okta.example", "--allowed-client", "a", "--allowed-client", "b"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	var e struct {
		ID             string   `json:"id"`
		AllowedClients []string `json:"allowed_clients"`
	}
	if json.Unmarshal(out.Bytes(), &e) != nil || e.ID == "" || len(e.AllowedClients) != 2 {
		t.Fatalf("add output: %s", out.String())
	}
	out.Reset()
	if err := tenantCmd(ctx, cfg, []string{"enterprise-idp", "list", "acme"}, nil, &out); err != nil || !strings.Contains(out.String(), "https://acme.okta.example") {
		t.Fatalf("list: %v %s", err, out.String())
	}
	if err := tenantCmd(ctx, cfg, []string{"enterprise-idp", "delete", "acme", e.ID}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if err := tenantCmd(ctx, cfg, []string{"enterprise-idp", "delete", "acme", e.ID}, nil, &out); err == nil {
		t.Fatal("second delete succeeded")
	}
}

// Sign-up is open in the embedded default and by invitation in production.
func TestSignupDefaults(t *testing.T) {
	if got := (&Config{}).signup(); got != "open" {
		t.Fatalf("embedded: %s", got)
	}
	if got := (&Config{DatabaseURL: "postgres://h/db"}).signup(); got != "invite" {
		t.Fatalf("production: %s", got)
	}
	if got := (&Config{DatabaseURL: "postgres://h/db", Signup: "closed"}).signup(); got != "closed" {
		t.Fatalf("explicit: %s", got)
	}
}

func TestPlatformIdPsFromConfig(t *testing.T) {
	c := &Config{PlatformOIDCIssuer: "https://login.example.com/", PlatformOIDCClientID: "cid", PlatformOIDCClientSecret: "s", PlatformOIDCName: "Okta",
		PlatformGitHubClientID: "gh", PlatformGitHubClientSecret: "ghs"}
	ps := c.platformIdPs()
	if len(ps) != 2 || ps[0].Config.Type != "github" || ps[1].Config.Type != "oidc" || ps[1].Config.IssuerURL != "https://login.example.com" || ps[1].Label != "Okta" {
		t.Fatalf("%+v", ps)
	}
}

// `gatehouse admin grant EMAIL` makes an existing account an operator.
func TestAdminGrant(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{SQLitePath: filepath.Join(dir, "g.db"), Addr: ":0"}
	ctx := context.Background()
	var out bytes.Buffer
	if err := adminCmd(ctx, cfg, []string{"grant", "ada@example.com"}, &out); err == nil || !strings.Contains(err.Error(), "signs up first") {
		t.Fatalf("unknown account: %v", err)
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := store.CreateAccount(ctx, &tenants.Account{ID: "a1", Email: "ada@example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	if err := adminCmd(ctx, cfg, []string{"grant", "ADA@example.com"}, &out); err != nil {
		t.Fatal(err)
	}
	store, _ = openStore(ctx, cfg)
	defer store.Close()
	a, _ := store.GetAccount(ctx, "a1")
	if !a.Operator() {
		t.Fatal("not an operator")
	}
	evs, _, err := store.ListAuditEvents(ctx, "", tenants.AuditFilter{Action: tenants.ActOperatorGranted})
	if err != nil || len(evs) != 1 || evs[0].Actor != "cli" {
		t.Fatalf("audit: %+v %v", evs, err)
	}
	if err := adminCmd(ctx, cfg, []string{"revoke", "x"}, &out); err == nil {
		t.Fatal("unknown verb accepted")
	}
}

// The one-shot commands get the account service from internal/wiring.Build
// with the deployment's policy, as serve does (TestServicesComeFromTheRoot
// refuses one built beside it).
func TestCLIAccountsFromTheRoot(t *testing.T) {
	cfg := &Config{SQLitePath: filepath.Join(t.TempDir(), "g.db"), Signup: accounts.SignupClosed}
	env, err := openCLIEnv(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	svc := env.deps.Accounts
	if svc == nil || svc.Signup != accounts.SignupClosed || svc.Prov != env.prov || svc.Sealer == nil {
		t.Fatalf("accounts not from the root: %+v", svc)
	}
}
