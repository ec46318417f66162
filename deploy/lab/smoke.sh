#!/usr/bin/env bash
# A by-hand smoke test of the lab (not part of `npm test`): as root, from the checkout,
#
#   bash deploy/lab/smoke.sh
#
# It builds, then: up 3+2 → five ready lab-* nodes; a container on lab-w1's engine answers
# lab-m1's namespace at lab-w1's address; kill lab-w1 → none of its processes left, start
# lab-w1 → ready again; partition/heal (both ways and --from); slow (or the "no netem" error);
# up twice in a row and up after a `kill -9` of the CLI mid-up (stale cleanup); down → nothing
# left. Each step prints PASS or FAIL; the exit code is the number of failures. Every wait is
# bounded. It uses only the lab's own engines (never the main engine).
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "smoke: run as root" >&2; exit 1; }

FAILS=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
lab() { node dist/deploy/lab/cli.js "$@"; }
ns() { local h=$1; shift; nsenter --net="/var/run/netns/tsswarm-lab-$h" "$@"; }
dk() { local h=$1; shift; DOCKER_HOST="unix:///run/tsswarm-lab/$h/docker.sock" docker "$@"; }
ts() { TSSWARM_HOST="unix:///var/lib/tsswarm-lab/$1/tsswarm/tsswarm.sock" node bin/tsswarm.js "${@:2}"; }
# until SECONDS CMD...: run CMD every 0.5 s until it succeeds, at most SECONDS.
until_ok() { local end=$((SECONDS + $1)); shift; while ! "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 0.5; done; }

ready_count() { ts lab-m1 node ls --format json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const n=JSON.parse(s);console.log(n.filter(x=>x.status.state==="ready"&&/^lab-/.test(x.description.hostname)).length)})'; }
node_state() { ts lab-m1 node ls --format json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const n=JSON.parse(s).find(x=>x.description.hostname===process.argv[1]);console.log(n?n.status.state:"absent")})' "$1"; }
fetch_from() { ns "$1" timeout 5 wget -qO- -T 2 "http://$2:8080/" 2>/dev/null | grep -q 'hello from tsswarm'; }
nothing_left() {
  local bad=0
  ip netns list | grep -q tsswarm-lab && { echo "  namespaces left"; bad=1; }
  ip -o link | grep -qE 'tsswlab0|tswl-|tswp-' && { echo "  links left"; bad=1; }
  iptables -S FORWARD | grep -q tsswlab0 && { echo "  FORWARD rule left"; bad=1; }
  [ -n "$(find /sys/fs/cgroup -maxdepth 4 -name 'tsswarm-lab*' 2>/dev/null)" ] && { echo "  cgroups left"; bad=1; }
  mount | grep -q tsswarm-lab && { echo "  mounts left"; bad=1; }
  [ -e /run/tsswarm-lab ] || [ -e /var/lib/tsswarm-lab ] && { echo "  dirs left"; bad=1; }
  return $bad
}

export -f ns dk ts fetch_from node_state ready_count
npm run --silent build >/dev/null || { echo "smoke: build failed" >&2; exit 1; }

echo "== up 3+2"
t0=$SECONDS
check "up --managers 3 --workers 2" lab up --managers 3 --workers 2
echo "   (up took $((SECONDS - t0)) s)"
check "node ls: 5 ready lab-* nodes" test "$(ready_count)" = 5
check "hostnames are the hosts' names" test "$(ts lab-m1 node ls | grep -c ' lab-[mw][0-9]')" = 5
check "dockerd's iptables rules live in its namespace (none for 10.214.* in the root's)" bash -c '! iptables -t nat -S | grep -q 10.214.'

echo "== a container on lab-w1 reached from lab-m1's namespace"
dk lab-w1 run -d --name smoke-web -p 8080:80 tsswarm/busybox httpd -f -p 80 -h /var/www >/dev/null
check "lab-m1 → 10.213.0.21:8080" until_ok 10 fetch_from lab-m1 10.213.0.21
check "root namespace → 10.213.0.21:8080" until_ok 10 bash -c 'timeout 5 wget -qO- -T 2 http://10.213.0.21:8080/ | grep -q hello'

echo "== kill lab-w1, start lab-w1"
lab kill lab-w1
check "no process left in lab-w1's namespace" test -z "$(ip netns pids tsswarm-lab-lab-w1)"
check "no process left in lab-w1's cgroups" bash -c '! cat $(find /sys/fs/cgroup -path "*tsswarm-lab-lab-w1*" -name cgroup.procs 2>/dev/null) /dev/null 2>/dev/null | grep -q .'
check "lab-w1 seen down by the managers" until_ok 60 bash -c "[ \"\$(node_state lab-w1)\" = down ]"
check "start lab-w1" lab start lab-w1
check "lab-w1 ready again" until_ok 60 bash -c "[ \"\$(node_state lab-w1)\" = ready ]"
dk lab-w1 start smoke-web >/dev/null
check "its container starts again on the restarted engine" until_ok 10 fetch_from lab-m1 10.213.0.21

echo "== partition / heal"
lab partition lab-w1
check "partitioned: lab-m1 cannot reach lab-w1" bash -c '! fetch_from lab-m1 10.213.0.21'
check "partitioned: lab-w1 reaches its own container" until_ok 5 fetch_from lab-w1 10.213.0.21
check "status says partitioned" bash -c 'node dist/deploy/lab/cli.js status | grep lab-w1 | grep -q partitioned'
check "lab-w1 seen down by the managers" until_ok 60 bash -c "[ \"\$(node_state lab-w1)\" = down ]"
lab heal lab-w1
check "healed: lab-m1 reaches lab-w1" until_ok 10 fetch_from lab-m1 10.213.0.21
check "lab-w1 ready again" until_ok 60 bash -c "[ \"\$(node_state lab-w1)\" = ready ]"
lab partition lab-w1 --from lab-m1
check "--from lab-m1: lab-m1 cannot reach lab-w1" bash -c '! fetch_from lab-m1 10.213.0.21'
check "--from lab-m1: lab-m2 still reaches lab-w1" until_ok 5 fetch_from lab-m2 10.213.0.21
lab heal lab-w1
check "healed" until_ok 10 fetch_from lab-m1 10.213.0.21

echo "== slow"
if out=$(lab slow lab-w1 200ms 2>&1); then
  check "status shows the delay" bash -c 'node dist/deploy/lab/cli.js status | grep lab-w1 | grep -q "delay 200ms"'
  check "slow off" lab slow lab-w1 off
else
  check "without netem: a clear error ($out)" bash -c "echo '$out' | grep -q 'the kernel has no netem (sch_netem)'"
fi

echo "== up twice in a row, then up after kill -9 of the CLI mid-up"
check "up again over a running lab" lab up --managers 3 --workers 2
check "5 ready nodes" test "$(ready_count)" = 5
node dist/deploy/lab/cli.js up >/dev/null 2>&1 & p=$!
until_ok 30 test -S /run/tsswarm-lab/lab-w2/docker.sock
kill -9 "$p"; wait "$p" 2>/dev/null
check "up after a killed up" lab up --managers 1 --workers 1
check "2 ready nodes" test "$(ready_count)" = 2

echo "== down"
check "down" lab down
check "nothing left" nothing_left
check "down again (no lab)" lab down

echo "== $FAILS failure(s)"
exit "$FAILS"
