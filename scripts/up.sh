#!/usr/bin/env bash
# Quickstart: `npm run up` brings up a local single-host tsswarm cluster on the local Docker
# engine and deploys deploy/examples/hello. Safe to run again: it reuses what is there.
#   TSSWARM_DATA_DIR   where the manager keeps its state (default /var/lib/tsswarm as root)
#   TSSWARM_LISTEN_ADDR the gRPC address managers and agents reach (default 127.0.0.1:4242: this machine only)
#   HELLO_PORT         the example's published port (default 8080)
set -uo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n== %s\n' "$*"; }

say "npm packages and build"
if [ ! -d node_modules ] || ! npm ls --depth=0 >/dev/null 2>&1; then npm ci --no-audit --no-fund || exit 1; fi
npm run --silent build || exit 1
echo "built dist/ (the CLI is bin/tsswarm.js; \`npm link\` puts \`tsswarm\` on your PATH)"

say "Docker engine and images"
# shellcheck source=scripts/engine.sh
source scripts/engine.sh
engine_ensure || exit 1
echo "Docker engine: $DOCKER_HOST"

if [ "$(id -u)" = 0 ]; then DATA_DIR="${TSSWARM_DATA_DIR:-/var/lib/tsswarm}"; else DATA_DIR="${TSSWARM_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/tsswarm}"; fi
export TSSWARM_HOST="unix://$DATA_DIR/tsswarm.sock"
tsswarm() { node bin/tsswarm.js "$@"; }

say "tsswarm manager"
if tsswarm node ls >/dev/null 2>&1; then
  echo "a manager already answers on $TSSWARM_HOST"
else
  mkdir -p "$DATA_DIR"
  init=(); [ -f "$DATA_DIR/cluster.json" ] || init=(--init --listen-addr "${TSSWARM_LISTEN_ADDR:-127.0.0.1:4242}")
  echo "starting: tsswarm manager ${init[*]} --data-dir $DATA_DIR  (log: $DATA_DIR/manager.log)"
  DOCKER_HOST="$DOCKER_HOST" setsid node bin/tsswarm.js manager "${init[@]}" --data-dir "$DATA_DIR" >>"$DATA_DIR/manager.log" 2>&1 < /dev/null &
  for _ in $(seq 1 100); do tsswarm node ls >/dev/null 2>&1 && break; sleep 0.2; done
  tsswarm node ls >/dev/null 2>&1 || { echo "the manager did not come up; see $DATA_DIR/manager.log" >&2; tail -20 "$DATA_DIR/manager.log" >&2; exit 1; }
fi
tsswarm node ls

say "deploy deploy/examples/hello/stack.yml"
tsswarm deploy -c deploy/examples/hello/stack.yml || exit 1
tsswarm service ls

cat <<MSG

The hello stack is up: curl http://127.0.0.1:${HELLO_PORT:-8080}/
Try:
  export TSSWARM_HOST=$TSSWARM_HOST DOCKER_HOST=$DOCKER_HOST
  node bin/tsswarm.js service scale hello_web=5
  node bin/tsswarm.js stack ps hello
  node bin/tsswarm.js service logs hello_ticker --tail 5
  node bin/tsswarm.js stack rm hello
Stop the manager with: kill \$(cat $DATA_DIR/manager.pid)   (containers keep running; restart it with the same command)
MSG
