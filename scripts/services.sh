#!/usr/bin/env bash
# Ensures PostgreSQL (127.0.0.1:5432, trust auth, database "test") and Redis
# (127.0.0.1:6379) are up for the tests. Idempotent: a running service is used
# as is; a stopped one is started; a missing one is installed with apt-get.
# With CI=true, a service that cannot be brought up fails the run.
set -euo pipefail

log() { echo "services: $*" >&2; }
need_apt_update=1
apt_install() {
  if [ "$(id -u)" != 0 ]; then log "cannot install $* without root"; return 1; fi
  if [ $need_apt_update = 1 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null; need_apt_update=0; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_up; then return 0; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing postgresql"
    apt_install postgresql postgresql-client
  fi
  local ver; ver=$(ls /etc/postgresql | sort -V | tail -n1)
  local conf=/etc/postgresql/$ver/main
  # Loopback trust auth, as on the CI machines.
  if ! grep -q "gatehouse-test" "$conf/pg_hba.conf" 2>/dev/null; then
    { echo "# gatehouse-test: loopback trust for the test suite";
      echo "host all all 127.0.0.1/32 trust"; echo "host all all ::1/128 trust"; echo "local all all trust"; cat "$conf/pg_hba.conf"; } > /tmp/pg_hba.$$ && mv /tmp/pg_hba.$$ "$conf/pg_hba.conf"
  fi
  log "starting postgresql $ver"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { log "postgresql did not start"; return 1; }
  psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
}

ensure_redis() {
  if command -v redis-cli >/dev/null && redis_up; then return 0; fi
  command -v redis-server >/dev/null || { log "installing redis"; apt_install redis-server; }
  mkdir -p /var/lib/redis /var/log/redis
  log "starting redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
  redis_up || { log "redis did not start"; return 1; }
}

status=0
ensure_postgres || status=1
ensure_redis || status=1
if [ $status != 0 ]; then
  if [ "${CI:-}" = "true" ]; then log "a required service is unavailable (CI=true makes this fatal)"; exit 1; fi
  log "WARNING: a service is unavailable; tests that need it will skip"
fi
