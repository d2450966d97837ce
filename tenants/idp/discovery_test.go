package idp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants/stale/staletest"
)

// withProviderClock gives the discovery cache a clock (and an entry bound)
// for one test; the tests of this package do not run in parallel.
func withProviderClock(t *testing.T, now func() time.Time, max ...int) {
	t.Helper()
	old := providers
	m := discoveryMax
	if len(max) > 0 {
		m = max[0]
	}
	providers = newProviderCache(now, m)
	t.Cleanup(func() { providers = old })
}

// startIssuers serves an OIDC discovery document for every issuer path
// below it, behind origin.
func startIssuers(t *testing.T, origin *staletest.Origin) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		issuer, ok := strings.CutSuffix(r.URL.Path, "/.well-known/openid-configuration")
		if !ok {
			http.NotFound(w, r)
			return
		}
		if !origin.Serve(w) {
			return
		}
		iss := srv.URL + issuer
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize",
			"token_endpoint": iss + "/token", "jwks_uri": iss + "/jwks"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Many sign-ins arriving at once for an issuer not yet discovered share
// one discovery.
func TestConcurrentFirstDiscoveriesFetchOnce(t *testing.T) {
	withProviderClock(t, time.Now)
	origin := staletest.NewOrigin(true)
	srv := startIssuers(t, origin)
	origin.Together(t, 20, func() error {
		p, err := discover(context.Background(), srv.Client(), srv.URL+"/iss")
		if err == nil && p.Endpoint().TokenURL != srv.URL+"/iss/token" {
			return fmt.Errorf("token endpoint %q", p.Endpoint().TokenURL)
		}
		return err
	})
	if got := origin.Fetches(); got != 1 {
		t.Fatalf("20 concurrent first discoveries fetched the document %d times, want 1", got)
	}
}

// A failed discovery is an error for its callers and is not kept: the next
// sign-in discovers again, and its success is what is cached.
func TestFailedDiscoveryIsNotCached(t *testing.T) {
	withProviderClock(t, time.Now)
	origin := staletest.NewOrigin(false)
	srv := startIssuers(t, origin)
	origin.Fail(true)
	for i := 0; i < 4; i++ {
		if i == 2 {
			origin.Fail(false)
		}
		_, err := discover(context.Background(), srv.Client(), srv.URL+"/iss")
		if failing := i < 2; failing != (err != nil) {
			t.Fatalf("discovery %d (issuer failing: %v): %v", i, failing, err)
		}
	}
	if got := origin.Fetches(); got != 3 {
		t.Fatalf("fetches = %d, want 3 (two failures, then one success reused)", got)
	}
}

// The cache holds a bounded number of issuers.
func TestDiscoveryCacheIsBounded(t *testing.T) {
	withProviderClock(t, time.Now, 3)
	srv := startIssuers(t, staletest.NewOrigin(false))
	for i := 0; i < 10; i++ {
		if _, err := discover(context.Background(), srv.Client(), fmt.Sprintf("%s/iss%d", srv.URL, i)); err != nil {
			t.Fatal(err)
		}
		if n := providers.Len(); n > 3 {
			t.Fatalf("%d issuers cached, bound is 3", n)
		}
	}
}
