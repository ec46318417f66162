#!/usr/bin/env bash
# Make sure a Docker engine answers and the locally built images exist.
#
#   source scripts/engine.sh && engine_ensure     # exports DOCKER_HOST
#   engine_stop                                   # stops the engine only if we started it
#
# Order of preference: $DOCKER_HOST if it answers, /var/run/docker.sock if it answers,
# otherwise (as root) Debian's docker.io started privately with its own socket, data-root,
# exec-root and pidfile under $TSSWARM_ENGINE_DIR (default /var/lib/tsswarm-engine).
# Idempotent: a private engine left running by an earlier run is reused.

TSSWARM_ENGINE_DIR="${TSSWARM_ENGINE_DIR:-/var/lib/tsswarm-engine}"
TSSWARM_ENGINE_RUN="${TSSWARM_ENGINE_RUN:-/run/tsswarm-engine}"
TSSWARM_ENGINE_SOCK="$TSSWARM_ENGINE_RUN/docker.sock"
ENGINE_STARTED_HERE=0

_say() { printf '[engine] %s\n' "$*" >&2; }

_answers() { # $1 = DOCKER_HOST value
  DOCKER_HOST="$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

_install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || missing+=(busybox-static)
  command -v docker >/dev/null 2>&1 || missing+=(docker.io)
  # A registry on the loopback for the pinning e2e (test/e2e/registry.test.ts; skipped without it).
  if [ ! -x /usr/bin/docker-registry ] && [ "$(id -u)" = 0 ]; then missing+=(docker-registry); fi
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      _say "missing packages: ${missing[*]} (run as root to install them)"; return 1
    fi
    _say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null || return 1
  fi
}

engine_ensure() {
  _install_packages || return 1
  if [ -n "${DOCKER_HOST:-}" ] && _answers "$DOCKER_HOST"; then
    _say "using the Docker engine at $DOCKER_HOST"
  elif _answers unix:///var/run/docker.sock; then
    export DOCKER_HOST=unix:///var/run/docker.sock
    _say "using the system Docker engine at $DOCKER_HOST"
  elif _answers "unix://$TSSWARM_ENGINE_SOCK"; then
    export DOCKER_HOST="unix://$TSSWARM_ENGINE_SOCK"
    _say "reusing the private Docker engine at $DOCKER_HOST"
  else
    if [ "$(id -u)" != 0 ]; then _say "no Docker engine answers and not root: cannot start one"; return 1; fi
    mkdir -p "$TSSWARM_ENGINE_DIR/data" "$TSSWARM_ENGINE_RUN/exec"
    [ -f "$TSSWARM_ENGINE_RUN/dockerd.pid" ] && kill "$(cat "$TSSWARM_ENGINE_RUN/dockerd.pid")" 2>/dev/null
    rm -f "$TSSWARM_ENGINE_SOCK" "$TSSWARM_ENGINE_RUN/dockerd.pid"
    _say "starting a private dockerd (socket $TSSWARM_ENGINE_SOCK, data $TSSWARM_ENGINE_DIR/data, log $TSSWARM_ENGINE_DIR/dockerd.log)"
    setsid dockerd --host "unix://$TSSWARM_ENGINE_SOCK" --data-root "$TSSWARM_ENGINE_DIR/data" \
      --exec-root "$TSSWARM_ENGINE_RUN/exec" --pidfile "$TSSWARM_ENGINE_RUN/dockerd.pid" \
      >"$TSSWARM_ENGINE_DIR/dockerd.log" 2>&1 < /dev/null &
    local i
    for i in $(seq 1 120); do
      _answers "unix://$TSSWARM_ENGINE_SOCK" && break
      sleep 0.5
    done
    if ! _answers "unix://$TSSWARM_ENGINE_SOCK"; then
      _say "dockerd did not answer within 60 s; last log lines:"; tail -20 "$TSSWARM_ENGINE_DIR/dockerd.log" >&2; return 1
    fi
    export DOCKER_HOST="unix://$TSSWARM_ENGINE_SOCK"
    ENGINE_STARTED_HERE=1
    # The benchmark's `docker swarm init` leaves docker_gwbridge behind, held by a stale
    # endpoint until the engine restarts: on our own engine, now is when it can go.
    if [ "$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = inactive ] \
      && docker network inspect docker_gwbridge >/dev/null 2>&1; then
      docker network rm docker_gwbridge >/dev/null 2>&1 && _say "removed docker_gwbridge left by an earlier benchmark's swarm"
    fi
  fi
  images_ensure
}

# tsswarm/busybox:latest — a rootfs holding Debian's static busybox (sh, httpd, wget, nc, sleep...),
# imported with `docker import` because no registry is reachable.
images_ensure() {
  if docker image inspect tsswarm/busybox:latest >/dev/null 2>&1; then return 0; fi
  _say "building image tsswarm/busybox:latest from /bin/busybox (docker import)"
  local root; root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/var/www" "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' > "$root/etc/group"
  echo '<h1>hello from tsswarm</h1>' > "$root/var/www/index.html"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - tsswarm/busybox:latest >/dev/null
  rm -rf "$root"
}

engine_stop() {
  if [ "$ENGINE_STARTED_HERE" = 1 ] && [ -f "$TSSWARM_ENGINE_RUN/dockerd.pid" ]; then
    _say "stopping the private dockerd started by this run"
    local pid; pid=$(cat "$TSSWARM_ENGINE_RUN/dockerd.pid")
    kill "$pid" 2>/dev/null
    local i; for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    # Its bridges outlive it: with no engine left on this machine they are nobody's.
    if ! pgrep -x dockerd >/dev/null 2>&1; then
      local br; for br in docker0 docker_gwbridge; do
        ip link show "$br" >/dev/null 2>&1 && ip link delete "$br" 2>/dev/null && _say "removed the $br bridge it created"
      done
    fi
  fi
}
