#!/usr/bin/env bash
# Prints the path of a Node.js 24 binary, provisioning one when needed:
#   1. `node` itself when it is version 24;
#   2. a copy cached in ${TSSWARM_NODE24_DIR:-$HOME/.cache/tsswarm/node24};
#   3. otherwise the official build from the npm registry (package node-linux-<arch>@24, which
#      unpacks to bin/node), unpacked into that cache.
# Messages go to stderr; the path alone to stdout.
set -uo pipefail
say() { printf '[node24] %s\n' "$*" >&2; }

if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = 24 ]; then command -v node; exit 0; fi
dir="${TSSWARM_NODE24_DIR:-${HOME:-/root}/.cache/tsswarm/node24}"
if [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = 24 ]; then
  say "using $("$dir/bin/node" --version) cached in $dir"
  echo "$dir/bin/node"; exit 0
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) say "no official Node 24 build for $(uname -m)"; exit 1 ;;
esac
pkg="node-linux-$arch@24"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
say "fetching $pkg from the npm registry into $dir"
for attempt in 1 2 3; do
  if (cd "$tmp" && npm pack --silent "$pkg" >/dev/null 2>&1); then break; fi
  [ "$attempt" = 3 ] && { say "npm pack $pkg failed 3 times"; exit 1; }
  sleep 2
done
tgz=$(ls "$tmp"/*.tgz 2>/dev/null | head -1)
[ -n "$tgz" ] || { say "npm pack $pkg produced no archive"; exit 1; }
rm -rf "$dir" && mkdir -p "$dir" && tar -xzf "$tgz" -C "$dir" --strip-components=1 || { say "cannot unpack $tgz"; exit 1; }
chmod +x "$dir/bin/node" 2>/dev/null
"$dir/bin/node" --version >/dev/null 2>&1 || { say "the unpacked $dir/bin/node does not run"; exit 1; }
say "installed $("$dir/bin/node" --version) in $dir"
echo "$dir/bin/node"
