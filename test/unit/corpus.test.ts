// The corpus of public Compose files (test/corpus/, README there): `tsswarm config` must read
// each one as Docker's reference does. The references are checked in
// (test/corpus/expected/<name>.json, made by scripts/corpus-refs.sh): `docker stack config` for
// what Swarm accepts, else Compose's `docker-compose config`. Both sides are brought to one
// comparable view of what a service runs (`serviceView`); every mapping between their ways of
// writing the same thing is one commented rule below. A difference that is not such a mapping
// fails the test unless the entry lists it as a deliberate divergence (corpus.json
// `divergences`, with its reason; README.md lists them all).

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, afterAll } from 'vitest';
import { parseDuration } from '../../common/duration.js';
import { TsswarmError, type ErrorDetail } from '../../common/errors.js';
import { loadStackFiles, parseMemory, shellSplit } from '../../common/stack/index.js';
import { builtImageName } from '../../common/spec.js';

const CORPUS = resolve(dirname(fileURLToPath(import.meta.url)), '../corpus');

export interface CorpusEntry {
  name: string;
  file: string;
  env?: Record<string, string>;
  /** what the comparison must find: `same` (default), `divergent` (only listed divergences),
   *  `needs-build` (refused for `build:` alone), `refused` (tsswarm refuses, `reason` says why),
   *  `accepted` (tsswarm reads it where both references refuse, `reason` says why) */
  expect?: 'same' | 'divergent' | 'needs-build' | 'refused' | 'accepted';
  reason?: string;
  /** deliberate divergences: a field path of the view (prefix match) and why */
  divergences?: { path: string; reason: string }[];
}

interface RefSide { tool: string; ok: boolean; config?: Compose; error?: string }
type Compose = Record<string, unknown> & { services?: Record<string, Record<string, unknown>> };
type Obj = Record<string, unknown>;

const entries = JSON.parse(readFileSync(join(CORPUS, 'corpus.json'), 'utf8')) as CorpusEntry[];
const HOME = '/home/corpus';

// ---------------------------------------------------------------------------------------------
// The comparable view. Durations become milliseconds, sizes bytes, lists that are sets are sorted,
// and what a side leaves to a default gets that default (Swarm's, which tsswarm's are).

const ns = (v: unknown): number | undefined => (v === undefined || v === null ? undefined : parseDuration(v as string));
const bytes = (v: unknown): number | undefined => (v === undefined || v === null ? undefined : parseMemory(v as string));
const num = (v: unknown): number | undefined => (v === undefined || v === null ? undefined : Number(v));
const sorted = (v: unknown): string[] | undefined => (Array.isArray(v) && v.length > 0 ? v.map(String).sort() : undefined);
const prune = (o: Obj): Obj => {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const p = prune(v as Obj);
      if (Object.keys(p).length > 0) out[k] = p;
    } else out[k] = v;
  }
  return out;
};

/** Compose writes a literal `$` as `$$` in what it prints; Swarm and tsswarm hold the value. */
function unescapeDollars(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/\$\$/g, '$');
  if (Array.isArray(v)) return v.map(unescapeDollars);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unescapeDollars(x)]));
  return v;
}

/** `command: "a b"` is split as a shell would (Compose's rule, and tsswarm's). */
const argv = (v: unknown): string[] | undefined => (v === undefined || v === null ? undefined : typeof v === 'string' ? shellSplit(v) : (v as unknown[]).map(String));

/** Environment: a list `K=V` is a map; a variable left without a value (`K:` / `- K`) and not
 *  set in the environment is not passed to the container (docker run -e K), tsswarm drops it
 *  with a warning. */
function envMap(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    for (const item of v as string[]) {
      const i = item.indexOf('=');
      if (i > 0) out[item.slice(0, i)] = item.slice(i + 1);
    }
  } else for (const [k, x] of Object.entries(v as Obj)) if (x !== null && x !== undefined) out[k] = String(x);
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Ports: one string per published port, `ip:published:target/protocol/mode`; Swarm's defaults
 *  (tcp, ingress) fill what a reference leaves out. */
function portList(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return (v as Obj[]).map((p) => `${(p.host_ip as string) ?? ''}:${p.published ?? ''}:${p.target}/${(p.protocol as string) ?? 'tcp'}/${(p.mode as string) ?? 'ingress'}`).sort();
}

/** Mounts: `type:source:target:ro|rw`. Compose 1.29 prints the short form `src:dst:mode`: a
 *  source that is a path is a bind mount, a name a volume, none an anonymous volume. */
