package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/workers"
)

// redisTarget is GATEHOUSE_REDIS_URL understood: one node, Sentinel, or
// Cluster. The same target feeds asynq (queue) and the bus.
//
//	redis://[user:pass@]host:port[/db]           one node (rediss:// for TLS)
//	redis-sentinel://[user:pass@]h1:p1[,h2:p2…]/master[/db][?sentinel_password=…&sentinel_username=…&tls=true]
//	redis-cluster://[user:pass@]h1:p1[,h2:p2…][?tls=true]
type redisTarget struct {
	conn asynq.RedisConnOpt
}

// client is the connection for the bus and rate limits. Bus publishes and
// rate limits run while a request waits: bounded like the audit enqueue
// for every kind of target (a hung Redis must not stall requests;
// workers.RequestRedis).
func (t *redisTarget) client() redis.UniversalClient { return workers.RequestRedis(t.conn) }

// db is the Redis database number the target uses (a Cluster has only 0).
func (t *redisTarget) db() int {
	switch c := t.conn.(type) {
	case asynq.RedisClientOpt:
		return c.DB
	case asynq.RedisFailoverClientOpt:
		return c.DB
	}
	return 0
}

// parseRedisURL parses without connecting. Its errors never repeat the URL
// (it may hold a password).
func parseRedisURL(raw string) (*redisTarget, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL")
	}
	switch scheme {
	case "redis", "rediss":
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("is not a valid %s:// URL", scheme)
		}
		return &redisTarget{
			conn: asynq.RedisClientOpt{Addr: opt.Addr, Username: opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig},
		}, nil
	case "redis-sentinel", "redis-cluster":
	default:
		return nil, fmt.Errorf("scheme %q is not supported (redis, rediss, redis-sentinel, redis-cluster)", scheme)
	}
	// url.Parse refuses a comma-separated host list: split it off first.
	userinfo, hostpath := "", rest
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo, hostpath = rest[:at], rest[at+1:]
	}
	hosts, path, _ := strings.Cut(hostpath, "/")
	path, rawQuery, _ := strings.Cut(path, "?")
	if h, q, found := strings.Cut(hosts, "?"); found {
		hosts, rawQuery = h, q
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, errors.New("has a malformed query")
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
			return nil, errors.New("needs host:port for every node (comma-separated)")
		}
		addrs = append(addrs, h)
	}
	var user, pass string
	if userinfo != "" {
		u, err := url.Parse("x://" + userinfo + "@h")
		if err != nil {
			return nil, errors.New("has malformed credentials")
		}
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	var tlsCfg *tls.Config
	if q.Get("tls") == "true" {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if scheme == "redis-cluster" {
		if path != "" {
			return nil, errors.New("redis-cluster:// takes no database or path (a cluster has database 0 only)")
		}
		return &redisTarget{conn: asynq.RedisClusterClientOpt{Addrs: addrs, Username: user, Password: pass, TLSConfig: tlsCfg}}, nil
	}
	master, dbText, _ := strings.Cut(path, "/")
	if master == "" {
		return nil, errors.New("redis-sentinel:// needs the master name as its path (redis-sentinel://h:26379/mymaster)")
	}
	db := 0
	if dbText != "" {
		if db, err = strconv.Atoi(dbText); err != nil || db < 0 {
			return nil, errors.New("has a database number that is not a whole number")
		}
	}
	sUser, sPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	return &redisTarget{conn: asynq.RedisFailoverClientOpt{MasterName: master, SentinelAddrs: addrs, SentinelUsername: sUser,
		SentinelPassword: sPass, Username: user, Password: pass, DB: db, TLSConfig: tlsCfg}}, nil
}
