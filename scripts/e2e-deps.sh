#!/usr/bin/env bash
# Installs what the e2e tests need beyond Go, each only when missing:
#  - Node.js and npm (Debian's packages),
#  - Debian's chromium (/usr/bin/chromium: the MCP Inspector test drives it
#    with playwright-core, which never downloads a browser of its own),
#  - the npm packages pinned in e2e/package-lock.json (`npm ci
#    --prefer-offline`, only when e2e/node_modules is missing or the lock
#    file changed since the last install; the npm cache serves it offline).
# apt-get update runs at most once per call. Idempotent; called by
# scripts/test.sh when e2e/package.json exists.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "e2e-deps: $*" >&2; }

apt_updated=
apt_install() {
  if [ "$(id -u)" != 0 ]; then log "$* missing and installing it needs root (apt-get install -y $*)"; exit 1; fi
  if [ -z "$apt_updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "installing $* (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi

stamp=e2e/node_modules/.package-lock.sha256
want=$(sha256sum e2e/package-lock.json | cut -d' ' -f1)
if [ -d e2e/node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
log "npm ci in e2e/ (node $(node --version))"
(cd e2e && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
echo "$want" > "$stamp"
