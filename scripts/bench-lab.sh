#!/usr/bin/env bash
# npm run bench:lab [-- --runs N | --quick | --only tsswarm|swarm | --rows R,.. | --floor-sweep]: tsswarm vs Docker Swarm on
# the multi-host lab (deploy/lab, 3 managers + 2 workers). Not part of the test suite. As root.
# Builds, runs test/bench/lab-bench.ts, and removes the lab whatever happens.
set -uo pipefail
cd "$(dirname "$0")/.."
npm run --silent build || exit 1
trap 'node dist/deploy/lab/cli.js down >/dev/null 2>&1' EXIT
node dist/test/bench/lab-bench.js "$@"
