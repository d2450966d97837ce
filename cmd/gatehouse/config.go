package main

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/telemetry"
)

// Config is read from GATEHOUSE_* environment variables (flags may override).
// Fields tagged secret:"true" also accept NAME_FILE (a path whose content is
// the value: Docker and Kubernetes secrets mounted as files).
type Config struct {
	Addr        string `env:"GATEHOUSE_ADDR" envDefault:":8080"`
	AdminAddr   string `env:"GATEHOUSE_ADMIN_ADDR" envDefault:"127.0.0.1:9090"`
	PublicURL   string `env:"GATEHOUSE_PUBLIC_URL"`
	DatabaseURL string `env:"GATEHOUSE_DATABASE_URL" secret:"true"`
	SQLitePath  string `env:"GATEHOUSE_SQLITE_PATH" envDefault:"gatehouse.db"`
	RedisURL    string `env:"GATEHOUSE_REDIS_URL" secret:"true"`
	// RedisPrefix namespaces this deployment's bus channels and rate-limit
	// keys, for deployments sharing one Redis DB (redisKeyPrefix).
	RedisPrefix       string   `env:"GATEHOUSE_REDIS_PREFIX"`
	TenantDomain      string   `env:"GATEHOUSE_TENANT_DOMAIN"`
	SecretKeys        []string `env:"GATEHOUSE_SECRET_KEY" envSeparator:"," secret:"true"`
	AdminToken        string   `env:"GATEHOUSE_ADMIN_TOKEN" secret:"true"`
	AllowDevIdP       *bool    `env:"GATEHOUSE_ALLOW_DEV_IDP"`
	AllowPrivateFetch bool     `env:"GATEHOUSE_ALLOW_PRIVATE_FETCH"`
	DemoTenant        *bool    `env:"GATEHOUSE_DEMO_TENANT"`
	LogFormat         string   `env:"GATEHOUSE_LOG_FORMAT"` // json | text (default: text on a terminal, else json)
	LogLevel          string   `env:"GATEHOUSE_LOG_LEVEL" envDefault:"info"`
	TrustedProxies    []string `env:"GATEHOUSE_TRUSTED_PROXIES" envSeparator:","`
	// SecurityContacts: RFC 9116 Contact URIs for /.well-known/security.txt
	// (mailto: or https:); unset, no security.txt is served.
	SecurityContacts []string `env:"GATEHOUSE_SECURITY_CONTACT" envSeparator:","`
	// DBQueryTimeout bounds every database statement (docs/SECURITY.md "Fault behaviour").
	DBQueryTimeout time.Duration `env:"GATEHOUSE_DB_QUERY_TIMEOUT" envDefault:"5s"`
	// Plan-level MCP quotas (requests per minute; 0 = unlimited); tenant
	// settings mcp_requests_per_minute[_per_user] override them.
	MCPRequestsPerMinute        int `env:"GATEHOUSE_MCP_REQUESTS_PER_MINUTE"`
	MCPRequestsPerMinutePerUser int `env:"GATEHOUSE_MCP_REQUESTS_PER_MINUTE_PER_USER"`
	// APIRequestsPerMinute is the provisioning API limit per credential
	// (0: limits.API, 600).
	APIRequestsPerMinute int `env:"GATEHOUSE_API_REQUESTS_PER_MINUTE"`
	// RefusePrivateUpstreams: default on in production mode unless private
	// fetches are allowed (tests); off in the embedded default.
	RefusePrivateUpstreams *bool `env:"GATEHOUSE_REFUSE_PRIVATE_UPSTREAMS"`
	// Workers: run the worker system inside serve (default: embedded mode only).
	InProcessWorkers *bool `env:"GATEHOUSE_INPROCESS_WORKERS"`
	// Migrate: auto applies pending migrations on start; off leaves that to
	// `gatehouse migrate up` (a Kubernetes Job) and refuses to start on a
	// schema that is behind.
	Migrate string `env:"GATEHOUSE_MIGRATE" envDefault:"auto"`
	// Database pool per process (0: 20 open / 10 idle on Postgres, 8 on
	// SQLite). Keep replicas × open under the server's max_connections.
	DBMaxOpenConns    int           `env:"GATEHOUSE_DB_MAX_OPEN_CONNS"`
	DBMaxIdleConns    int           `env:"GATEHOUSE_DB_MAX_IDLE_CONNS"`
	DBConnMaxLifetime time.Duration `env:"GATEHOUSE_DB_CONN_MAX_LIFETIME" envDefault:"30m"`
	// MetricsTenantLabel: false removes the tenant label from /metrics (the
	// series are added up), for deployments with very many tenants.
	MetricsTenantLabel bool `env:"GATEHOUSE_METRICS_TENANT_LABEL" envDefault:"true"`
	// WorkerMetricsAddr is the former name of the worker's admin listener;
	// when set it overrides GATEHOUSE_ADMIN_ADDR for `gatehouse worker`.
	WorkerMetricsAddr string `env:"GATEHOUSE_WORKER_METRICS_ADDR"`
	// Accounts (DESIGN §12, docs/ACCOUNTS.md).
	Signup  string `env:"GATEHOUSE_SIGNUP"` // open | invite | closed (default open embedded, invite in production)
	SMTPURL string `env:"GATEHOUSE_SMTP_URL" secret:"true"`
	// Platform IdPs for console sign-in.
	PlatformGitHubClientID     string `env:"GATEHOUSE_PLATFORM_IDP_GITHUB_CLIENT_ID"`
	PlatformGitHubClientSecret string `env:"GATEHOUSE_PLATFORM_IDP_GITHUB_CLIENT_SECRET" secret:"true"`
	PlatformGoogleClientID     string `env:"GATEHOUSE_PLATFORM_IDP_GOOGLE_CLIENT_ID"`
	PlatformGoogleClientSecret string `env:"GATEHOUSE_PLATFORM_IDP_GOOGLE_CLIENT_SECRET" secret:"true"`
	PlatformOIDCIssuer         string `env:"GATEHOUSE_PLATFORM_IDP_OIDC_ISSUER"`
	PlatformOIDCClientID       string `env:"GATEHOUSE_PLATFORM_IDP_OIDC_CLIENT_ID"`
	PlatformOIDCClientSecret   string `env:"GATEHOUSE_PLATFORM_IDP_OIDC_CLIENT_SECRET" secret:"true"`
	PlatformOIDCName           string `env:"GATEHOUSE_PLATFORM_IDP_OIDC_NAME" envDefault:"single sign-on"`
	// Test-only hooks for e2e (testhooks.go); refused without AllowPrivateFetch.
	TestCAFile  string `env:"GATEHOUSE_TEST_CA_FILE"`
	TestHostMap string `env:"GATEHOUSE_TEST_HOST_MAP"`
	// TestDNSAddr sends custom-domain TXT lookups to this DNS server and
	// checks them every second (testhooks.go).
	TestDNSAddr string `env:"GATEHOUSE_TEST_DNS_ADDR"`
	// TestUpstreamRefreshEvery runs the upstream IdP token refresh this
	// often instead of every 2 min (testhooks.go).
	TestUpstreamRefreshEvery time.Duration `env:"GATEHOUSE_TEST_UPSTREAM_REFRESH_EVERY"`

	// warnings found while loading (unknown variables); printed at start.
	warnings []string
}

