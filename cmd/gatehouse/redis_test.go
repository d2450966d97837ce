package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/workers"
)

// GATEHOUSE_REDIS_URL forms parse to the right connection kind; errors
// never repeat the URL (it may hold a password).
func TestParseRedisURL(t *testing.T) {
	good := map[string]string{
		"redis://:pw@h:6379/2": "asynq.RedisClientOpt",
		"rediss://h:6380":      "asynq.RedisClientOpt",
		"redis-sentinel://:pw@s1:26379,s2:26379/mymaster/3?sentinel_password=sp": "asynq.RedisFailoverClientOpt",
		"redis-cluster://:pw@n1:6379,n2:6379,n3:6379?tls=true":                   "asynq.RedisClusterClientOpt",
	}
	for raw, kind := range good {
		tg, err := parseRedisURL(raw)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if got := fmt.Sprintf("%T", tg.conn); got != kind {
			t.Errorf("%s: %s, want %s", raw, got, kind)
		}
	}
	tg, _ := parseRedisURL("redis-sentinel://u:pw@s1:26379,s2:26379/mymaster/3?sentinel_password=sp")
	if c := fmt.Sprintf("%+v", tg.conn); !strings.Contains(c, "MasterName:mymaster") || !strings.Contains(c, "SentinelAddrs:[s1:26379 s2:26379]") ||
		!strings.Contains(c, "DB:3") || !strings.Contains(c, "Password:pw") || !strings.Contains(c, "SentinelPassword:sp") {
		t.Errorf("sentinel options: %s", c)
	}
	for _, raw := range []string{"http://h", "redis-sentinel://s1:26379", "redis-sentinel://s1/mymaster", "redis-cluster://n1:6379/0",
		"redis-sentinel://:secretpw@s1:26379/m/x", "memcached://:secretpw@h:1"} {
		_, err := parseRedisURL(raw)
		if err == nil {
			t.Errorf("%s accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("%s: the error repeats the password: %v", raw, err)
		}
	}
	c, err := loadConfigFrom([]string{"GATEHOUSE_REDIS_URL=redis-sentinel://:secretpw@s1:26379"})
	if err == nil {
		err = c.validate()
	}
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_REDIS_URL") || strings.Contains(err.Error(), "secretpw") {
		t.Errorf("validation: %v", err)
	}
}

// Issue 13: the request-path timeouts (workers.RequestRedis) apply to every
// kind of GATEHOUSE_REDIS_URL, not only one node: a hung Sentinel master or
// Cluster node must cost a request at most 500 ms, and a refused dial is
// not retried.
func TestRequestRedisTimeoutsForEveryURLKind(t *testing.T) {
	type tuned struct {
		ctxTimeout               bool
		dial, read, write, pool  time.Duration
		retries, dialRetries, db int
	}
	want := tuned{true, workers.RequestRedisDialTimeout, workers.RequestRedisIOTimeout, workers.RequestRedisIOTimeout,
		workers.RequestRedisIOTimeout, 1, 1, 0}
	for raw, db := range map[string]int{
		"redis://:pw@127.0.0.1:1/2": 2,
		"redis-sentinel://:pw@127.0.0.1:1,127.0.0.1:2/mymaster/3?sentinel_password=sp": 3,
		"redis-cluster://:pw@127.0.0.1:1,127.0.0.1:2":                                  0,
	} {
		tg, err := parseRedisURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		c := tg.client()
		var got tuned
		switch v := c.(type) {
		case *redis.Client: // one node, or the Sentinel-found master
			o := v.Options()
			got = tuned{o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries, o.DialerRetries, o.DB}
		case *redis.ClusterClient:
			o := v.Options()
			got = tuned{o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries, o.DialerRetries, 0}
		default:
			t.Fatalf("%s: client %T", raw, c)
		}
		_ = c.Close()
		w := want
		w.db = db
		if got != w {
			t.Errorf("%s: request-path client options %+v, want %+v", raw, got, w)
		}
	}
}

// startRedisProc runs redis-server on a free port with args (from dir) and
// returns a client to it.
func startRedisProc(t *testing.T, dir string, args ...string) (int, *redis.Client) {
	t.Helper()
	port := testdb.FreePort(t)
	cmd := exec.Command("redis-server", append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, args...)...)
	if len(args) > 0 && strings.HasSuffix(args[0], ".conf") {
		cmd = exec.Command("redis-server", append(args, "--port", strconv.Itoa(port))...)
	}
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	t.Cleanup(func() { c.Close() })
	waitFor(t, "redis-server to answer", 10*time.Second, func() bool { return c.Ping(context.Background()).Err() == nil })
	return port, c
}

// waitFor polls until cond holds (testdb.Eventually).
var waitFor = testdb.Eventually

