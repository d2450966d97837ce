package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/api"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants/limits"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// replica starts one platform HTTP server on the shared database file with
// its own Redis connection (what a second `gatehouse serve` has, with the
// same secret key).
func replica(t *testing.T, dsn, redisAddr string, redisDB int, trusted []string) (*httptest.Server, *testkit.Kit) {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: redisAddr, DB: redisDB})
	t.Cleanup(func() { rc.Close() })
	return serve(t, testkit.Options{DSN: dsn, SecretKeys: [][]byte{make([]byte, 32)},
		// A long timeout: the assertion is about sharing, not a loaded CI
		// machine's Redis latency (that fails open, by design).
		Limits: limits.NewRedis(rc, "gatehouse:rl:", nil).WithTimeout(10 * time.Second)}, &api.Options{TrustedProxies: trusted}, nil)
}

// Issue 13: limits hold across replicas. Two servers sharing one Redis
// together allow exactly the DCR burst per tenant and IP (limits.DCR), and
// the provisioning API limit per key; behind a trusted proxy the client IP
// comes from X-Forwarded-For, from anyone else it is ignored.
func TestLimitsHoldAcrossTwoReplicas(t *testing.T) {
	dsn := testdb.SQLite(t)
	addr, db := testdb.Redis(t)
	// Replica a trusts the loopback proxy; b trusts no one.
	a, k := replica(t, dsn, addr, db, []string{"127.0.0.1"})
	b, _ := replica(t, dsn, addr, db, nil)
	createTenant(t, k)

	register := func(srv *httptest.Server, i int, xff string) *http.Response {
		resp, _ := doReq(t, srv, request{method: "POST", path: "/t/acme/oauth/register", forwardedFor: xff,
			body: fmt.Sprintf(`{"redirect_uris":["http://127.0.0.1:%d/cb"],"client_name":"c%d"}`, 10000+i, i)})
		return resp
	}
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			srv := a
			if i%2 == 1 {
				srv = b
			}
			resp := register(srv, i, "")
			mu.Lock()
			counts[resp.StatusCode]++
			mu.Unlock()
			if resp.StatusCode == 429 {
				if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 1 {
					t.Errorf("429 without Retry-After")
				}
			}
		}(i)
	}
	wg.Wait()
	if counts[201] != limits.DCR.Burst || counts[429] != 40-limits.DCR.Burst {
		t.Fatalf("two replicas answered %v; want exactly %d registrations (the shared burst) and the rest 429", counts, limits.DCR.Burst)
	}
	// Behind the trusted proxy, another client IP is another bucket.
	if resp := register(a, 100, "198.51.100.7"); resp.StatusCode != 201 {
		t.Fatalf("trusted proxy's client: %d", resp.StatusCode)
	}
	// From an untrusted peer, X-Forwarded-For is ignored (no escaping the limit).
	if resp := register(b, 101, "198.51.100.8"); resp.StatusCode != 429 {
		t.Fatalf("untrusted X-Forwarded-For escaped the limit: %d", resp.StatusCode)
	}

	// The provisioning API per key, the token and authorize endpoints per
	// tenant + client + IP, alternating replicas: one shared bucket, not
	// one per replica (two separate buckets would let 2×Burst through).
	// Every 429 says when to retry, in its surface's format.
	for _, c := range []struct {
		name  string
		limit limits.Limit
		extra int    // requests beyond the burst
		ctype string // of a 429
		req   request
	}{
		{"API", limits.API, 100, "application/problem+json", request{method: "GET", path: "/api/v1/tenants", auth: "Bearer " + adminToken}},
		{"token", limits.Token, 40, "application/json", request{method: "POST", path: "/t/acme/oauth/token",
			body: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"limit-client"}}.Encode()}},
		{"authorize", limits.Authorize, 40, "", request{method: "GET", path: "/t/acme/oauth/authorize?client_id=limit-client&response_type=code"}},
	} {
		over, total := 0, c.limit.Burst+c.extra
		start := time.Now()
		for i := 0; i < total; i++ {
			srv := a
			if i%2 == 1 {
				srv = b
			}
			resp, _ := doReq(t, srv, c.req)
			if resp.StatusCode == 429 {
				over++
				if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 1 {
					t.Errorf("%s 429 without Retry-After", c.name)
				}
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
					t.Fatalf("%s 429 is not %s: %s", c.name, c.ctype, resp.Header.Get("Content-Type"))
				}
			}
		}
		// GCRA regains one request per Every while the loop runs.
		maxAllowed := c.limit.Burst + int(time.Since(start)/c.limit.Every) + 1
		if over == 0 || total-over > maxAllowed {
			t.Fatalf("%s limit across replicas: %d allowed of %d; at most %d may pass", c.name, total-over, total, maxAllowed)
		}
	}
}