// Embedded reports whether this is the embedded default (SQLite, in-process queue).
func (c *Config) Embedded() bool { return c.DatabaseURL == "" }

func loadConfig() (*Config, error) { return loadConfigFrom(os.Environ()) }

// configVar is one variable of Config, as the operator spells it.
type configVar struct {
	name   string
	field  string
	typ    reflect.Type
	secret bool
}

func configVars() []configVar {
	var out []configVar
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" {
			continue
		}
		out = append(out, configVar{name: name, field: f.Name, typ: f.Type, secret: f.Tag.Get("secret") == "true"})
	}
	return out
}

// loadConfigFrom parses environ (KEY=VALUE lines). Errors name the
// environment variable and what it must be, never a Go field.
func loadConfigFrom(environ []string) (*Config, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var errs, warnings []string
	known := map[string]bool{}
	for _, cv := range configVars() {
		known[cv.name] = true
		if !cv.secret {
			continue
		}
		fileVar := cv.name + "_FILE"
		known[fileVar] = true
		path := vars[fileVar]
		if path == "" {
			continue
		}
		if vars[cv.name] != "" {
			errs = append(errs, fmt.Sprintf("%s: set either %s or %s, not both", cv.name, cv.name, fileVar))
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: cannot read %s: %v", fileVar, path, errors.Unwrap(err)))
			continue
		}
		// Files written by editors and `echo` end in a newline that is not
		// part of the secret.
		vars[cv.name] = strings.TrimRight(string(b), "\r\n")
	}
	for k := range vars {
		if strings.HasPrefix(k, "GATEHOUSE_") && !known[k] && !strings.HasPrefix(k, "GATEHOUSE_TEST_") {
			warnings = append(warnings, fmt.Sprintf("%s is not a Gatehouse setting and is ignored (a typo?)", k))
		}
	}
	sort.Strings(warnings)
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars}); err != nil {
		errs = append(errs, describeEnvError(err, vars)...)
	}
	if len(errs) > 0 {
		return nil, errors.New("invalid configuration:\n  " + strings.Join(errs, "\n  "))
	}
	c.warnings = warnings
	return &c, nil
}

