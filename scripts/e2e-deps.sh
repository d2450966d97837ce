#!/usr/bin/env bash
# Installs what the e2e tests need beyond Go: Node.js and npm (Debian's
# packages, only when missing) and the npm packages pinned in
# e2e/package-lock.json (`npm ci`, only when e2e/node_modules is missing or
# the lock file changed since the last install). Idempotent; called by
# scripts/test.sh when e2e/package.json exists.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "e2e-deps: $*" >&2; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then log "node/npm are missing and installing them needs root"; exit 1; fi
  log "installing nodejs and npm (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

stamp=e2e/node_modules/.package-lock.sha256
want=$(sha256sum e2e/package-lock.json | cut -d' ' -f1)
if [ -d e2e/node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
log "npm ci in e2e/ (node $(node --version))"
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
echo "$want" > "$stamp"
