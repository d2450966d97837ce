package oauth

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

// cimdHost serves a client metadata document at every path and counts the
// fetches; cacheControl is its Cache-Control, fail makes it answer 500 and
// gate (when set) holds each answer until it is closed.
type cimdHost struct {
	*httptest.Server
	fetches      atomic.Int32
	fail         atomic.Bool
	cacheControl string
	gate         chan struct{}
}

func startCIMDHost(t *testing.T, cacheControl string, gate chan struct{}) *cimdHost {
	t.Helper()
	h := &cimdHost{cacheControl: cacheControl, gate: gate}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fetches.Add(1)
		if h.gate != nil {
			<-h.gate
		}
		if h.fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if h.cacheControl != "" {
			w.Header().Set("Cache-Control", h.cacheControl)
		}
		_ = json.NewEncoder(w).Encode(CIMDDocument{ClientID: h.URL + r.URL.Path, ClientName: "Test",
			RedirectURIs: []string{"https://app.example/cb"}})
	}))
	t.Cleanup(h.Close)
	return h
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Many authorization requests naming a client whose document is not yet
// cached share one fetch.
func TestCIMDConcurrentFirstFetchesFetchOnce(t *testing.T) {
	gate := make(chan struct{})
	h := startCIMDHost(t, "max-age=60", gate)
	r := NewCIMDResolver(&CIMDOptions{Client: h.Client()})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc, err := r.Resolve(context.Background(), h.URL+"/client.json")
			if err == nil && doc.ClientName != "Test" {
				t.Errorf("document %+v", doc)
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
	if got := h.fetches.Load(); got != 1 {
		t.Fatalf("%d concurrent first resolves fetched the document %d times, want 1", n, got)
	}
}

// A document is reused for its max-age and fetched again after it; one
// marked no-store is fetched every time.
func TestCIMDCacheHonoursMaxAgeAndNoStore(t *testing.T) {
	clk := &testClock{t: time.Unix(1_000_000, 0)}
	h := startCIMDHost(t, "max-age=60", nil)
	r := NewCIMDResolver(&CIMDOptions{Client: h.Client(), Now: clk.now})
	resolve := func() {
		t.Helper()
		if _, err := r.Resolve(context.Background(), h.URL+"/client.json"); err != nil {
			t.Fatal(err)
		}
	}
	resolve()
	clk.add(59 * time.Second)
	resolve()
	if got := h.fetches.Load(); got != 1 {
		t.Fatalf("within max-age: %d fetches, want 1", got)
	}
	clk.add(2 * time.Second)
	resolve()
	if got := h.fetches.Load(); got != 2 {
		t.Fatalf("after max-age: %d fetches, want 2", got)
	}

	ns := startCIMDHost(t, "no-store", nil)
	r = NewCIMDResolver(&CIMDOptions{Client: ns.Client(), Now: clk.now})
	for i := 0; i < 2; i++ {
		if _, err := r.Resolve(context.Background(), ns.URL+"/client.json"); err != nil {
			t.Fatal(err)
		}
	}
	if got := ns.fetches.Load(); got != 2 {
		t.Fatalf("no-store: %d fetches, want 2", got)
	}
}

// A failed fetch is an error and is not kept: the next resolve fetches
// again, and only its success is cached.
func TestCIMDFailedFetchIsNotCached(t *testing.T) {
	h := startCIMDHost(t, "max-age=60", nil)
	r := NewCIMDResolver(&CIMDOptions{Client: h.Client()})
	h.fail.Store(true)
	for i := 0; i < 2; i++ {
		if _, err := r.Resolve(context.Background(), h.URL+"/client.json"); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
			t.Fatalf("resolve %d while failing: %v", i, err)
		}
	}
	h.fail.Store(false)
	for i := 0; i < 2; i++ {
		if _, err := r.Resolve(context.Background(), h.URL+"/client.json"); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.fetches.Load(); got != 3 {
		t.Fatalf("fetches = %d, want 3 (two failures, then one success reused)", got)
	}
}

// The cache holds a bounded number of documents.
func TestCIMDCacheIsBounded(t *testing.T) {
	h := startCIMDHost(t, "max-age=3600", nil)
	r := NewCIMDResolver(&CIMDOptions{Client: h.Client(), MaxEntries: 3})
	for i := 0; i < 10; i++ {
		if _, err := r.Resolve(context.Background(), h.URL+"/client"+string(rune('a'+i))+".json"); err != nil {
			t.Fatal(err)
		}
		if n := r.cache.Len(); n > 3 {
			t.Fatalf("%d documents cached, bound is 3", n)
		}
	}
}
