package oauth

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

// startCIMDHost serves a client metadata document at every path, with the
// given Cache-Control, behind origin.
func startCIMDHost(t *testing.T, cacheControl string, origin *staletest.Origin) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !origin.Serve(w) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		_ = json.NewEncoder(w).Encode(CIMDDocument{ClientID: srv.URL + r.URL.Path, ClientName: "Test",
			RedirectURIs: []string{"https://app.example/cb"}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Many authorization requests naming a client whose document is not yet
// cached share one fetch.
func TestCIMDConcurrentFirstFetchesFetchOnce(t *testing.T) {
	origin := staletest.NewOrigin(true)
	srv := startCIMDHost(t, "max-age=60", origin)
	r := NewCIMDResolver(&CIMDOptions{Client: srv.Client()})
	origin.Together(t, 20, func() error {
		doc, err := r.Resolve(context.Background(), srv.URL+"/client.json")
		if err == nil && doc.ClientName != "Test" {
			return fmt.Errorf("document %+v", doc)
		}
		return err
	})
	if got := origin.Fetches(); got != 1 {
		t.Fatalf("20 concurrent first resolves fetched the document %d times, want 1", got)
	}
}

// A document is reused for its max-age and fetched again after it; one
// marked no-store is fetched every time.
func TestCIMDCacheHonoursMaxAgeAndNoStore(t *testing.T) {
	clk := staletest.NewClock(time.Unix(1_000_000, 0))
	resolver := func(cacheControl string) (*staletest.Origin, func()) {
		origin := staletest.NewOrigin(false)
		srv := startCIMDHost(t, cacheControl, origin)
		r := NewCIMDResolver(&CIMDOptions{Client: srv.Client(), Now: clk.Now})
		return origin, func() {
			t.Helper()
			if _, err := r.Resolve(context.Background(), srv.URL+"/client.json"); err != nil {
				t.Fatal(err)
			}
		}
	}
	origin, resolve := resolver("max-age=60")
	resolve()
	clk.Add(59 * time.Second)
	resolve()
	if got := origin.Fetches(); got != 1 {
		t.Fatalf("within max-age: %d fetches, want 1", got)
	}
	clk.Add(2 * time.Second)
	resolve()
	if got := origin.Fetches(); got != 2 {
		t.Fatalf("after max-age: %d fetches, want 2", got)
	}

	origin, resolve = resolver("no-store")
	resolve()
	resolve()
	if got := origin.Fetches(); got != 2 {
		t.Fatalf("no-store: %d fetches, want 2", got)
	}
}

// A failed fetch is an error and is not kept: the next resolve fetches
// again, and only its success is cached.
func TestCIMDFailedFetchIsNotCached(t *testing.T) {
	origin := staletest.NewOrigin(false)
	srv := startCIMDHost(t, "max-age=60", origin)
	r := NewCIMDResolver(&CIMDOptions{Client: srv.Client()})
	origin.Fail(true)
	for i := 0; i < 4; i++ {
		if i == 2 {
			origin.Fail(false)
		}
		_, err := r.Resolve(context.Background(), srv.URL+"/client.json")
		if failing := i < 2; failing != (err != nil) || (failing && !strings.Contains(err.Error(), "HTTP 500")) {
			t.Fatalf("resolve %d (origin failing: %v): %v", i, failing, err)
		}
	}
	if got := origin.Fetches(); got != 3 {
		t.Fatalf("fetches = %d, want 3 (two failures, then one success reused)", got)
	}
}

// The cache holds a bounded number of documents.
func TestCIMDCacheIsBounded(t *testing.T) {
	srv := startCIMDHost(t, "max-age=3600", staletest.NewOrigin(false))
	r := NewCIMDResolver(&CIMDOptions{Client: srv.Client(), MaxEntries: 3})
	for i := 0; i < 10; i++ {
		if _, err := r.Resolve(context.Background(), fmt.Sprintf("%s/client%d.json", srv.URL, i)); err != nil {
			t.Fatal(err)
		}
		if n := r.cache.Len(); n > 3 {
			t.Fatalf("%d documents cached, bound is 3", n)
		}
	}
}
