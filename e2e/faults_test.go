package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// Fault tests (issue 13): each breaks its own postgres or redis-server on a
// spare port in a temp dir, never the shared services.

// ownPostgres is a private PostgreSQL cluster (initdb + pg_ctl).
type ownPostgres struct {
	t        *testing.T
	bin, dir string
	port     int
	asUser   string // run as this user when the tests run as root
}

func pgBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1]
	}
	return ""
}

func startOwnPostgres(t *testing.T) *ownPostgres {
	t.Helper()
	initdb, pgctl := pgBinary("initdb"), pgBinary("pg_ctl")
	if initdb == "" || pgctl == "" {
		missing(t, "initdb/pg_ctl not found (install PostgreSQL server binaries)")
	}
	dir, err := os.MkdirTemp("", "gatehouse-fault-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &ownPostgres{t: t, bin: filepath.Dir(pgctl), dir: dir, port: testdb.FreePort(t)}
	if os.Geteuid() == 0 { // initdb refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asUser = "postgres"
	}
	t.Cleanup(func() {
		_ = p.cmd(pgctl, "-D", filepath.Join(dir, "data"), "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	})
	if out, err := p.cmd(initdb, "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.start()
	return p
}

func (p *ownPostgres) cmd(name string, args ...string) *exec.Cmd {
	if p.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", p.asUser, "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func (p *ownPostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

func (p *ownPostgres) start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir)
	out, err := p.cmd(filepath.Join(p.bin, "pg_ctl"), "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "log"), "-o", opts, "-w", "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		p.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// stop is a fast shutdown: open connections are terminated, as in a crash
// of the primary or a failover.
func (p *ownPostgres) stop() {
	p.t.Helper()
	if out, err := p.cmd(filepath.Join(p.bin, "pg_ctl"), "-D", filepath.Join(p.dir, "data"), "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
		p.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// ownRedis is a private redis-server without persistence.
type ownRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server not found")
	}
	r := &ownRedis{t: t, port: testdb.FreePort(t)}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	r.done = make(chan struct{})
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func(c *exec.Cmd, d chan struct{}) { _ = c.Wait(); close(d) }(r.cmd, r.done)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatal("redis-server did not start")
}

func (r *ownRedis) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
	}
}

// tokenLoad refreshes one grant's tokens in a loop (rotating: each success
// carries the next refresh token) and records every answer.
type tokenLoad struct {
	endpoint, clientID string
	rt                 atomic.Value // string
	hc                 *http.Client

	mu      sync.Mutex
	results []loadResult
}

type loadResult struct {
	at      time.Time // when the answer arrived
	started time.Time // when the request was sent
	status  int
	errc    string // OAuth error code
}

func (l *tokenLoad) once() loadResult {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {l.rt.Load().(string)}, "client_id": {l.clientID}}
	started := time.Now()
	resp, err := l.hc.PostForm(l.endpoint, form)
	r := loadResult{at: time.Now(), started: started}
	if err != nil {
		r.errc = "transport: " + err.Error()
		return r
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&m)
	r.status = resp.StatusCode
	if e, ok := m["error"].(string); ok {
		r.errc = e
	}
	if rt, ok := m["refresh_token"].(string); ok && resp.StatusCode == 200 {
		l.rt.Store(rt)
	}
	return r
}

func (l *tokenLoad) run(ctx context.Context, every time.Duration) {
	for ctx.Err() == nil {
		r := l.once()
		l.mu.Lock()
		l.results = append(l.results, r)
		l.mu.Unlock()
		time.Sleep(every)
	}
}

// gatewayLoad calls the MCP endpoint with one access token in a loop.
type gatewayLoad struct {
	srv      *server
	resource string
	token    string
	mu       sync.Mutex
	results  []loadResult
}

func (g *gatewayLoad) run(ctx context.Context, every time.Duration) {
	for ctx.Err() == nil {
		st, body := via(g.srv, g.resource, g.token)
		r := loadResult{at: time.Now(), status: st}
		if st != 200 {
			r.errc = body
		}
		g.mu.Lock()
		g.results = append(g.results, r)
		g.mu.Unlock()
		time.Sleep(every)
	}
}

func window(rs []loadResult, from, to time.Time) []loadResult {
	var out []loadResult
	for _, r := range rs {
		if !r.at.Before(from) && r.at.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

// signedIn is a tenant with one public DCR client (Claude's registration)
// that has completed the code flow: an access and a refresh token.
type signedIn struct {
	tn         tenant
	f          *flow
	access, rt string
}

func signIn(t *testing.T, s *server, prefix string) signedIn {
	t.Helper()
	tn := newTenant(t, s, prefix, nil)
	f, access, rt := oauthDone(t, tn, "path", "Claude-User", "Claude")
	return signedIn{tn: tn, f: f, access: access, rt: rt}
}

// underLoad refreshes the grant every 250 ms and calls the gateway with its
// access token every 50 ms until stop, which waits for both loops.
func underLoad(s *server, si signedIn) (tl *tokenLoad, gl *gatewayLoad, stop func()) {
	tl = &tokenLoad{endpoint: si.f.endpoint("token_endpoint"), clientID: si.f.clientID, hc: httpClient()}
	tl.rt.Store(si.rt)
	gl = &gatewayLoad{srv: s, resource: si.f.site.Resource, token: si.access}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, fn := range []func(){func() { tl.run(ctx, 250*time.Millisecond) }, func() { gl.run(ctx, 50*time.Millisecond) }} {
		wg.Add(1)
		go func(fn func()) { defer wg.Done(); fn() }(fn)
	}
	return tl, gl, func() { cancel(); wg.Wait() }
}

// firstOK is how long after since the first 200 in rs arrived (0: none).
func firstOK(mu *sync.Mutex, rs *[]loadResult, since time.Time) time.Duration {
	mu.Lock()
	defer mu.Unlock()
	for _, r := range window(*rs, since, time.Now()) {
		if r.status == 200 {
			return r.at.Sub(since)
		}
	}
	return 0
}

// checkNoHalfWrittenGrants: every redeemed grant has its refresh tokens,
// every refresh token its grant, and the live chain is exactly one
// unrotated token. redeemed is the dialect's condition for a grant that
// was redeemed (its lifetime is the refresh lifetime, not a pending
// authorization's minutes).
func checkNoHalfWrittenGrants(t *testing.T, dbh *sql.DB, redeemed string) {
	t.Helper()
	var orphans, rtOrphans, live int
	if err := dbh.QueryRow(`SELECT count(*) FROM grants g WHERE ` + redeemed + `
		AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.tenant_id = g.tenant_id AND r.grant_id = g.id)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if err := dbh.QueryRow(`SELECT count(*) FROM refresh_tokens r WHERE NOT EXISTS
		(SELECT 1 FROM grants g WHERE g.tenant_id = r.tenant_id AND g.id = r.grant_id)`).Scan(&rtOrphans); err != nil {
		t.Fatal(err)
	}
	if err := dbh.QueryRow(`SELECT count(*) FROM refresh_tokens WHERE rotated_at IS NULL`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 || rtOrphans != 0 || live != 1 {
		t.Fatalf("half-written rows: %d grants without refresh tokens, %d refresh tokens without grant, %d unrotated tokens (want 0, 0, 1)", orphans, rtOrphans, live)
	}
	t.Logf("MEASURED: rows checked after the fault: 0 half-written grants, 0 orphan refresh tokens, 1 live refresh token")
}

// Issue 13: Postgres stopped for 10 s under token and gateway load. During
// the outage the token endpoint answers 503 temporarily_unavailable (never
// 404, 500 or invalid_client) and the gateway keeps serving the token it
// verified before; afterwards both recover without a restart; no grant is
// half-written.
func TestFaultPostgresStopped(t *testing.T) {
	t.Parallel()
	pg := startOwnPostgres(t)
	addr, db := testdb.Redis(t)
	s := ownServer(t, serverOpts{DatabaseURL: pg.url(), RedisURL: fmt.Sprintf("redis://%s/%d", addr, db),
		Env: []string{"GATEHOUSE_INPROCESS_WORKERS=true", "GATEHOUSE_DB_QUERY_TIMEOUT=2s"}})
	tl, gl, stopLoad := underLoad(s, signIn(t, s, "pgfault"))
	time.Sleep(2 * time.Second)
	// The outage window starts once the server has stopped (a fast stop
	// still checkpoints; a request it let finish is not an outage answer).
	pg.stop()
	down := time.Now()
	time.Sleep(10 * time.Second)
	// The server accepts connections a moment before pg_ctl start returns
	// (it polls): the outage ends when the start begins.
	restarting := time.Now()
	pg.start()
	up := time.Now()
	// Recovery: the first 200 from each after the restart.
	var tokenBack, gatewayBack time.Duration
	for time.Since(up) < 30*time.Second && (tokenBack == 0 || gatewayBack == 0) {
		time.Sleep(50 * time.Millisecond)
		tokenBack, gatewayBack = firstOK(&tl.mu, &tl.results, up), firstOK(&gl.mu, &gl.results, up)
	}
	time.Sleep(time.Second)
	stopLoad()

	// During the outage: token requests sent after the stop completed and
	// answered before the start (a request whose transaction committed
	// before the stop may answer 200 a moment later).
	var outTok []loadResult
	for _, r := range window(tl.results, down, restarting) {
		if !r.started.Before(down) {
			outTok = append(outTok, r)
		}
	}
	outGw := window(gl.results, down, restarting)
	if len(outTok) == 0 || len(outGw) == 0 {
		t.Fatalf("no load during the outage (%d token, %d gateway requests)", len(outTok), len(outGw))
	}
	bad := map[string]int{}
	for _, r := range outTok {
		if r.status != 503 || r.errc != "temporarily_unavailable" {
			bad[fmt.Sprintf("%d %s", r.status, r.errc)]++
		}
	}
	if len(bad) > 0 {
		t.Errorf("token endpoint during the outage answered %v; want only 503 temporarily_unavailable", bad)
	}
	gwOK, sample := 0, ""
	for _, r := range outGw {
		if r.status == 200 {
			gwOK++
		} else if sample == "" {
			sample = fmt.Sprintf("%d %s (%v after the stop)", r.status, r.errc, r.at.Sub(down).Round(time.Millisecond))
		}
	}
	if gwOK != len(outGw) {
		t.Errorf("gateway served %d of %d requests with a cached-verified token during the outage; first failure: %s\n%s",
			gwOK, len(outGw), sample, strings.Join(s.logLines("unavailable"), "\n"))
	}
	if tokenBack == 0 || gatewayBack == 0 {
		t.Fatalf("no recovery within 30 s of the restart (token %v, gateway %v)", tokenBack, gatewayBack)
	}
	t.Logf("MEASURED: Postgres down 10 s: %d token requests all 503 temporarily_unavailable, gateway %d/%d OK; recovery after restart: token %v, gateway %v",
		len(outTok), gwOK, len(outGw), tokenBack.Round(time.Millisecond), gatewayBack.Round(time.Millisecond))

	dbh, err := sql.Open("pgx", pg.url())
	if err != nil {
		t.Fatal(err)
	}
	defer dbh.Close()
	checkNoHalfWrittenGrants(t, dbh, `g.expires_at > g.created_at + interval '10 minutes'`)
}

// countAudit counts a tenant's audit events with action (all pages).
func countAudit(t *testing.T, s *server, slug, action string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		path := "/api/v1/tenants/" + slug + "/audit?limit=200&action=" + url.QueryEscape(action)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		st, m := s.api(t, http.MethodGet, path, nil)
		if st != 200 {
			t.Fatalf("audit list: %d %v", st, m)
		}
		items, _ := m["items"].([]any)
		n += len(items)
		next, _ := m["next_cursor"].(string)
		if next == "" {
			return n
		}
		cursor = next
	}
}

// Issue 13: Redis killed (no persistence) under load for 10 s, then
// restarted empty. Tokens keep being issued, the gateway keeps working,
// audit events are written synchronously, and none is lost: every
// successful refresh has its token.refreshed event once the queue is back.
func TestFaultRedisStopped(t *testing.T) {
	t.Parallel()
	rd := startOwnRedis(t)
	s := ownServer(t, serverOpts{DatabaseURL: testdb.Postgres(t), RedisURL: fmt.Sprintf("redis://127.0.0.1:%d/0", rd.port),
		Env: []string{"GATEHOUSE_INPROCESS_WORKERS=true"}})
	si := signIn(t, s, "redisfault")
	tn := si.tn
	tl, gl, stopLoad := underLoad(s, si)
	time.Sleep(2 * time.Second)
	down := time.Now()
	rd.kill()
	time.Sleep(10 * time.Second)
	rd.start()
	up := time.Now()
	time.Sleep(3 * time.Second)
	stopLoad()

	outTok := window(tl.results, down, up)
	outGw := window(gl.results, down, up)
	var slowest time.Duration
	okTok := 0
	for i, r := range tl.results {
		if r.status == 200 {
			okTok++
		}
		if i > 0 && !r.at.Before(down) && r.at.Before(up) {
			if d := r.at.Sub(tl.results[i-1].at) - 250*time.Millisecond; d > slowest {
				slowest = d
			}
		}
	}
	for _, r := range outTok {
		if r.status != 200 {
			t.Errorf("token request during the Redis outage: %d %s", r.status, r.errc)
		}
	}
	for _, r := range outGw {
		if r.status != 200 {
			t.Errorf("gateway request during the Redis outage: %d %s", r.status, r.errc)
		}
	}
	if slowest > time.Second {
		t.Errorf("a token request took %v during the Redis outage", slowest)
	}
	// Every refresh answered 200 has its audit event, however it was written
	// (queued, synchronous, or by the confirmation pass after Redis lost it).
	deadline := time.Now().Add(60 * time.Second)
	var got int
	for {
		got = countAudit(t, s, tn.slug, "token.refreshed")
		if got >= okTok || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got != okTok {
		t.Fatalf("audit: %d token.refreshed events for %d successful refreshes (%d lost)", got, okTok, okTok-got)
	}
	t.Logf("MEASURED: Redis killed 10 s: %d token requests (all 200, slowest %v over the pacing), gateway %d/%d OK; audit %d/%d token.refreshed events stored, 0 lost",
		len(outTok), slowest.Round(time.Millisecond), len(outGw), len(outGw), got, okTok)
}

// direct sends a request to replica r as a load balancer would (the public
// Host kept, TLS terminated in front).
func direct(r *server, method, publicURL, body string, hdr map[string]string) (*http.Response, error) {
	u, _ := url.Parse(publicURL)
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, r.direct+u.RequestURI(), rd)
	req.Host = u.Host
	req.Header.Set("X-Forwarded-Proto", "https")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return http.DefaultClient.Do(req)
}

// Issue 13: rolling restart. SIGTERM to one of two replicas while it holds
// an SSE stream, a tool call in progress and token requests: the tool call
// and in-flight token requests finish, the standalone stream ends cleanly
// with a resume hint, the process exits 0 within the drain, and the other
// replica takes the traffic with zero failed token requests.
func TestFaultRollingRestart(t *testing.T) {
	t.Parallel()
	rs := productionServers(t, 2)
	a, b := rs[0], rs[1]
	si := signIn(t, a, "rolling")
	f, access, rt := si.f, si.access, si.rt
	mcpHdr := map[string]string{"Authorization": "Bearer " + access, "Content-Type": "application/json",
		"Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": "2025-06-18"}

	// An MCP session through b.
	resp, err := direct(b, http.MethodPost, f.site.Resource, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`, mcpHdr)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("initialize via b: %v %v", err, resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	mcpHdr["Mcp-Session-Id"] = resp.Header.Get("Mcp-Session-Id")
	if r, err := direct(b, http.MethodPost, f.site.Resource, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, mcpHdr); err == nil {
		r.Body.Close()
	}
	// The standalone GET stream and a 3 s tool call, both through b.
	getResp, err := direct(b, http.MethodGet, f.site.Resource, "", mcpHdr)
	if err != nil || getResp.StatusCode != 200 {
		t.Fatalf("GET stream via b: %v %v", err, getResp)
	}
	callResp, err := direct(b, http.MethodPost, f.site.Resource,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"countdown","arguments":{"from":6,"interval_ms":500},"_meta":{"progressToken":"p1"}}}`, mcpHdr)
	if err != nil || callResp.StatusCode != 200 {
		t.Fatalf("tool call via b: %v %v", err, callResp)
	}
	type streamEnd struct {
		body string
		err  error
	}
	readAll := func(r io.Reader) <-chan streamEnd {
		ch := make(chan streamEnd, 1)
		go func() { b, err := io.ReadAll(r); ch <- streamEnd{string(b), err} }()
		return ch
	}
	getEnd, callEnd := readAll(getResp.Body), readAll(callResp.Body)

	// Token requests: to b while it accepts connections, else to a (a load
	// balancer retries a refused connection on the other replica).
	tokenURL := f.endpoint("token_endpoint")
	var mu sync.Mutex
	var failed []string
	okCount, toA := 0, 0
	var cur atomic.Value
	cur.Store(rt)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cur.Load().(string)}, "client_id": {f.clientID}}.Encode()
			hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
			r, err := direct(b, http.MethodPost, tokenURL, form, hdr)
			if err != nil {
				mu.Lock()
				toA++
				mu.Unlock()
				r, err = direct(a, http.MethodPost, tokenURL, form, hdr)
			}
			if err != nil {
				mu.Lock()
				failed = append(failed, err.Error())
				mu.Unlock()
				continue
			}
			var m map[string]any
			_ = json.NewDecoder(r.Body).Decode(&m)
			r.Body.Close()
			mu.Lock()
			if r.StatusCode == 200 {
				okCount++
				cur.Store(m["refresh_token"].(string))
			} else {
				failed = append(failed, fmt.Sprintf("%d %v", r.StatusCode, m))
			}
			mu.Unlock()
			time.Sleep(150 * time.Millisecond)
		}
	}()

	time.Sleep(time.Second)
	sigterm := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	g := wait(t, getEnd, "the GET stream to end after SIGTERM")
	getAfter := time.Since(sigterm)
	c := wait(t, callEnd, "the tool call to finish")
	select {
	case <-b.done:
	case <-time.After(25 * time.Second):
		t.Fatal("replica did not exit within the 20 s drain")
	}
	exitAfter := time.Since(sigterm)
	time.Sleep(2 * time.Second) // traffic now at a
	cancel()
	wg.Wait()

	if code := b.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("replica exited with %d, want 0", code)
	}
	if g.err != nil || !strings.Contains(g.body, "retry: ") {
		t.Errorf("GET stream ended with %v, body %q; want a clean end with a retry hint", g.err, g.body)
	}
	if c.err != nil || !strings.Contains(c.body, "liftoff") {
		t.Errorf("the in-flight tool call did not finish: %v %q", c.err, c.body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failed) > 0 || okCount == 0 || toA == 0 {
		t.Fatalf("token requests: %d ok, %d sent to the other replica, failed: %v", okCount, toA, failed)
	}
	t.Logf("MEASURED: rolling restart: GET stream ended cleanly %v after SIGTERM, tool call finished, exit 0 after %v; %d token requests OK (%d at the other replica), 0 failed",
		getAfter.Round(time.Millisecond), exitAfter.Round(time.Millisecond), okCount, toA)
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// Issue 13: a read-only SQLite file in embedded mode (the disk became
// read-only or full): writes answer 503 temporarily_unavailable with the
// cause logged plainly, reads keep working, and the file is intact.
func TestFaultReadOnlySQLite(t *testing.T) {
	t.Parallel()
	s := ownServer(t, serverOpts{})
	si := signIn(t, s, "rofault")
	f, access, rt := si.f, si.access, si.rt

	restart := func(extra ...string) {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		<-s.done
		s.env = append(s.env, extra...)
		if err := s.start(); err != nil {
			t.Fatal(err)
		}
	}
	dbPath := filepath.Join(s.dir, "gatehouse.db")
	// SQLite's query_only: every write fails with SQLITE_READONLY, as on a
	// read-only or full disk (root ignores file permissions, so chmod cannot).
	restart("GATEHOUSE_SQLITE_PATH=file:" + dbPath + "?_pragma=query_only(1)&_pragma=busy_timeout(2000)&_pragma=foreign_keys(1)&_time_format=sqlite")
	a := f.refresh(rt, nil)
	if a.status != http.StatusServiceUnavailable || a.json()["error"] != "temporarily_unavailable" {
		t.Fatalf("refresh on a read-only database: %s; want 503 temporarily_unavailable", a)
	}
	if st, body := via(s, f.site.Resource, access); st != 200 {
		t.Fatalf("gateway (reads only) on a read-only database: %d %s", st, body)
	}
	if lines := s.logLines("database unavailable"); len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "readonly") {
		t.Fatalf("no clear log line naming the read-only database:\n%s", s.logTail(20))
	}
	restart("GATEHOUSE_SQLITE_PATH=" + dbPath)
	a = f.refresh(rt, nil)
	if a.status != 200 {
		t.Fatalf("refresh after the disk is writable again: %s", a)
	}
	openIntactSQLite(t, dbPath)
	t.Logf("MEASURED: read-only SQLite: refresh 503 temporarily_unavailable, gateway 200, integrity_check ok, refresh works after recovery")
}

// openIntactSQLite opens the embedded database file and fails the test
// unless PRAGMA integrity_check is ok.
func openIntactSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	dbh, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbh.Close() })
	var check string
	if err := dbh.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	return dbh
}

// Issue 13: a real full disk under embedded SQLite. The database lives on
// a 32 MiB tmpfs the test mounts (tests run as root); under token and
// gateway load a filler file takes the last byte. Writes answer 503
// temporarily_unavailable (never 500) with "database or disk is full" in
// the log, the gateway keeps serving, a failed rotation leaves the refresh
// token usable; once the filler is removed writes work again without a
// restart, integrity_check is ok and no grant is half-written.
func TestFaultDiskFullSQLite(t *testing.T) {
	t.Parallel()
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Fatalf("mounting a tmpfs for a real full disk needs root (tests run as root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", disk).Run() })
	dbPath := filepath.Join(disk, "gatehouse.db")
	s := ownServer(t, serverOpts{Env: []string{"GATEHOUSE_SQLITE_PATH=" + dbPath}})
	pid := s.cmd.Process.Pid
	tl, gl, stopLoad := underLoad(s, signIn(t, s, "diskfull"))
	time.Sleep(time.Second)

	filler := filepath.Join(disk, "filler")
	fh, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err = fh.Write(buf); err != nil {
			break
		}
	}
	fh.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the tmpfs ended with %v, want ENOSPC", err)
	}
	full := time.Now()
	// SQLite reuses WAL space it already has: a write or two may still
	// fit. Wait for the first refused write (bounded), then hold 3 s more.
	deadline := full.Add(20 * time.Second)
	for time.Now().Before(deadline) {
		tl.mu.Lock()
		refused := false
		for _, r := range window(tl.results, full, time.Now()) {
			refused = refused || r.status == 503
		}
		tl.mu.Unlock()
		if refused {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	freeing := time.Now()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var tokenBack time.Duration
	for time.Since(freeing) < 20*time.Second && tokenBack == 0 {
		time.Sleep(50 * time.Millisecond)
		tokenBack = firstOK(&tl.mu, &tl.results, freeing)
	}
	time.Sleep(time.Second)
	stopLoad()

	answers, gwOK := map[string]int{}, 0
	for _, r := range window(tl.results, full, freeing) {
		answers[fmt.Sprintf("%d %s", r.status, r.errc)]++
	}
	outGw := window(gl.results, full, freeing)
	for _, r := range outGw {
		if r.status == 200 {
			gwOK++
		}
	}
	if answers["503 temporarily_unavailable"] == 0 {
		t.Fatalf("no token request was refused while the disk was full: %v", answers)
	}
	for a, n := range answers {
		if a != "503 temporarily_unavailable" && a != "200 " {
			t.Errorf("token endpoint on a full disk answered %q %d times; want 503 temporarily_unavailable (or 200 while a write still fits)", a, n)
		}
	}
	if gwOK != len(outGw) || len(outGw) == 0 {
		t.Errorf("gateway served %d of %d requests while the disk was full", gwOK, len(outGw))
	}
	if lines := s.logLines("database unavailable"); !strings.Contains(strings.Join(lines, "\n"), "database or disk is full") {
		t.Errorf("no clear log line naming the full disk:\n%s", s.logTail(20))
	}
	if tokenBack == 0 {
		t.Fatalf("token endpoint did not recover within 20 s of freeing space:\n%s", s.logTail(20))
	}
	if s.cmd.Process.Pid != pid {
		t.Fatal("premise: the server was restarted")
	}
	select {
	case <-s.done:
		t.Fatal("the server exited on a full disk")
	default:
	}
	checkNoHalfWrittenGrants(t, openIntactSQLite(t, dbPath), `julianday(g.expires_at) > julianday(g.created_at) + 10.0/1440`)
	t.Logf("MEASURED: disk full (tmpfs) for %v: token answers %v, gateway %d/%d OK; first token 200 %v after freeing space, no restart; integrity_check ok",
		freeing.Sub(full).Round(time.Millisecond), answers, gwOK, len(outGw), tokenBack.Round(time.Millisecond))
}
