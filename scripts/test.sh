#!/usr/bin/env bash
# The whole test suite: the README's test command, and what .ci/run calls.
# Starts (or installs) PostgreSQL and Redis if needed, installs the e2e Node
# packages, then runs gofmt, go vet and go test -race on every package.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh
if [ -f e2e/package.json ]; then bash scripts/e2e-deps.sh; fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './e2e/node_modules/*'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 20m ./... "$@"
echo "== benchmarks (brief: 100 iterations each, so they cannot rot; full runs: docs/PERFORMANCE.md)"
go test -count=1 -run '^$' -bench . -benchtime=100x -benchmem \
  ./tenants/keys/ ./tenants/tokens/ ./tenants/access/ ./tenants/oauth/ ./api/httpx/ ./api/oauth/ ./api/gateway/ ./workers/