function mountList(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return (v as (string | Obj)[]).map((m) => {
    if (typeof m === 'string') {
      const parts = m.split(':');
      const ro = parts.length === 3 && parts[2].split(',').includes('ro');
      if (parts.length === 1) return `volume::${parts[0]}:rw`;
      const type = parts[0].startsWith('/') || parts[0].startsWith('${CORPUS}') ? 'bind' : 'volume';
      return `${type}:${parts[0]}:${parts[1]}:${ro ? 'ro' : 'rw'}`;
    }
    return `${m.type as string}:${(m.source as string) ?? ''}:${m.target as string}:${m.read_only ? 'ro' : 'rw'}`;
  }).map((m) => m.replace(/(.)\/:/g, '$1:')).sort(); // `/etc/x/` is `/etc/x`
}

/** Networks: name -> sorted aliases; a service that names none (and no network_mode) is on
 *  `default`, as in Compose and Swarm. */
function networkMap(v: unknown, networkMode: unknown): Record<string, string[]> | undefined {
  if (networkMode !== undefined) return undefined;
  if (v === undefined || v === null) return { default: [] };
  const out: Record<string, string[]> = {};
  if (Array.isArray(v)) for (const n of v as string[]) out[n] = [];
  else for (const [n, x] of Object.entries(v as Obj)) out[n] = ((x as Obj | null)?.aliases as string[] | undefined ?? []).slice().sort();
  return out;
}

/** Healthcheck: a string test is `CMD-SHELL`; `NONE` or `disable: true` is disabled. */
function healthView(v: unknown): Obj | undefined {
  if (!v) return undefined;
  const h = v as Obj;
  const test = typeof h.test === 'string' ? ['CMD-SHELL', h.test] : (h.test as string[] | undefined);
  if (h.disable === true || test?.[0] === 'NONE') return { disable: true };
  return { test, interval: ns(h.interval), timeout: ns(h.timeout), start_period: ns(h.start_period), retries: num(h.retries) };
}

/** depends_on: a list means `service_started`. */
function dependsView(v: unknown): Record<string, string> | undefined {
  if (!v) return undefined;
  if (Array.isArray(v)) return Object.fromEntries((v as string[]).map((s) => [s, 'service_started']));
  const out = Object.fromEntries(Object.entries(v as Obj).map(([s, d]) => [s, ((d as Obj | null)?.condition as string) ?? 'service_started']));
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Compose's `restart:` as a restart policy (what tsswarm does with it; Swarm ignores the key,
 *  and for `always`/`unless-stopped` its default, `any`, is the same). */
function restartPolicy(restart: unknown): Obj | undefined {
  if (typeof restart !== 'string') return undefined;
  if (restart === 'always' || restart === 'unless-stopped') return { condition: 'any' };
  if (restart === 'no') return { condition: 'none' };
  const m = /^on-failure(?::(\d+))?$/.exec(restart);
  return m ? { condition: 'on-failure', max_attempts: m[1] === undefined ? undefined : Number(m[1]) } : undefined;
}

function updateView(u: Obj | undefined): Obj {
  return {
    parallelism: num(u?.parallelism) ?? 1, delay: ns(u?.delay) ?? 0, failure_action: u?.failure_action ?? 'pause',
    monitor: ns(u?.monitor) ?? 5000, max_failure_ratio: num(u?.max_failure_ratio) ?? 0, order: u?.order ?? 'stop-first',
  };
}

function resourcesView(r: Obj | undefined, svc: Obj): Obj {
  const limits = (r?.limits ?? {}) as Obj;
  const res = (r?.reservations ?? {}) as Obj;
  return {
    limits: { cpus: num(limits.cpus ?? svc.cpus), memory: bytes(limits.memory ?? svc.mem_limit) },
    reservations: { cpus: num(res.cpus), memory: bytes(res.memory ?? svc.mem_reservation), devices: res.devices },
  };
}

/** Swarm's deploy defaults: replicated, 1 replica, restart `any` after 5s without limit. */
function deployView(d: Obj | undefined, svc: Obj): Obj {
  const rp = (d?.restart_policy as Obj | undefined) ?? restartPolicy(svc.restart) ?? {};
  const mode = (d?.mode as string) ?? 'replicated';
  const placement = (d?.placement ?? {}) as Obj;
  return {
    mode,
    replicas: mode === 'global' ? undefined : num(d?.replicas) ?? 1,
    labels: envMap(d?.labels),
    restart_policy: { condition: rp.condition ?? 'any', delay: ns(rp.delay) ?? 5000, max_attempts: num(rp.max_attempts) ?? 0, window: ns(rp.window) ?? 0 },
    placement: { constraints: sorted(placement.constraints), max_replicas_per_node: num(placement.max_replicas_per_node) },
    resources: resourcesView(d?.resources as Obj | undefined, svc),
    update_config: updateView(d?.update_config as Obj | undefined),
    rollback_config: updateView(d?.rollback_config as Obj | undefined),
    endpoint_mode: d?.endpoint_mode ?? 'vip',
  };
}

