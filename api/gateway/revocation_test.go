package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/workers"
)

// docs/RULES.md §6: with no notice at all (a lost Bus message), a revoked grant is
// refused once the liveness TTL passes, and that TTL is at most 5 s.
func TestRevocationTTLFallback(t *testing.T) {
	if access.DefaultLiveTTL > 5*time.Second {
		t.Fatalf("DefaultLiveTTL %s exceeds the 5 s revocation bound", access.DefaultLiveTTL)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	e := newEnv(t, &envOpts{gw: &gateway.Options{Now: clock}})
	tn := e.tenant("acme", serveMCP(t, okUpstream()), nil)
	tok, g := e.token(tn, nil)
	call := func() int {
		resp := e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok})
		return resp.StatusCode
	}
	if s := call(); s != 200 {
		t.Fatalf("before revocation: %d", s)
	}
	// Revoked behind the gateway's back: no Bus notice reaches it.
	if err := e.store.RevokeGrant(context.Background(), tn.ID, g.ID, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	advance(access.DefaultLiveTTL)
	if s := call(); s != 401 {
		t.Fatalf("after the TTL without a notice: %d, want 401", s)
	}
	if ev := e.audit.Last(tenants.ActMCPDenied); ev == nil || ev.Reason != tenants.ReasonRevoked {
		t.Fatalf("audit %+v", ev)
	}
}

// docs/RULES.md §6, two replicas on one Postgres and one Redis: a token issued by
// the first validates at the second (keys are shared through the database),
// and revoking its grant through the first is refused by the second as soon
// as the Bus notice arrives — the second's cache TTL is an hour here, so
// only the notice can explain the refusal.
func TestRevocationReachesOtherReplicaOverBus(t *testing.T) {
	dsn := testdb.Postgres(t)
	addr, db := testdb.Redis(t)
	newBus := func() *workers.RedisBus {
		c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
		t.Cleanup(func() { c.Close() })
		return workers.NewRedisBus(c, "gatehouse:test:", nil)
	}
	busA, busB := newBus(), newBus()
	key := make([]byte, 32)
	key[3] = 9
	a := newEnv(t, &envOpts{dsn: dsn, bus: busA, liveTTL: time.Hour, secretKey: key})
	storeB, err := gormstore.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { storeB.Close() })
	b := newEnv(t, &envOpts{store: storeB, bus: busB, liveTTL: time.Hour, secretKey: key})

	// Registered after the gateway's own handler, so it runs after it.
	revokedSeen := make(chan string, 4)
	busB.Subscribe(tenants.TopicGrantRevoked, func(p string) { revokedSeen <- p })
	ready := make(chan struct{}, 1)
	busB.Subscribe("test.ping", func(string) {
		select {
		case ready <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	busA.Start(ctx)
	busB.Start(ctx)
	defer busA.Stop()
	defer busB.Stop()
	// Handshake: B is subscribed once it hears a ping.
	deadline := time.Now().Add(guard)
	for heard := false; !heard; {
		_ = busA.Publish(ctx, "test.ping", "x")
		select {
		case <-ready:
			heard = true
		case <-time.After(50 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("replica B never subscribed")
			}
		}
	}

	tn := a.tenant("acme", serveMCP(t, okUpstream()), nil)
	tok, g := a.token(tn, nil) // signed by replica A's key manager
	callA := func() int {
		resp := a.do(http.MethodPost, a.mcpURL(tn), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok})
		return resp.StatusCode
	}
	// Each replica here has its own public URL, so B gets a token for its
	// own resource, signed by B's key manager with the key A created.
	siteB := b.pathSite(tn)
	tokB, gB := b.token(tn, &tokOpts{site: &siteB})
	if s := callA(); s != 200 {
		t.Fatalf("replica A: %d", s)
	}
	// A's token verifies at B's key manager too (same keys from Postgres).
	if _, den, err := b.gw.Verifier().Authenticate(ctx, a.pathSite(tn), []string{"Bearer " + tok}); err != nil || den != nil {
		t.Fatalf("replica B refuses replica A's token: %+v %v", den, err)
	}
	callB := func() int {
		resp := b.do(http.MethodPost, b.mcpURL(tn), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tokB})
		return resp.StatusCode
	}
	if s := callB(); s != 200 {
		t.Fatalf("replica B before revocation: %d", s)
	}
	// Warm B's cache for A's grant as well, then revoke both through A.
	for _, gid := range []string{g.ID, gB.ID} {
		if err := tenants.RevokeGrant(ctx, a.store, busA, a.audit, tn.ID, gid, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if p := wait(t, revokedSeen, "the revocation notice at replica B"); p != tn.ID+" "+g.ID && p != tn.ID+" "+gB.ID {
			t.Fatalf("notice payload %q", p)
		}
	}
	if s := callB(); s != 401 {
		t.Fatalf("replica B after revocation through A: %d, want 401", s)
	}
	if _, den, _ := b.gw.Verifier().Authenticate(ctx, a.pathSite(tn), []string{"Bearer " + tok}); den == nil || den.Reason != tenants.ReasonRevoked {
		t.Fatalf("replica B still accepts the revoked token of A: %+v", den)
	}
}

// clientStream is a client's GET stream through the gateway to tenant
// "acme", whose upstream holds every request open as an SSE stream until
// the gateway cancels it or the test ends.
type clientStream struct {
	tn    *tenants.Tenant
	grant *tenants.Grant
	tok   string
	// cancelled receives when the upstream sees a request cancelled; ended
	// is closed when the client's stream ends.
	cancelled <-chan struct{}
	ended     <-chan struct{}
}

func (e *env) openStream(t *testing.T) *clientStream {
	t.Helper()
	cancelled := make(chan struct{}, 8)
	release := make(chan struct{})
	tn := e.tenant("acme", serveMCP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": ok\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-release:
		}
	})), nil)
	t.Cleanup(func() { close(release) })
	tok, g := e.token(tn, nil)
	resp := e.do(http.MethodGet, e.mcpURL(tn), "", map[string]string{"Authorization": "Bearer " + tok})
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	ended := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, resp.Body); close(ended) }()
	return &clientStream{tn: tn, grant: g, tok: tok, cancelled: cancelled, ended: ended}
}

