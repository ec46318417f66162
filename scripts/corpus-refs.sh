#!/usr/bin/env bash
# Regenerates test/corpus/expected/<name>.json: what Docker's own tools make of each Compose
# file of the corpus (test/corpus/corpus.json), the references test/unit/corpus.test.ts
# compares `tsswarm config` with.
#
#   bash scripts/corpus-refs.sh            # every entry
#   bash scripts/corpus-refs.sh NAME...    # some
#
# Two references are recorded per file, each as the tool's output (parsed to JSON) or its
# error message:
#   swarm:   `docker stack config -c FILE` (the docker CLI, client-side: no engine is asked).
#            It reads no .env file, so the .env beside the file is exported first, as a Swarm
#            user does (`set -a; . ./.env`).
#   compose: `docker-compose -f FILE config` (Compose 1.29, Debian's docker-compose package:
#            the newest Compose that Debian ships; it reads the .env itself). It predates the
#            top-level `name:` key: when it refuses a file for that key alone, the file is
#            given to it again without that line (the name is not compared).
# Both run in a scratch copy of the entry's folder, with only PATH, HOME=/home/corpus and the
# entry's `env` set; build contexts, which the corpus does not carry, are made empty there
# (Compose 1.29 refuses a missing one). The scratch folder's path is written `${CORPUS}`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CORPUS=$ROOT/test/corpus
OUT=$CORPUS/expected
mkdir -p "$OUT"

command -v docker >/dev/null || { echo "corpus-refs: the docker CLI is needed" >&2; exit 1; }
if ! command -v docker-compose >/dev/null; then
  echo "corpus-refs: installing Debian's docker-compose (Compose 1.29)" >&2
  apt-get install -y -qq docker-compose >/dev/null
fi
SWARM_TOOL="docker stack config ($(docker version --format '{{.Client.Version}}' 2>/dev/null || echo unknown))"
COMPOSE_TOOL="docker-compose config ($(docker-compose version --short 2>/dev/null))"

SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <(node -e 'for (const e of require(process.argv[1])) console.log(e.name)' "$CORPUS/corpus.json")
fi

for name in "${names[@]}"; do
  entry=$(node -e 'const e = require(process.argv[1]).find((x) => x.name === process.argv[2]); if (!e) process.exit(1); console.log(JSON.stringify(e))' "$CORPUS/corpus.json" "$name") \
    || { echo "corpus-refs: no entry $name" >&2; exit 1; }
  file=$(node -e 'console.log(JSON.parse(process.argv[1]).file)' "$entry")
  mapfile -t envs < <(node -e 'for (const [k, v] of Object.entries(JSON.parse(process.argv[1]).env ?? {})) console.log(`${k}=${v}`)' "$entry")
  work=$SCRATCH/$name
  rm -rf "$work"
  cp -a "$CORPUS/$name" "$work"

  run_compose() { # $1: file; prints the output on stdout, the error on stderr
    (cd "$work" && env -i PATH="$PATH" HOME=/home/corpus "${envs[@]}" docker-compose -f "$1" config)
  }
  # Make the missing build contexts Compose 1.29 asks for, one at a time.
  for _ in $(seq 1 30); do
    err=$(run_compose "$file" 2>&1 >/dev/null) && break
    ctx=$(sed -n 's/^build path \(.*\) either does not exist.*/\1/p' <<<"$err" | head -1)
    [ -n "$ctx" ] || break
    mkdir -p "$ctx"
  done
  compose_file=$file
  if ! err=$(run_compose "$file" 2>&1 >/dev/null) && grep -q "'name' does not match any of the regexes" <<<"$err"; then
    compose_file=.corpus-noname.yml
    sed '/^name:/d' "$work/$file" > "$work/$compose_file"
  fi
  c_out=$SCRATCH/$name.compose.out c_err=$SCRATCH/$name.compose.err
  if run_compose "$compose_file" >"$c_out" 2>"$c_err"; then c_ok=1; else c_ok=0; fi

  s_out=$SCRATCH/$name.swarm.out s_err=$SCRATCH/$name.swarm.err
  if (cd "$work"
      dotenv=()
      if [ -f .env ]; then
        set -a; . ./.env; set +a
        while read -r k || [ -n "$k" ]; do dotenv+=("$k=${!k}"); done < <(sed -n 's/^\(export \)\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\)=.*/\2/p' .env)
      fi
      exec env -i PATH="$PATH" HOME=/home/corpus DOCKER_HOST=unix:///nonexistent.sock "${dotenv[@]}" "${envs[@]}" \
        docker stack config -c "$file") >"$s_out" 2>"$s_err"; then s_ok=1; else s_ok=0; fi

  node --input-type=module -e '
    import { readFileSync, writeFileSync } from "node:fs";
    import { parse } from "yaml";
    const [, outFile, scratch, sOk, sOut, sErr, cOk, cOut, cErr, swarmTool, composeTool, composeFile] = process.argv;
    const clean = (t) => t.split(scratch).join("${CORPUS}");
    const ref = (ok, out, err) => ok === "1"
      ? { ok: true, config: parse(clean(readFileSync(out, "utf8"))) }
      : { ok: false, error: clean(readFileSync(err, "utf8")).trim().split("\n").filter((l) => !/^WARNING|variable is not set/i.test(l)).join("\n") };
    const doc = {
      swarm: { tool: swarmTool, ...ref(sOk, sOut, sErr) },
      compose: { tool: composeTool, ...(composeFile.startsWith(".corpus-") ? { note: "top-level name: removed for Compose 1.29" } : {}), ...ref(cOk, cOut, cErr) },
    };
    writeFileSync(outFile, JSON.stringify(doc, null, 2) + "\n");
  ' "$OUT/$name.json" "$work" "$s_ok" "$s_out" "$s_err" "$c_ok" "$c_out" "$c_err" "$SWARM_TOOL" "$COMPOSE_TOOL" "$compose_file"
  echo "$name: swarm $([ $s_ok = 1 ] && echo accepts || echo refuses), compose $([ $c_ok = 1 ] && echo accepts || echo refuses)"
done
