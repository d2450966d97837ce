#!/usr/bin/env bash
# Builds gatehouse and gatehouse-bench, starts `gatehouse serve` + `gatehouse
# worker` in Postgres + Redis mode (its own database, a spare Redis DB, spare
# loopback ports), runs every gatehouse-bench scenario and prints the table
# with its ratios (docs/PERFORMANCE.md), then stops and removes everything it
# started. Idempotent; not part of CI. Needs Postgres at 127.0.0.1:5432
# (user postgres, trust) and Redis at 127.0.0.1:6379 (scripts/services.sh).
#
#   bash scripts/bench-table.sh                      # every scenario, 20 s each
#   BENCH_TENANTS=10000 bash scripts/bench-table.sh  # plus the spread over 10,000 tenants
#
# Settings (environment): BENCH_DURATION (20s), BENCH_CONCURRENCY (32),
# BENCH_ROUNDS (4), BENCH_STREAMS (1000), BENCH_SCENARIOS (all),
# BENCH_TENANTS (0: no spread), BENCH_UPSTREAM_DELAY (0), BENCH_EXTRA (more
# gatehouse-bench flags), BENCH_DB (gatehouse_bench_table), BENCH_WORKDIR,
# BENCH_PPROF (an address: build with -tags pprof and serve pprof there),
# BENCH_LOAD (auto: wrk -t2 -cN for the one-request scenarios when wrk is
# installed, as issue 16 measured; go: the tool's own Go generator; wrk).
set -euo pipefail

cd "$(dirname "$0")/.."
duration=${BENCH_DURATION:-20s}
concurrency=${BENCH_CONCURRENCY:-32}
rounds=${BENCH_ROUNDS:-4}
streams=${BENCH_STREAMS:-1000}
scenarios=${BENCH_SCENARIOS:-all}
spread=${BENCH_TENANTS:-0}
delay=${BENCH_UPSTREAM_DELAY:-0}
load=${BENCH_LOAD:-auto}
db=${BENCH_DB:-gatehouse_bench_table}
work=${BENCH_WORKDIR:-${TMPDIR:-/tmp}/gatehouse-bench-table}
pg=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt)
rcli=(redis-cli -h 127.0.0.1 -p 6379)
owner_key=gatehouse-bench-table:owner

log() { echo "bench-table: $*" >&2; }
mkdir -p "$work"

# Stop what a previous, interrupted run left (its pids are in $work).
stop_pidfiles() {
  local f pid
  for f in "$work"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

redis_db=""
cleanup() {
  local rc=$?
  stop_pidfiles
  "${pg[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "$redis_db" ]; then "${rcli[@]}" -n "$redis_db" flushdb >/dev/null 2>&1 || true; fi
  exit $rc
}
stop_pidfiles
trap cleanup EXIT INT TERM

# A spare Redis DB: empty, or left by an earlier run of this script.
for n in 15 14 13 12 11 10 9 8; do
  size=$("${rcli[@]}" -n "$n" dbsize)
  if [ "$size" = 0 ] || [ "$("${rcli[@]}" -n "$n" get "$owner_key")" = "$db" ]; then
    redis_db=$n
    break
  fi
done
[ -n "$redis_db" ] || { log "no spare Redis DB among 8–15"; exit 1; }
"${rcli[@]}" -n "$redis_db" flushdb >/dev/null
"${rcli[@]}" -n "$redis_db" set "$owner_key" "$db" >/dev/null

# Its own database, fresh each run.
"${pg[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
"${pg[@]}" -d postgres -c "CREATE DATABASE $db" >/dev/null

# Spare loopback ports: asked of the kernel, so nothing else holds them.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); admin_port=$(free_port); worker_port=$(free_port)
while [ "$admin_port" = "$port" ]; do admin_port=$(free_port); done
while [ "$worker_port" = "$port" ] || [ "$worker_port" = "$admin_port" ]; do worker_port=$(free_port); done

log "building"
tags=()
if [ -n "${BENCH_PPROF:-}" ]; then tags=(-tags pprof); export GATEHOUSE_PPROF_ADDR=$BENCH_PPROF; fi
go build "${tags[@]}" -o "$work/gatehouse" ./cmd/gatehouse
go build -o "$work/gatehouse-bench" ./cmd/gatehouse-bench

token=gha_bench-table-$(head -c12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export GATEHOUSE_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable" \
  GATEHOUSE_REDIS_URL="redis://127.0.0.1:6379/$redis_db" \
  GATEHOUSE_SECRET_KEY="$(head -c32 /dev/urandom | base64)" \
  GATEHOUSE_ADMIN_TOKEN="$token" GATEHOUSE_ALLOW_DEV_IDP=true GATEHOUSE_DEMO_TENANT=false \
  GATEHOUSE_REFUSE_PRIVATE_UPSTREAMS=false GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32 \
  GATEHOUSE_PUBLIC_URL="http://127.0.0.1:$port" GATEHOUSE_LOG_LEVEL=warn GATEHOUSE_LOG_FORMAT=json \
  GATEHOUSE_API_REQUESTS_PER_MINUTE=10000000

GATEHOUSE_ADDR=127.0.0.1:$port GATEHOUSE_ADMIN_ADDR=127.0.0.1:$admin_port \
  "$work/gatehouse" serve >"$work/serve.log" 2>&1 &
echo $! >"$work/serve.pid"
for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
  kill -0 "$(cat "$work/serve.pid")" 2>/dev/null || { log "serve exited:"; tail -20 "$work/serve.log" >&2; exit 1; }
  sleep 0.2
done
curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null || { log "serve is not ready"; tail -20 "$work/serve.log" >&2; exit 1; }
GATEHOUSE_ADMIN_ADDR=127.0.0.1:$worker_port "$work/gatehouse" worker >"$work/worker.log" 2>&1 &
echo $! >"$work/worker.pid"

run_bench() {
  "$work/gatehouse-bench" --url "http://127.0.0.1:$port" --admin-token "$token" \
    --concurrency "$concurrency" --duration "$duration" --rounds "$rounds" --streams "$streams" \
    --metrics-url "http://127.0.0.1:$admin_port/metrics" --load "$load" "$@" ${BENCH_EXTRA:-}
}

log "serve on 127.0.0.1:$port (admin $admin_port), worker (admin $worker_port), database $db, Redis DB $redis_db"
echo "## gatehouse-bench, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo
echo "\`gatehouse-bench --concurrency $concurrency --duration $duration --rounds $rounds --streams $streams --upstream-delay $delay --scenarios $scenarios --load $load\`"
echo
run_bench --scenarios "$scenarios" --upstream-delay "$delay" --markdown
if [ "$spread" -gt 0 ]; then
  echo
  echo "### spread over $spread tenants (ratios to one tenant, same run)"
  echo
  # --keep: the database goes at the end anyway, faster than 10,000 deletes.
  run_bench --scenarios metadata,token-refresh,gateway --tenants "$spread" --keep --markdown
fi
