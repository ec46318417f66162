#!/usr/bin/env bash
# npm run bench [-- --runs N | --quick]: tsswarm vs Docker Swarm vs the raw engine on one engine.
# Not part of the test suite. Provisions the engine (scripts/engine.sh) and wrk, builds, runs
# test/bench/cluster-bench.ts, and stops what it started.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
npm run --silent build || exit 1
# shellcheck source=scripts/engine.sh
source scripts/engine.sh
engine_ensure || exit 1
trap engine_stop EXIT
node dist/test/bench/cluster-bench.js "$@"