/** ulimits: `nofile: 1024` is soft = hard = 1024. */
function ulimitView(v: unknown): Obj | undefined {
  if (!v) return undefined;
  return Object.fromEntries(Object.entries(v as Obj).map(([k, x]) => [k, typeof x === 'object' ? { soft: num((x as Obj).soft), hard: num((x as Obj).hard) } : { soft: num(x), hard: num(x) }]));
}

/** Capabilities: uppercase, without `CAP_`. */
const caps = (v: unknown): string[] | undefined => sorted(Array.isArray(v) ? v.map((c: string) => c.toUpperCase().replace(/^CAP_/, '')) : undefined);

/** Secrets a service mounts: `source:target`, target defaulting to /run/secrets/<source>
 *  (a relative target is under /run/secrets/). */
function secretRefs(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return (v as (string | Obj)[]).map((s) => {
    const src = typeof s === 'string' ? s : (s.source as string);
    const target = typeof s === 'string' ? undefined : (s.target as string | undefined);
    const t = target ?? src;
    return `${src}:${t.startsWith('/') ? t : `/run/secrets/${t}`}`;
  }).sort();
}

/** The keys the view covers. A reference key outside them must be one tsswarm warned about
 *  (and dropped), else the comparison fails: nothing is left out silently. */
const VIEW_KEYS = new Set([
  'image', 'command', 'entrypoint', 'environment', 'env_file', 'labels', 'ports', 'volumes', 'networks', 'network_mode',
  'healthcheck', 'depends_on', 'deploy', 'restart', 'user', 'working_dir', 'hostname', 'stop_grace_period', 'stop_signal',
  'init', 'tty', 'stdin_open', 'privileged', 'read_only', 'cap_add', 'cap_drop', 'security_opt', 'ulimits', 'shm_size',
  'logging', 'tmpfs', 'extra_hosts', 'dns', 'dns_search', 'devices', 'platform', 'runtime', 'sysctls', 'secrets',
  'pids_limit', 'mem_limit', 'mem_reservation', 'cpus', 'group_add', 'profiles', 'build',
]);

/** `build`: a string is the context; a relative context is the entry's folder's (Swarm prints it
 *  as written, Compose and tsswarm resolve it); `dockerfile: Dockerfile` is the default. */
function buildView(b: unknown): Obj | undefined {
  if (b === undefined || b === null) return undefined;
  const o = (typeof b === 'string' ? { context: b } : b) as Obj;
  const ctx = (o.context as string | undefined) ?? '.';
  const context = ctx.startsWith('/') || ctx.startsWith('${CORPUS}') || /^[a-z]+:\/\//.test(ctx) ? ctx : `\${CORPUS}/${ctx}`.replace(/\/\.\/?/g, '/').replace(/\/$/, '');
  return prune({
    context, dockerfile: o.dockerfile === 'Dockerfile' ? undefined : o.dockerfile, args: envMap(o.args), target: o.target,
    labels: envMap(o.labels), network: o.network, cache_from: sorted(o.cache_from), extra_hosts: sorted(o.extra_hosts),
  });
}