// describeEnvError turns env's per-field errors into one line per variable.
func describeEnvError(err error, vars map[string]string) []string {
	byField := map[string]configVar{}
	for _, cv := range configVars() {
		byField[cv.field] = cv
	}
	var list []error
	var agg env.AggregateError
	if errors.As(err, &agg) {
		list = agg.Errors
	} else {
		list = []error{err}
	}
	var out []string
	for _, e := range list {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if cv, ok := byField[pe.Name]; ok {
				val := fmt.Sprintf("%q ", vars[cv.name])
				if cv.secret {
					val = "" // never echo a secret
				}
				out = append(out, fmt.Sprintf("%s: %sis not %s", cv.name, val, kindOf(cv.typ)))
				continue
			}
		}
		out = append(out, "environment: "+e.Error())
	}
	return out
}

func kindOf(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "a duration (e.g. 30s, 5m, 1h)"
	case t.Kind() == reflect.Bool:
		return "a boolean (true or false)"
	case t.Kind() == reflect.Int:
		return "a whole number"
	}
	return "a valid value"
}

// validate checks every value and returns one clear line per problem.
func (c *Config) validate() error {
	var errs []string
	bad := func(name, format string, args ...any) {
		errs = append(errs, name+": "+fmt.Sprintf(format, args...))
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		bad("GATEHOUSE_ADDR", "%q is not host:port (e.g. :8080 or 127.0.0.1:8080)", c.Addr)
	}
	if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
		bad("GATEHOUSE_ADMIN_ADDR", "%q is not host:port (e.g. 127.0.0.1:9090, or :9090 for a Kubernetes probe)", c.AdminAddr)
	}
	if c.WorkerMetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.WorkerMetricsAddr); err != nil {
			bad("GATEHOUSE_WORKER_METRICS_ADDR", "%q is not host:port", c.WorkerMetricsAddr)
		}
	}
	if c.PublicURL == "" {
		h := host
		if h == "" || h == "0.0.0.0" || h == "::" {
			h = "localhost"
		}
		if err == nil {
			c.PublicURL = "http://" + net.JoinHostPort(h, port)
		}
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("GATEHOUSE_PUBLIC_URL", "%q must be an absolute http(s) URL", c.PublicURL)
	} else if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		bad("GATEHOUSE_PUBLIC_URL", "%q must be an origin without a path (scheme://host[:port])", c.PublicURL)
	} else {
		c.PublicURL = u.Scheme + "://" + u.Host
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("GATEHOUSE_DATABASE_URL", "must be a postgres:// URL (leave unset for the embedded SQLite default)")
	}
	if c.RedisURL != "" {
		if _, err := parseRedisURL(c.RedisURL); err != nil {
			bad("GATEHOUSE_REDIS_URL", "%v", err)
		}
	}
	// An empty variable (compose's ${X:-}) or a trailing comma names no contact.
	c.SecurityContacts = slices.DeleteFunc(c.SecurityContacts, func(v string) bool { return strings.TrimSpace(v) == "" })
	for _, contact := range c.SecurityContacts {
		if msg := securityContactProblem(contact); msg != "" {
			bad("GATEHOUSE_SECURITY_CONTACT", "%q %s", contact, msg)
		}
	}
	if !redisPrefixPattern.MatchString(c.RedisPrefix) {
		bad("GATEHOUSE_REDIS_PREFIX", "must be at most 64 letters, digits, '.', '_' or '-'")
	}
	if c.DatabaseURL != "" && c.RedisURL == "" {
		bad("GATEHOUSE_REDIS_URL", "is required with GATEHOUSE_DATABASE_URL (production mode)")
	}
	if c.TenantDomain != "" {
		if msg := tenants.ValidateDomain(strings.ToLower(strings.Split(c.TenantDomain, ":")[0])); msg != "" && strings.Split(c.TenantDomain, ":")[0] != "localhost" {
			bad("GATEHOUSE_TENANT_DOMAIN", "%s", msg)
		}
	}
	if len(c.SecretKeys) > 0 {
		if _, err := tenants.ParseSecretKeys(c.SecretKeys); err != nil {
			bad("GATEHOUSE_SECRET_KEY", "%v", err)
		}
	} else if !c.Embedded() {
		bad("GATEHOUSE_SECRET_KEY", "is required in production mode (32 bytes, base64; `openssl rand -base64 32`)")
	}
	if c.AdminToken != "" && len(c.AdminToken) < 24 {
		bad("GATEHOUSE_ADMIN_TOKEN", "must be at least 24 characters")
	}
	if c.TestDNSAddr != "" {
		if !c.AllowPrivateFetch {
			bad("GATEHOUSE_TEST_DNS_ADDR", "is test-only and needs GATEHOUSE_ALLOW_PRIVATE_FETCH=true")
		} else if _, _, err := net.SplitHostPort(c.TestDNSAddr); err != nil {
			bad("GATEHOUSE_TEST_DNS_ADDR", "%q is not host:port", c.TestDNSAddr)
		}
	}
	if c.TestUpstreamRefreshEvery != 0 && !c.AllowPrivateFetch {
		bad("GATEHOUSE_TEST_UPSTREAM_REFRESH_EVERY", "is test-only and needs GATEHOUSE_ALLOW_PRIVATE_FETCH=true")
	}
	if (c.TestCAFile != "" || c.TestHostMap != "") && !c.AllowPrivateFetch {
		bad("GATEHOUSE_TEST_CA_FILE", "GATEHOUSE_TEST_CA_FILE and GATEHOUSE_TEST_HOST_MAP are test-only and need GATEHOUSE_ALLOW_PRIVATE_FETCH=true")
	}
	if c.AllowPrivateFetch && !c.Embedded() && !c.devIdP() {
		bad("GATEHOUSE_ALLOW_PRIVATE_FETCH", "is a test-only setting and is refused in production mode")
	}
	if c.SQLitePath == "" {
		bad("GATEHOUSE_SQLITE_PATH", "must not be empty")
	}
	for _, p := range c.TrustedProxies {
		p = strings.TrimSpace(p)
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				bad("GATEHOUSE_TRUSTED_PROXIES", "%q is not an IP address or CIDR", p)
			}
		}
	}
	switch c.Migrate {
	case "auto", "off":
	default:
		bad("GATEHOUSE_MIGRATE", "must be auto or off")
	}
	if c.DBMaxOpenConns < 0 {
		bad("GATEHOUSE_DB_MAX_OPEN_CONNS", "must be 0 (default) or more")
	}
	if c.DBMaxIdleConns < 0 {
		bad("GATEHOUSE_DB_MAX_IDLE_CONNS", "must be 0 (default) or more")
	} else if c.DBMaxOpenConns > 0 && c.DBMaxIdleConns > c.DBMaxOpenConns {
		bad("GATEHOUSE_DB_MAX_IDLE_CONNS", "must not exceed GATEHOUSE_DB_MAX_OPEN_CONNS (%d)", c.DBMaxOpenConns)
	}
	if c.DBConnMaxLifetime < 0 {
		bad("GATEHOUSE_DB_CONN_MAX_LIFETIME", "must not be negative")
	}
	if err := telemetry.Validate(os.Getenv); err != nil {
		errs = append(errs, err.Error())
	}
	if c.MCPRequestsPerMinute < 0 || c.MCPRequestsPerMinutePerUser < 0 {
		bad("GATEHOUSE_MCP_REQUESTS_PER_MINUTE", "quotas must be 0 (unlimited) or positive")
	}
	if c.APIRequestsPerMinute < 0 {
		bad("GATEHOUSE_API_REQUESTS_PER_MINUTE", "must be 0 (the default, 600) or positive")
	}
	if c.DBQueryTimeout < 100*time.Millisecond {
		bad("GATEHOUSE_DB_QUERY_TIMEOUT", "must be at least 100ms (e.g. 5s)")
	}
	switch c.Signup {
	case "", "open", "invite", "closed":
	default:
		bad("GATEHOUSE_SIGNUP", "must be open, invite or closed")
	}
	if c.SMTPURL != "" {
		if _, err := accounts.ParseSMTPURL(c.SMTPURL); err != nil {
			bad("GATEHOUSE_SMTP_URL", "%v", err)
		}
	}
	pair := func(name, id, secret string) {
		if (id == "") != (secret == "") {
			bad("GATEHOUSE_PLATFORM_IDP_"+name, "needs both _CLIENT_ID and _CLIENT_SECRET")
		}
	}
	pair("GITHUB", c.PlatformGitHubClientID, c.PlatformGitHubClientSecret)
	pair("GOOGLE", c.PlatformGoogleClientID, c.PlatformGoogleClientSecret)
	pair("OIDC", c.PlatformOIDCClientID, c.PlatformOIDCClientSecret)
	if (c.PlatformOIDCIssuer == "") != (c.PlatformOIDCClientID == "") {
		bad("GATEHOUSE_PLATFORM_IDP_OIDC_ISSUER", "needs GATEHOUSE_PLATFORM_IDP_OIDC_CLIENT_ID and _CLIENT_SECRET with it")
	} else if c.PlatformOIDCIssuer != "" {
		if msg := tenants.ValidateHTTPURL(c.PlatformOIDCIssuer); msg != "" {
			bad("GATEHOUSE_PLATFORM_IDP_OIDC_ISSUER", "%s", msg)
		}
	}
	switch c.LogFormat {
	case "", "json", "text":
	default:
		bad("GATEHOUSE_LOG_FORMAT", "must be json or text")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("GATEHOUSE_LOG_LEVEL", "must be debug, info, warn or error")
	}
	if len(errs) > 0 {
		return errors.New("invalid configuration:\n  " + strings.Join(errs, "\n  "))
	}
	return nil
}

