#!/usr/bin/env bash
# npm run bench:raft [-- --runs N --seconds S]: tsswarm's Raft vs a private 3-member etcd on
# loopback. Not part of the test suite. Installs Debian's etcd-server when it is missing (as
# root; without it the etcd columns stay empty), builds, runs test/bench/raft-bench.ts.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/etcd ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[bench:raft] installing Debian's etcd-server (for the etcd baseline)" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq etcd-server >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq etcd-server >/dev/null; }; } \
      || echo "[bench:raft] could not install etcd-server: the etcd baseline will be missing" >&2
  else
    echo "[bench:raft] /usr/bin/etcd is missing (install etcd-server as root): the etcd baseline will be missing" >&2
  fi
fi
npm run --silent build || exit 1
exec node dist/test/bench/raft-bench.js "$@"
