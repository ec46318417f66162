#!/usr/bin/env bash
# The whole test suite, from a fresh clone: `npm test`.
# Provisions what it needs (npm packages; as root a Docker engine when none answers, with
# Debian's docker.io and busybox-static; the locally built test image), then runs
# proto currency check, type check + build, lint (layers included), and every test (unit,
# simulation, end-to-end against the real engine), then the unit suite again on Node 24.
# Stops what it started.
set -uo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n== %s\n' "$*"; }

say "npm packages"
if [ ! -d node_modules ] || ! npm ls --depth=0 >/dev/null 2>&1; then
  npm ci --no-audit --no-fund || exit 1
else
  echo "node_modules is current"
fi

say "Docker engine and test images"
# shellcheck source=scripts/engine.sh
source scripts/engine.sh
engine_ensure || { echo "no Docker engine: cannot run the end-to-end tests" >&2; exit 1; }
trap 'cleanup_stale; engine_stop' EXIT

# Leftovers of earlier, interrupted runs: managers of test data dirs, their containers,
# networks and volumes (everything of stacks named e2e*), never anything else.
cleanup_stale() {
  local f pid
  for f in /tmp/tsswarm-e2e-*/manager.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f"); kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf /tmp/tsswarm-e2e-* 2>/dev/null || true
  # The private engines of test/e2e/engine-down.test.ts (own socket, data and exec roots).
  for f in /run/tsswarm-e2e-engine-*/dockerd.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f"); kill "$pid" 2>/dev/null || true
    local i; for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  done
  local m
  for m in $(awk '$5 ~ "^/(var/lib|run)/tsswarm-e2e-engine-" {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null; done
  rm -rf /var/lib/tsswarm-e2e-engine-* /run/tsswarm-e2e-engine-* 2>/dev/null || true
  for m in $(ip netns list 2>/dev/null | awk '$1 ~ /^tsw-e2e-eng-/ {print $1}'); do ip netns del "$m" 2>/dev/null; done
  local ids
  ids=$(docker ps -a --filter label=tsswarm.stack.namespace --format '{{.ID}} {{.Label "tsswarm.stack.namespace"}}' 2>/dev/null | awk '$2 ~ /^e2e/ {print $1}')
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  ids=$(docker network ls --format '{{.Name}}' 2>/dev/null | grep '^e2e')
  [ -n "$ids" ] && docker network rm $ids >/dev/null 2>&1
  ids=$(docker volume ls --format '{{.Name}}' 2>/dev/null | grep '^e2e')
  [ -n "$ids" ] && docker volume rm $ids >/dev/null 2>&1
  return 0
}
cleanup_stale

say "generated gRPC types are current"
npm run --silent proto:check || exit 1

say "type check and build"
npm run --silent build || exit 1

say "lint"
npx eslint . || exit 1

say "tests (unit, Raft simulation, end-to-end on $DOCKER_HOST) on Node $(node --version)"
report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report"
status=$?
summary() {
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
    console.log(`${process.argv[2]}: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$1" "$2" 2>/dev/null || echo "$2: 0 passed, 1 failed"
}
main_summary=$(summary "$report" "Node $(node --version), whole suite")

# The Node versions people run: the unit suite (parser, API, orchestration, Raft, simulation)
# again on Node 24, the LTS most users install, fetched from the npm registry's official
# builds (node-linux-<arch>@24) when it is not installed. The end-to-end tests run once, and
# so do the simulations' seed sweeps (deterministic, pure code: their replay tests run on both).
say "unit suite on Node 24"
node24_status=0
if node24=$(bash scripts/node24.sh); then
  "$node24" node_modules/vitest/vitest.mjs run --project unit --exclude 'test/raft/sim-a.test.ts' --exclude 'test/raft/sim-b.test.ts' --exclude 'test/raft/sim-store-b.test.ts' --reporter=default --reporter=json --outputFile.json="$report"
  node24_status=$?
  node24_summary=$(summary "$report" "Node $("$node24" --version), unit suite")
else
  node24_status=1
  node24_summary="Node 24: could not be provisioned (see above)"
fi
rm -f "$report"
printf '\n%s\n%s\n' "$main_summary" "$node24_summary"
[ "$status" -ne 0 ] && exit "$status"
exit "$node24_status"