func metricValue(t *testing.T, admin, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(series) + ` ([0-9.e+]+)`).FindStringSubmatch(scrape(t, admin))
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// A real Sentinel (redis-server --sentinel) in front of a master and a
// replica: serve finds the master through it, queues audit events there,
// and after a failover follows the new master.
func TestRedisSentinel(t *testing.T) {
	dir := t.TempDir()
	masterPort, master := startRedisProc(t, dir)
	replicaPort, replica := startRedisProc(t, dir, "--replicaof", "127.0.0.1", strconv.Itoa(masterPort))
	conf := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n", masterPort)), 0o600); err != nil {
		t.Fatal(err)
	}
	sentinelPort, sentinel := startRedisProc(t, dir, conf, "--sentinel")
	ctx := context.Background()
	waitFor(t, "the sentinel to see the replica", 30*time.Second, func() bool {
		r, err := sentinel.Do(ctx, "SENTINEL", "REPLICAS", "mymaster").Slice()
		return err == nil && len(r) == 1
	})

	_, base, admin := serveReady(t, fmt.Sprintf("GATEHOUSE_REDIS_URL=redis-sentinel://127.0.0.1:%d/mymaster", sentinelPort))
	create := func(slug string) {
		t.Helper()
		if code, body := apiCall(t, "POST", base+"/api/v1/tenants", testAdminToken, `{"slug":"`+slug+`","name":"x","upstream_mcp_url":"https://mcp.example.com/mcp"}`); code != 201 {
			t.Fatalf("create %s: %d %v", slug, code, body)
		}
	}
	create("before")
	waitFor(t, "an audit event queued on the master", 10*time.Second, func() bool {
		return metricValue(t, admin, `gatehouse_audit_events_total{path="queued"}`) >= 1
	})
	if n, _ := master.Keys(ctx, "asynq:*").Result(); len(n) == 0 {
		t.Fatal("nothing of the queue on the sentinel's master")
	}
	if rd := scrape(t, admin); !strings.Contains(rd, "gatehouse_queue_up 1") {
		t.Fatal("queue not up")
	}

	// Failover: the replica becomes master, the old master its replica.
	if err := sentinel.Do(ctx, "SENTINEL", "FAILOVER", "mymaster").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failover", 30*time.Second, func() bool {
		addr, err := sentinel.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
		role, _ := master.Do(ctx, "ROLE").Slice()
		return err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(replicaPort) && len(role) > 0 && role[0] == "slave"
	})
	if role, _ := replica.Do(ctx, "ROLE").Slice(); len(role) == 0 || role[0] != "master" {
		t.Fatalf("the replica is not master: %v", role)
	}
	queued := metricValue(t, admin, `gatehouse_audit_events_total{path="queued"}`)
	// The old master is read-only now: a queued write can only succeed on
	// the new one.
	waitFor(t, "an audit event queued on the new master", 30*time.Second, func() bool {
		create(fmt.Sprintf("after-%d", time.Now().UnixNano()%1e6))
		return metricValue(t, admin, `gatehouse_audit_events_total{path="queued"}`) > queued
	})
	waitFor(t, "/readyz with the queue ok", 10*time.Second, func() bool {
		return strings.Contains(scrape(t, admin), "gatehouse_queue_up 1")
	})
}

// A real single-node Redis Cluster (all slots on one node) behind
// redis-cluster://: the queue and the bus run on it.
func TestRedisCluster(t *testing.T) {
	dir := t.TempDir()
	nodePort, node := startRedisProc(t, dir, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"))
	ctx := context.Background()
	if err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "cluster_state:ok", 20*time.Second, func() bool {
		info, err := node.ClusterInfo(ctx).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok")
	})
	_, base, admin := serveReady(t, fmt.Sprintf("GATEHOUSE_REDIS_URL=redis-cluster://127.0.0.1:%d", nodePort))
	if code, body := apiCall(t, "POST", base+"/api/v1/tenants", testAdminToken, `{"slug":"clustered","name":"x","upstream_mcp_url":"https://mcp.example.com/mcp"}`); code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	waitFor(t, "an audit event queued on the cluster", 10*time.Second, func() bool {
		return metricValue(t, admin, `gatehouse_audit_events_total{path="queued"}`) >= 1
	})
	if n, _ := node.Keys(ctx, "asynq:*").Result(); len(n) == 0 {
		t.Fatal("nothing of the queue on the cluster node")
	}
	if m := scrape(t, admin); !strings.Contains(m, "gatehouse_queue_up 1") || metricValue(t, admin, `gatehouse_audit_events_total{path="sync"}`) != 0 {
		t.Fatalf("queue on the cluster:\n%s", m)
	}
}
