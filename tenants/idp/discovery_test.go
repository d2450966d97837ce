package idp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// countedIssuer serves an OIDC discovery document for every issuer path
// below it and counts the fetches; fail makes it answer 500, gate (when
// set) holds each answer until it is closed.
type countedIssuer struct {
	*httptest.Server
	fetches atomic.Int32
	fail    atomic.Bool
	gate    chan struct{}
}

func startCountedIssuer(t *testing.T, gate chan struct{}) *countedIssuer {
	t.Helper()
	d := &countedIssuer{gate: gate}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		issuer, ok := strings.CutSuffix(r.URL.Path, "/.well-known/openid-configuration")
		if !ok {
			http.NotFound(w, r)
			return
		}
		d.fetches.Add(1)
		if d.gate != nil {
			<-d.gate
		}
		if d.fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		iss := d.URL + issuer
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize",
			"token_endpoint": iss + "/token", "jwks_uri": iss + "/jwks"})
	}))
	t.Cleanup(d.Close)
	return d
}

// Many sign-ins arriving at once for an issuer not yet discovered share
// one discovery.
func TestConcurrentFirstDiscoveriesFetchOnce(t *testing.T) {
	withProviderClock(t, time.Now)
	gate := make(chan struct{})
	d := startCountedIssuer(t, gate)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := discover(context.Background(), d.Client(), d.URL+"/iss")
			if err == nil && p.Endpoint().TokenURL != d.URL+"/iss/token" {
				t.Errorf("token endpoint %q", p.Endpoint().TokenURL)
			}
			errs <- err
		}()
	}
	time.Sleep(200 * time.Millisecond) // let the callers pile up behind the held answer
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := d.fetches.Load(); got != 1 {
		t.Fatalf("%d concurrent first discoveries fetched the document %d times, want 1", n, got)
	}
}

// A failed discovery is an error for its callers and is not kept: the next
// sign-in discovers again, and its success is what is cached.
func TestFailedDiscoveryIsNotCached(t *testing.T) {
	withProviderClock(t, time.Now)
	d := startCountedIssuer(t, nil)
	d.fail.Store(true)
	if _, err := discover(context.Background(), d.Client(), d.URL+"/iss"); err == nil {
		t.Fatal("a 500 discovery answer was accepted")
	}
	if _, err := discover(context.Background(), d.Client(), d.URL+"/iss"); err == nil {
		t.Fatal("the failure was cached as a success")
	}
	d.fail.Store(false)
	for i := 0; i < 2; i++ {
		if _, err := discover(context.Background(), d.Client(), d.URL+"/iss"); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.fetches.Load(); got != 3 {
		t.Fatalf("fetches = %d, want 3 (two failures, then one success reused)", got)
	}
}

// The cache holds a bounded number of issuers.
func TestDiscoveryCacheIsBounded(t *testing.T) {
	withProviderClock(t, time.Now, 3)
	d := startCountedIssuer(t, nil)
	for i := 0; i < 10; i++ {
		if _, err := discover(context.Background(), d.Client(), d.URL+"/iss"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
		if n := providers.Len(); n > 3 {
			t.Fatalf("%d issuers cached, bound is 3", n)
		}
	}
}