// A revoked grant's open streams (the GET stream, subscriptions/listen) are
// cut when the notice arrives: revocation is not only for new requests.
func TestRevocationCutsOpenStreams(t *testing.T) {
	bus := &testdb.Bus{}
	e := newEnv(t, &envOpts{bus: bus, liveTTL: time.Hour})
	st := e.openStream(t)
	select {
	case <-st.cancelled:
		t.Fatal("stream cut before revocation")
	default:
	}
	if err := tenants.RevokeGrant(context.Background(), e.store, bus, e.audit, st.tn.ID, st.grant.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	wait(t, st.cancelled, "the upstream stream to be cancelled on revocation")
	wait(t, st.ended, "the client stream to end on revocation")
	var found bool
	for _, ev := range e.audit.Find(tenants.ActMCPDenied) {
		if ev.Reason == tenants.ReasonRevoked && ev.Details["stream_closed"] == true {
			found = true
		}
	}
	if !found {
		t.Fatal("no mcp.denied revoked event for the cut stream")
	}
	if resp := e.do(http.MethodGet, e.mcpURL(st.tn), "", map[string]string{"Authorization": "Bearer " + st.tok}); resp.StatusCode != 401 {
		t.Fatalf("reconnect after revocation: %d", resp.StatusCode)
	}
}

// Without any notice, the per-stream liveness re-check cuts the stream.
func TestRevocationCutsOpenStreamsWithoutNotice(t *testing.T) {
	e := newEnv(t, &envOpts{liveTTL: 50 * time.Millisecond})
	st := e.openStream(t)
	if err := e.store.RevokeGrant(context.Background(), st.tn.ID, st.grant.ID, "x", time.Now()); err != nil {
		t.Fatal(err)
	}
	wait(t, st.cancelled, "the stream of a grant revoked without a notice to be cut")
}