export function serviceView(raw: Obj): Obj {
  const s = raw;
  return prune({
    image: s.image,
    build: buildView(s.build),
    command: argv(s.command),
    entrypoint: argv(s.entrypoint),
    environment: envMap(s.environment),
    labels: envMap(s.labels),
    ports: portList(s.ports),
    volumes: mountList(s.volumes),
    networks: networkMap(s.networks, s.network_mode),
    network_mode: s.network_mode,
    healthcheck: healthView(s.healthcheck),
    depends_on: dependsView(s.depends_on),
    deploy: deployView(s.deploy as Obj | undefined, s),
    user: s.user, working_dir: s.working_dir, hostname: s.hostname || undefined,
    stop_grace_period: ns(s.stop_grace_period) ?? 10_000, stop_signal: s.stop_signal,
    init: s.init, tty: s.tty || undefined, stdin_open: s.stdin_open || undefined, privileged: s.privileged || undefined, read_only: s.read_only || undefined,
    cap_add: caps(s.cap_add), cap_drop: caps(s.cap_drop),
    // `apparmor:unconfined` is the older spelling of `apparmor=unconfined` (the engine takes both)
    security_opt: sorted((s.security_opt as string[] | undefined)?.map((o) => o.replace(/^(label|apparmor|seccomp|no-new-privileges|systempaths):/, '$1='))),
    ulimits: ulimitView(s.ulimits),
    shm_size: bytes(s.shm_size),
    logging: s.logging ? { driver: (s.logging as Obj).driver, options: (s.logging as Obj).options } : undefined,
    tmpfs: sorted(typeof s.tmpfs === 'string' ? [s.tmpfs] : s.tmpfs),
    extra_hosts: sorted(s.extra_hosts), dns: sorted(typeof s.dns === 'string' ? [s.dns] : s.dns),
    devices: s.devices, platform: s.platform || undefined, runtime: s.runtime, sysctls: s.sysctls,
    group_add: sorted(s.group_add), pids_limit: num(s.pids_limit),
    secrets: secretRefs(s.secrets),
  });
}

/** Top level: the networks and volumes the services use, with what changes where they live.
 *  A network's driver is not compared: tsswarm's default, `overlay`, becomes a bridge on a
 *  single host, as `bridge` does (docs/stack-files.md). */
function topView(c: Compose, used: { networks: Set<string>; volumes: Set<string> }): Obj {
  const nets: Obj = {};
  for (const n of used.networks) {
    const d = ((c.networks as Obj | undefined)?.[n] ?? {}) as Obj;
    const ext = d.external === true || (typeof d.external === 'object' && d.external !== null);
    const name = (d.name as string) ?? ((d.external as Obj | undefined)?.name as string | undefined);
    // an external object without `name` is found by its key (Compose 1.29 prints it as `name`)
    nets[n] = prune({ external: ext || undefined, name: name ?? (ext ? n : undefined), internal: d.internal || undefined });
  }
  const vols: Obj = {};
  for (const v of used.volumes) {
    const d = ((c.volumes as Obj | undefined)?.[v] ?? {}) as Obj;
    vols[v] = prune({ external: d.external === true || undefined, name: d.name ?? (d.external === true ? v : undefined), driver: d.driver && d.driver !== 'local' ? d.driver : undefined });
  }
  return { networks: nets, volumes: vols };
}

function usedBy(services: Obj[]): { networks: Set<string>; volumes: Set<string> } {
  const networks = new Set<string>();
  const volumes = new Set<string>();
  for (const s of services) {
    for (const n of Object.keys((s.networks as Obj | undefined) ?? {})) networks.add(n);
    for (const m of (s.volumes as string[] | undefined) ?? []) if (m.startsWith('volume:') && m.split(':')[1]) volumes.add(m.split(':')[1]);
  }
  return { networks, volumes };
}

function diff(a: unknown, b: unknown, path: string, out: string[]): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a as Obj), ...Object.keys(b as Obj)])) diff((a as Obj)[k], (b as Obj)[k], `${path}.${k}`, out);
    return;
  }
  out.push(`${path}: tsswarm ${JSON.stringify(a)} / reference ${JSON.stringify(b)}`);
}

// ---------------------------------------------------------------------------------------------

interface Outcome { kind: 'same' | 'divergent' | 'needs-build' | 'refused' | 'accepted'; diffs: string[]; detail: string }

function tsswarmRead(e: CorpusEntry): { stack?: Obj; warnings: ErrorDetail[]; errors?: ErrorDetail[] } {
  const dir = join(CORPUS, e.name);
  try {
    const r = loadStackFiles([e.file], { cwd: dir, env: { HOME, ...e.env } });
    // paths under the entry's folder are written as the references write them
    const stack = JSON.parse(JSON.stringify(r.stack).split(dir).join('${CORPUS}')) as Obj;
    // a stack's secrets are stored as `<stack>_<key>`, as Swarm names them: compared by key
    for (const svc of Object.values(stack.services as Record<string, Obj>)) {
      for (const sec of (svc.secrets as Obj[] | undefined) ?? []) sec.source = (sec.source as string).replace(`${stack.name as string}_`, '');
    }
    return { stack, warnings: r.warnings };
  } catch (err) {
    if (err instanceof TsswarmError) return { warnings: [], errors: err.details ?? [{ message: err.message }] };
    throw err;
  }
}