// devIdP: on in the embedded default, off with a database URL unless allowed.
// securityContactProblem says what is wrong with an RFC 9116 §2.5.3
// Contact value, or "". Only the forms a researcher can act on: a mailto:
// address or an https: page (RFC 9116 §2.5.3: web URIs MUST be https).
func securityContactProblem(v string) string {
	u, err := url.Parse(v)
	switch {
	case err != nil || strings.ContainsAny(v, " \t\r\n"):
		return "is not a URI"
	case u.Scheme == "mailto":
		if _, err := mail.ParseAddress(u.Opaque); err != nil || u.RawQuery != "" || !strings.Contains(u.Opaque, "@") {
			return "must be mailto:name@domain (one address, no query)"
		}
	case u.Scheme == "https":
		if u.Host == "" || u.User != nil {
			return "must be an absolute https:// URL without credentials"
		}
	default:
		return "must be a mailto: or https: URI (RFC 9116 §2.5.3)"
	}
	return ""
}

// redisPrefixPattern: GATEHOUSE_REDIS_PREFIX goes into key and channel
// names as is.
var redisPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{0,64}$`)

// redisKeyPrefix starts every Redis key and channel name Gatehouse chooses
// (bus channels, rate limits): "" or GATEHOUSE_REDIS_PREFIX + ":".
// asynq's queue keys cannot be prefixed; they are kept apart by the DB
// number only (docs/OPERATIONS.md).
func (c *Config) redisKeyPrefix() string {
	if c.RedisPrefix == "" {
		return ""
	}
	return c.RedisPrefix + ":"
}

func (c *Config) devIdP() bool {
	if c.AllowDevIdP != nil {
		return *c.AllowDevIdP
	}
	return c.Embedded()
}

func (c *Config) demoTenant() bool {
	if c.DemoTenant != nil {
		return *c.DemoTenant && c.devIdP()
	}
	return c.Embedded() && c.devIdP()
}

// signup is the sign-up mode: open embedded, invite in production.
func (c *Config) signup() string {
	if c.Signup != "" {
		return c.Signup
	}
	if c.Embedded() {
		return accounts.SignupOpen
	}
	return accounts.SignupInvite
}

// platformIdPs lists the configured console sign-in providers.
func (c *Config) platformIdPs() []httpx.PlatformIdP {
	var out []httpx.PlatformIdP
	if c.PlatformGitHubClientID != "" {
		out = append(out, httpx.PlatformIdP{Label: "GitHub", ClientSecret: c.PlatformGitHubClientSecret,
			Config: tenants.IdPConfig{Type: tenants.IdPGitHub, ClientID: c.PlatformGitHubClientID}})
	}
	if c.PlatformGoogleClientID != "" {
		out = append(out, httpx.PlatformIdP{Label: "Google", ClientSecret: c.PlatformGoogleClientSecret,
			Config: tenants.IdPConfig{Type: tenants.IdPGoogle, ClientID: c.PlatformGoogleClientID}})
	}
	if c.PlatformOIDCClientID != "" {
		out = append(out, httpx.PlatformIdP{Label: c.PlatformOIDCName, ClientSecret: c.PlatformOIDCClientSecret,
			Config: tenants.IdPConfig{Type: tenants.IdPOIDC, ClientID: c.PlatformOIDCClientID, IssuerURL: strings.TrimRight(c.PlatformOIDCIssuer, "/")}})
	}
	return out
}

func (c *Config) inProcessWorkers() bool {
	if c.InProcessWorkers != nil {
		return *c.InProcessWorkers
	}
	return c.Embedded() || c.RedisURL == ""
}

// secretKeys returns the sealing keys; in embedded mode a key is generated
// once and kept beside the database file with 0600 permissions.
func (c *Config) secretKeys() ([][]byte, error) {
	if len(c.SecretKeys) > 0 {
		return tenants.ParseSecretKeys(c.SecretKeys)
	}
	// GATEHOUSE_SQLITE_PATH may be a DSN ("file:…?_pragma=…"): the key sits
	// beside the database file itself.
	dbFile, _, _ := strings.Cut(strings.TrimPrefix(c.SQLitePath, "file:"), "?")
	path := filepath.Join(filepath.Dir(dbFile), strings.TrimSuffix(filepath.Base(dbFile), filepath.Ext(dbFile))+".key")
	if b, err := os.ReadFile(path); err == nil {
		return tenants.ParseSecretKeys([]string{strings.TrimSpace(string(b))})
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read secret key file %s: %w", path, err)
	}
	raw := []byte(tenants.RandomToken())
	key, _ := tenants.ParseSecretKeys([]string{string(raw)})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race
			return c.secretKeys()
		}
		return nil, fmt.Errorf("create secret key file %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Write(append(raw, '\n')); err != nil {
		return nil, err
	}
	return key, nil
}

func (c *Config) refusePrivateUpstreams() bool {
	if c.RefusePrivateUpstreams != nil {
		return *c.RefusePrivateUpstreams
	}
	return !c.Embedded() && !c.AllowPrivateFetch
}
