package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants/egress"
	"github.com/gatehouse/gatehouse/workers"
)

// Test-only hooks for the cross-process tests in e2e/: they let the binary
// fetch client ID metadata documents (CIMD) from a local TLS fake standing
// in for a real client's host (e.g. https://claude.ai/oauth/mcp-oauth-client-metadata).
//
//	GATEHOUSE_TEST_CA_FILE   PEM file of a CA trusted for CIMD fetches (added to the system roots)
//	GATEHOUSE_TEST_HOST_MAP  comma-separated host:port=addr:port dial overrides for CIMD fetches
//
//	GATEHOUSE_TEST_DNS_ADDR  host:port of a DNS server for custom-domain TXT checks, which then run every second
//
// All are refused unless GATEHOUSE_ALLOW_PRIVATE_FETCH=true (itself refused
// in production mode) and are logged loudly at start. Never set them in production.

// testCIMDClient returns the CIMD fetch client the test hooks describe, or nil.
func (c *Config) testCIMDClient() (*http.Client, error) {
	if c.TestCAFile == "" && c.TestHostMap == "" {
		return nil, nil
	}
	if !c.AllowPrivateFetch {
		return nil, errors.New("GATEHOUSE_TEST_CA_FILE / GATEHOUSE_TEST_HOST_MAP are test-only and need GATEHOUSE_ALLOW_PRIVATE_FETCH=true")
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TestCAFile != "" {
		pem, err := os.ReadFile(c.TestCAFile)
		if err != nil {
			return nil, fmt.Errorf("GATEHOUSE_TEST_CA_FILE: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("GATEHOUSE_TEST_CA_FILE: no PEM certificate in %s", c.TestCAFile)
		}
		tlsCfg.RootCAs = pool
	}
	hostMap := map[string]string{}
	for _, pair := range strings.Split(c.TestHostMap, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		from, to, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("GATEHOUSE_TEST_HOST_MAP: %q is not host:port=addr:port", pair)
		}
		hostMap[strings.ToLower(from)] = to
	}
	// The outbound address policy still applies (private allowed, as the
	// test hooks need GATEHOUSE_ALLOW_PRIVATE_FETCH; link-local and metadata
	// refused), after the host map.
	dialer := &egress.Dialer{Policy: egress.Policy{AllowPrivate: true}, Timeout: 5 * time.Second}
	tr := &http.Transport{
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 5 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := hostMap[strings.ToLower(addr)]; ok {
				addr = to
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	// The CIMD resolver never follows redirects, whatever this client says.
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, nil
}

// testHooks returns the resolver and schedule the test hooks ask for (the
// DNS hook; a fast upstream token refresh), or nils.
func (c *Config) testHooks() (*net.Resolver, map[string]time.Duration) {
	if !c.AllowPrivateFetch {
		return nil, nil
	}
	var schedule map[string]time.Duration
	if c.TestUpstreamRefreshEvery > 0 {
		schedule = map[string]time.Duration{workers.TypeRefreshUp: c.TestUpstreamRefreshEvery}
	}
	if c.TestDNSAddr == "" {
		return nil, schedule
	}
	if schedule == nil {
		schedule = map[string]time.Duration{}
	}
	schedule[workers.TypeVerifyDomains] = time.Second
	addr := c.TestDNSAddr
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}, schedule
}
