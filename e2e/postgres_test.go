package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// productionServers starts n `gatehouse serve` processes on one fresh
// Postgres database and one reserved Redis DB, sharing one public URL (the
// first one's TLS front), as replicas behind a load balancer, each with env
// added. The first also runs the workers (audit writes).
func productionServers(t *testing.T, n int, env ...string) []*server {
	t.Helper()
	dbURL := testdb.Postgres(t)
	addr, db := testdb.Redis(t)
	redisURL := fmt.Sprintf("redis://%s/%d", addr, db)
	first := ownServer(t, serverOpts{DatabaseURL: dbURL, RedisURL: redisURL, Env: append([]string{"GATEHOUSE_INPROCESS_WORKERS=true"}, env...)})
	out := []*server{first}
	for i := 1; i < n; i++ {
		out = append(out, ownServer(t, serverOpts{DatabaseURL: dbURL, RedisURL: redisURL, PublicURL: first.base,
			Env: append([]string{"GATEHOUSE_INPROCESS_WORKERS=false"}, env...)}))
	}
	return out
}

// The client flows in production mode (Postgres + Redis): the TypeScript
// SDK and the Go SDK (DCR), both URL modes.
func TestPostgresRedisMode(t *testing.T) {
	t.Parallel()
	s := productionServers(t, 1)[0]
	t.Run("typescript-sdk", func(t *testing.T) { tsFlows(t, s) })
	t.Run("go-sdk", func(t *testing.T) { goSDKFlows(t, s) })
}

// via sends one MCP request with token to replica r, addressed to resource
// as a load balancer would forward it (Host header of the public URL).
func via(r *server, resource, token string) (int, string) {
	u, _ := url.Parse(resource)
	target := r.direct + u.Path
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`))
	req.Host = u.Host
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return resp.StatusCode, string(b)
}

// Two replicas on one Postgres and one Redis: a token issued by the first
// works at the second, and a grant revoked through the first's API is
// refused by the second within 5 s (docs/RULES.md §6).
func TestTwoReplicasShareTokensAndRevocation(t *testing.T) {
	t.Parallel()
	rs := productionServers(t, 2)
	a, b := rs[0], rs[1]
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			tn := newTenant(t, a, "replica", nil)
			f, access, _ := oauthDone(t, tn, mode, "Claude-User", "Claude")
			if st, body := via(a, f.site.Resource, access); st != http.StatusOK {
				t.Fatalf("first replica: %d %s", st, body)
			}
			// The second replica takes the token (and now caches the grant as live).
			for i := 0; i < 3; i++ {
				if st, body := via(b, f.site.Resource, access); st != http.StatusOK {
					t.Fatalf("second replica: %d %s", st, body)
				}
			}
			st, m := a.api(t, http.MethodGet, "/api/v1/tenants/"+tn.slug+"/grants", nil)
			items, _ := m["items"].([]any)
			if st != http.StatusOK || len(items) != 1 {
				t.Fatalf("grants: %d %v", st, m)
			}
			id := items[0].(map[string]any)["id"].(string)
			start := time.Now()
			if st, m := a.api(t, http.MethodDelete, "/api/v1/tenants/"+tn.slug+"/grants/"+id, nil); st/100 != 2 {
				t.Fatalf("revoke: %d %v", st, m)
			}
			var flipped time.Duration
			for time.Since(start) < 6*time.Second {
				if st, _ := via(b, f.site.Resource, access); st == http.StatusUnauthorized {
					flipped = time.Since(start)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if flipped == 0 {
				t.Fatalf("the second replica still accepts the revoked grant's token after 6 s")
			}
			if flipped > 5*time.Second {
				t.Errorf("revocation reached the second replica after %v, want ≤ 5 s", flipped)
			}
			t.Logf("MEASURED: revocation through replica 1 refused at replica 2 after %v (%s mode)", flipped.Round(time.Millisecond), mode)
		})
	}
}
