#!/usr/bin/env bash
# The whole test suite, from a fresh clone: `npm test`.
# Provisions what it needs (npm packages; as root a Docker engine when none answers, with
# Debian's docker.io and busybox-static; the locally built test image), then runs
# proto currency check, type check + build, lint, and every test (unit, simulation,
# end-to-end against the real engine). Stops what it started.
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
npx tsc -p tsconfig.json || exit 1

say "lint"
npx eslint . || exit 1

say "tests (unit, Raft simulation, end-to-end on $DOCKER_HOST)"
report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report"
status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" 2>/dev/null || echo "0 passed, 1 failed"
rm -f "$report"
exit $status
