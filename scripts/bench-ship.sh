#!/usr/bin/env bash
# npm run bench:ship [-- --runs N | --quick | --layer1-mb N --layer2-mb N]: images shipped by
# tsswarm vs `docker save | docker load` by hand, on the multi-host lab (deploy/lab, 1 manager +
# 2 workers). Not part of the test suite. As root. Builds, runs test/bench/ship-bench.ts, and
# removes the lab whatever happens.
set -uo pipefail
cd "$(dirname "$0")/.."
npm run --silent build || exit 1
trap 'node dist/deploy/lab/cli.js down >/dev/null 2>&1' EXIT
node dist/test/bench/ship-bench.js "$@"
