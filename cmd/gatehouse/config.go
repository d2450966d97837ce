package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/gatehouse/gatehouse/tenants"
)

// Config is read from GATEHOUSE_* environment variables (flags may override).
type Config struct {
	Addr              string   `env:"GATEHOUSE_ADDR" envDefault:":8080"`
	PublicURL         string   `env:"GATEHOUSE_PUBLIC_URL"`
	DatabaseURL       string   `env:"GATEHOUSE_DATABASE_URL"`
	SQLitePath        string   `env:"GATEHOUSE_SQLITE_PATH" envDefault:"gatehouse.db"`
	RedisURL          string   `env:"GATEHOUSE_REDIS_URL"`
	TenantDomain      string   `env:"GATEHOUSE_TENANT_DOMAIN"`
	SecretKeys        []string `env:"GATEHOUSE_SECRET_KEY" envSeparator:","`
	AdminToken        string   `env:"GATEHOUSE_ADMIN_TOKEN"`
	AllowDevIdP       *bool    `env:"GATEHOUSE_ALLOW_DEV_IDP"`
	AllowPrivateFetch bool     `env:"GATEHOUSE_ALLOW_PRIVATE_FETCH"`
	DemoTenant        *bool    `env:"GATEHOUSE_DEMO_TENANT"`
	LogFormat         string   `env:"GATEHOUSE_LOG_FORMAT"` // json | text (default: text on a terminal, else json)
	LogLevel          string   `env:"GATEHOUSE_LOG_LEVEL" envDefault:"info"`
	TrustedProxies    []string `env:"GATEHOUSE_TRUSTED_PROXIES" envSeparator:","`
	// RefusePrivateUpstreams: default on in production mode unless private
	// fetches are allowed (tests); off in the embedded default.
	RefusePrivateUpstreams *bool `env:"GATEHOUSE_REFUSE_PRIVATE_UPSTREAMS"`
	// Workers: run the worker system inside serve (default: embedded mode only).
	InProcessWorkers *bool `env:"GATEHOUSE_INPROCESS_WORKERS"`
	// Test-only hooks for e2e (testhooks.go); refused without AllowPrivateFetch.
	TestCAFile  string `env:"GATEHOUSE_TEST_CA_FILE"`
	TestHostMap string `env:"GATEHOUSE_TEST_HOST_MAP"`
}

// Embedded reports whether this is the embedded default (SQLite, in-process queue).
func (c *Config) Embedded() bool { return c.DatabaseURL == "" }

func loadConfig() (*Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return &c, nil
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
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			bad("GATEHOUSE_REDIS_URL", "must be a redis:// or rediss:// URL")
		}
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
	if (c.TestCAFile != "" || c.TestHostMap != "") && !c.AllowPrivateFetch {
		bad("GATEHOUSE_TEST_CA_FILE", "GATEHOUSE_TEST_CA_FILE and GATEHOUSE_TEST_HOST_MAP are test-only and need GATEHOUSE_ALLOW_PRIVATE_FETCH=true")
	}
	if c.AllowPrivateFetch && !c.Embedded() && !c.devIdP() {
		bad("GATEHOUSE_ALLOW_PRIVATE_FETCH", "is a test-only setting and is refused in production mode")
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
	path := filepath.Join(filepath.Dir(c.SQLitePath), strings.TrimSuffix(filepath.Base(c.SQLitePath), filepath.Ext(c.SQLitePath))+".key")
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