function dotenv(e: CorpusEntry): Record<string, string> {
  try {
    return Object.fromEntries(readFileSync(join(CORPUS, e.name, '.env'), 'utf8').split('\n').map((l) => /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(l.trim())).filter((m) => m !== null).map((m) => [m[1], m[2]]));
  } catch {
    return {};
  }
}

function judge(e: CorpusEntry): Outcome {
  const refs = JSON.parse(readFileSync(join(CORPUS, 'expected', `${e.name}.json`), 'utf8')) as { swarm: RefSide; compose: RefSide };
  const ref = refs.swarm.ok ? refs.swarm : refs.compose.ok ? refs.compose : undefined;
  const t = tsswarmRead(e);
  if (t.errors) {
    const errs = t.errors.filter((d) => !d.message.startsWith('note:'));
    const onlyBuild = errs.every((d) => /has no image/.test(d.message));
    return { kind: onlyBuild ? 'needs-build' : 'refused', diffs: [], detail: errs.map((d) => `${d.field ?? ''}: ${d.message}`).join('; ') };
  }
  if (!ref) return { kind: 'accepted', diffs: [], detail: `references refuse: ${refs.swarm.error?.split('\n')[0]} / ${refs.compose.error?.split('\n')[0]}` };
  const config = (ref === refs.compose ? unescapeDollars(ref.config) : ref.config) as Compose;
  const tsw = t.stack!;
  const tServices = tsw.services as Record<string, Obj>;
  // Compose 1.29 prints the services of every profile; the Compose Specification deploys those
  // without `profiles` and those of an active one (COMPOSE_PROFILES, from the environment or .env)
  const active = (e.env?.COMPOSE_PROFILES ?? dotenv(e).COMPOSE_PROFILES ?? '').split(',').filter(Boolean);
  const rServices = Object.fromEntries(Object.entries(config.services ?? {}).filter(([, s]) => {
    const p = s.profiles as string[] | undefined;
    return !p || p.length === 0 || active.includes('*') || p.some((x) => active.includes(x));
  }));
  const diffs: string[] = [];
  const warned = (field: string) => t.warnings.some((w) => w.field === field || w.field?.startsWith(`${field}.`) || w.field?.startsWith(`${field}[`));
  for (const name of new Set([...Object.keys(tServices), ...Object.keys(rServices)])) {
    const ts = tServices[name];
    const rs = rServices[name];
    if (!ts || !rs) {
      diffs.push(`services.${name}: ${ts ? 'only tsswarm' : 'only the reference'} deploys it`);
      continue;
    }
    for (const k of Object.keys(rs)) if (!VIEW_KEYS.has(k) && !warned(`services.${name}.${k}`)) diffs.push(`services.${name}.${k}: in the reference, neither compared nor warned about by tsswarm`);
    // a built service without `image` is named <project>-<service> (Compose's name; tsswarm's too)
    const named = rs.build && !rs.image ? { ...rs, image: builtImageName(tsw.name as string, name) } : rs;
    diff(serviceView(ts), serviceView(named), `services.${name}`, diffs);
  }
  const tViews = Object.values(tServices).map(serviceView);
  diff(topView(tsw as Compose, usedBy(tViews)), topView(config, usedBy(tViews)), 'top', diffs);
  const documented = (d: string) => e.divergences?.some((x) => d.startsWith(x.path));
  const undocumented = diffs.filter((d) => !documented(d));
  const kind = diffs.length === 0 ? 'same' : 'divergent';
  return { kind, diffs: undocumented, detail: `against ${ref.tool}${diffs.length ? `; ${diffs.length - undocumented.length} documented divergences` : ''}` };
}

const score: Record<string, string[]> = {};

describe('corpus of public Compose files', () => {
  it.each(entries.map((e) => [e.name, e] as const))('%s reads as the reference does', (_name, e) => {
    const o = judge(e);
    (score[o.kind] ??= []).push(e.name);
    expect(o.diffs, `${e.name}: ${o.detail}`).toEqual([]);
    expect(o.kind, `${e.name}: ${o.detail}`).toBe(e.expect ?? 'same');
    if (o.kind === 'refused' || o.kind === 'accepted') expect(e.reason?.trim().length ?? 0, `${e.name}: a refused or accepted entry says why (${o.detail})`).toBeGreaterThan(0);
    if (o.kind === 'divergent') expect(e.divergences?.length).toBeGreaterThan(0);
  });

  afterAll(() => {
    const line = ['same', 'divergent', 'needs-build', 'refused', 'accepted'].map((k) => `${k} ${score[k]?.length ?? 0}`).join(', ');
    console.log(`corpus score (${entries.length} files): ${line}`);
  });
});
